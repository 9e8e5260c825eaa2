// Float64 central-difference gradient check (see gradcheck.h). The scalar objective is
// F(x) = sum(f(x) * w), summed in long double so that rounding in the many unchanged
// terms does not drown the O(h) difference being measured.
#include "autograd/gradcheck.h"

#include <cmath>
#include <iomanip>
#include <sstream>

#include "autograd/ops.h"

namespace shears {

namespace {
long double objective(const Tensor& y, const std::vector<double>& w) {
  std::vector<double> v = kernels::to_dtype(y, DType::F64).to_vector<double>();
  long double s = 0;
  for (size_t i = 0; i < v.size(); ++i) s += static_cast<long double>(v[i]) * w[i];
  return s;
}
}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const TensorList&)>& f, const TensorList& inputs,
                          const GradcheckOptions& opts) {
  TensorList leaves;
  for (const Tensor& x : inputs) {
    if (!x.defined() || !is_floating(x.dtype())) {
      leaves.push_back(x);
      continue;
    }
    SHEARS_CHECK(x.dtype() == DType::F64, "gradcheck", "inputs must be f64 for a meaningful check, got ",
                 dtype_name(x.dtype()), " of shape ", shape_str(x.shape()));
    Tensor leaf = kernels::clone(x);
    leaf.set_requires_grad(true);
    leaves.push_back(leaf);
  }
  // Analytic gradients of F = sum(f(x) * w).
  Tensor y = f(leaves);
  SHEARS_CHECK(y.dtype() == DType::F64, "gradcheck", "f must return f64, got ", dtype_name(y.dtype()));
  Generator gen(opts.seed);
  Tensor w = randn(y.shape(), DType::F64, &gen).to(y.device());
  std::vector<double> wv = w.to_vector<double>();
  GradcheckResult res;
  if (!y.requires_grad()) {
    res.report = "f(x) does not depend on any input that requires grad";
    return res;
  }
  backward(sum(mul(y, w)));

  res.ok = true;
  std::ostringstream report;
  for (size_t i = 0; i < leaves.size(); ++i) {
    Tensor leaf = leaves[i];
    if (!leaf.defined() || !leaf.requires_grad()) continue;
    Tensor g = leaf.grad();
    std::vector<double> analytic =
        g.defined() ? g.to_vector<double>() : std::vector<double>(size_t(leaf.numel()), 0.0);
    // leaf is a contiguous clone: element j is set in place (on a device through a one-element view)
    const bool on_host = leaf.device().is_cpu();
    double* data = on_host ? leaf.data<double>() : nullptr;
    const std::vector<double> start = on_host ? std::vector<double>() : leaf.to_vector<double>();
    const Tensor flat = kernels::reshape(leaf, {leaf.numel()});
    auto set = [&](int64_t j, double v) {
      if (on_host) data[j] = v;
      else kernels::fill_(kernels::narrow(flat, 0, j, 1), v);
    };
    NoGradGuard no_grad;
    for (int64_t j = 0; j < leaf.numel(); ++j) {
      const double orig = on_host ? data[j] : start[size_t(j)];
      set(j, orig + opts.step);
      long double fp = objective(f(leaves), wv);
      set(j, orig - opts.step);
      long double fm = objective(f(leaves), wv);
      set(j, orig);
      double numeric = static_cast<double>((fp - fm) / (2.0L * opts.step));
      double a = analytic[size_t(j)];
      double denom = std::max({std::fabs(a), std::fabs(numeric), opts.abs_floor});
      double err = std::fabs(a - numeric) / denom;
      if (!(err <= res.max_rel_error)) {  // also catches NaN
        res.max_rel_error = std::isnan(err) ? INFINITY : err;
        report.str("");
        report << std::setprecision(10) << "worst: input " << i << " element " << j << " analytic " << a
               << " numeric " << numeric << " rel error " << err;
      }
    }
  }
  res.ok = res.max_rel_error <= opts.tolerance;
  res.report = report.str();
  return res;
}

}  // namespace shears
