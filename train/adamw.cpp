// AdamW step as one fused pass over all parameters, parallel over fixed-size chunks.
#include "train/adamw.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/ops.h"
#include "tensor/backend.h"
#include "tensor/parallel.h"
#include "train/follow_surgery.h"
#include "tensor/profile.h"

namespace shears::train {

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions opts) : groups_(std::move(groups)), opts_(opts) {
  for (auto& g : groups_) {
    std::vector<Tensor> m, v;
    for (auto& p : g.params) {
      SHEARS_CHECK(p.is_contiguous() && p.dtype() == DType::F32, "adamw", "parameters must be contiguous f32, got ",
                   shape_str(p.shape()), " ", dtype_name(p.dtype()));
      m.push_back(zeros_like(p));
      v.push_back(zeros_like(p));
    }
    m_.push_back(std::move(m));
    v_.push_back(std::move(v));
  }
}

AdamW::Coefficients AdamW::coefficients(const ParamGroup& g, int64_t t) const {
  const double bc1 = 1.0 - std::pow(opts_.beta1, double(t));
  const double bc2 = 1.0 - std::pow(opts_.beta2, double(t));
  Coefficients c;
  c.one_minus_beta1 = float(1.0 - opts_.beta1);  // not 1 - float(beta1): PyTorch's float(1 - beta)
  c.one_minus_beta2 = float(1.0 - opts_.beta2);
  c.beta1 = float(opts_.beta1);
  c.beta2 = float(opts_.beta2);
  c.step_size = float(opts_.lr * g.lr_scale / bc1);
  c.inv_sqrt_bias_correction2 = float(1.0 / std::sqrt(bc2));
  c.decay = float(1.0 - opts_.lr * g.lr_scale * g.weight_decay);
  return c;
}

// Parameters on a device: the device's AdamW kernel, one launch per parameter (same update as the
// host loop below, in the device's float arithmetic).
void AdamW::step_on_device() {
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const ParamGroup& g = groups_[gi];
    AdamWCoefficients c;
    c.lr = opts_.lr * g.lr_scale;
    c.beta1 = opts_.beta1;
    c.beta2 = opts_.beta2;
    c.eps = opts_.eps;
    c.weight_decay = g.weight_decay;
    c.bias_correction1 = 1.0 - std::pow(opts_.beta1, double(t_));
    c.bias_correction2 = 1.0 - std::pow(opts_.beta2, double(t_));
    for (size_t pi = 0; pi < g.params.size(); ++pi) {
      const Tensor& p = g.params[pi];
      Tensor grad = p.grad();
      if (!grad.defined() || p.numel() == 0) continue;
      const Device d = common_device("adamw", {&p, &grad, &m_[gi][pi], &v_[gi][pi]});
      backend_for(d).adamw_update_(p, kernels::contiguous(grad), m_[gi][pi], v_[gi][pi], c);
    }
  }
}

void AdamW::step() {
  SHEARS_PROFILE(Optimizer);
  ++t_;
  for (const ParamGroup& g : groups_)
    if (!g.params.empty() && !g.params[0].device().is_cpu()) return step_on_device();
  // One parallel loop over every element of every parameter (fixed 16384-element chunks of the
  // concatenation, so chunks may span parameters): one launch per step instead of one per tensor.
  struct Span {
    float* p;
    const float* g;
    float* m;
    float* v;
    int64_t begin;  // offset of the span's first element in the concatenation
    size_t group;
  };
  std::vector<Span> spans;
  std::vector<Tensor> grads;  // keeps contiguous copies of strided gradients alive
  std::vector<Coefficients> coef;
  int64_t total = 0;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const ParamGroup& g = groups_[gi];
    coef.push_back(coefficients(g, t_));
    for (size_t pi = 0; pi < g.params.size(); ++pi) {
      Tensor grad = g.params[pi].grad();
      if (!grad.defined() || g.params[pi].numel() == 0) continue;
      grads.push_back(kernels::contiguous(grad));
      spans.push_back({g.params[pi].data<float>(), grads.back().data<float>(), m_[gi][pi].data<float>(),
                       v_[gi][pi].data<float>(), total, gi});
      total += g.params[pi].numel();
    }
  }
  parallel_for(total, 16384, [&](int64_t b, int64_t e) {
    // the span holding element b: the last one that begins at or before it
    size_t si = size_t(std::upper_bound(spans.begin(), spans.end(), b,
                                        [](int64_t x, const Span& sp) { return x < sp.begin; }) -
                       spans.begin()) - 1;
    for (; b < e; ++si) {
      const Span& sp = spans[si];
      const int64_t end = std::min(e, si + 1 < spans.size() ? spans[si + 1].begin : total);
      const Coefficients& c = coef[sp.group];
      const float decay = c.decay, b1 = c.beta1, b2 = c.beta2, eps = float(opts_.eps);
      const float one_minus_b1 = c.one_minus_beta1, one_minus_b2 = c.one_minus_beta2;
      const float step_size = c.step_size, inv_sqrt_bc2 = c.inv_sqrt_bias_correction2;
      float* p = sp.p;
      const float* gr = sp.g;
      float* m = sp.m;
      float* v = sp.v;
      for (int64_t i = b - sp.begin, n = end - sp.begin; i < n; ++i) {
        m[i] = b1 * m[i] + one_minus_b1 * gr[i];
        v[i] = b2 * v[i] + one_minus_b2 * gr[i] * gr[i];
        p[i] = p[i] * decay - step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
      }
      b = end;
    }
  });
}

void AdamW::zero_grad() {
  for (auto& g : groups_) shears::zero_grad(g.params);
}

TensorList AdamW::state() const {
  TensorList out;
  for (size_t gi = 0; gi < groups_.size(); ++gi)
    for (size_t pi = 0; pi < groups_[gi].params.size(); ++pi) {
      out.push_back(m_[gi][pi]);
      out.push_back(v_[gi][pi]);
    }
  return out;
}

void AdamW::apply_slices(const nn::Module& model, const std::vector<nn::ParameterSlice>& slices) {
  follow_slices(model, slices, groups_, {&m_, &v_}, "adamw.apply_slices");
}

std::vector<ParamGroup> decay_groups(const nn::Module& model, double weight_decay,
                                     const std::vector<std::string>& no_decay) {
  ParamGroup decay{{}, weight_decay, 1.0, {}}, plain{{}, 0.0, 1.0, {}};
  for (auto& [name, p] : model.named_parameters()) {
    bool skip = p.dim() <= 1;
    for (auto& n : no_decay)
      if (name == n || (name.size() > n.size() && name.compare(name.size() - n.size() - 1, std::string::npos, "." + n) == 0))
        skip = true;
    (skip ? plain : decay).params.push_back(p);
    (skip ? plain : decay).names.push_back(name);
  }
  return {decay, plain};
}

}  // namespace shears::train
