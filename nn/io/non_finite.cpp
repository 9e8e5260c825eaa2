// First non-finite value of a tensor list and the save guard built on it (see non_finite.h).
#include "nn/io/non_finite.h"

#include <cmath>
#include <filesystem>

#include "tensor/kernels.h"

namespace shears::nn {
namespace {
constexpr int64_t kChunk = 4096;

// Index of the first non-finite element of p[0..n), or -1. Each chunk is screened with a sum of
// x * 0 (0 for finite x, NaN for NaN/inf; vectorizes), and only a poisoned chunk is scanned.
template <typename T>
int64_t first_bad(const T* p, int64_t n) {
  for (int64_t lo = 0; lo < n; lo += kChunk) {
    const int64_t hi = std::min(n, lo + kChunk);
    T acc = 0;
    for (int64_t i = lo; i < hi; ++i) acc += p[i] * T(0);
    if (acc == T(0)) continue;
    for (int64_t i = lo; i < hi; ++i)
      if (!std::isfinite(p[i])) return i;
  }
  return -1;
}
}  // namespace

std::string value_text(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return str_cat(v);
}

namespace {
// Whether every float tensor on a device is finite: the sums of x * 0 of all of them added on the
// device (NaN as soon as one element is NaN or inf), one value read back.
bool device_tensors_finite(const std::vector<std::pair<std::string, Tensor>>& tensors) {
  namespace K = kernels;
  Tensor total;
  for (const auto& [name, t] : tensors) {
    if (!t.defined() || t.device().is_cpu() || (t.dtype() != DType::F32 && t.dtype() != DType::F64)) continue;
    Tensor s = K::reduce(K::ReduceOp::Sum, K::to_dtype(K::binary_scalar(K::BinaryOp::Mul, t, 0.0), DType::F64), {},
                         false);
    total = total.defined() ? K::binary(K::BinaryOp::Add, total, s) : s;
  }
  return !total.defined() || total.item<double>() == 0.0;
}
}  // namespace

std::optional<NonFiniteValue> first_non_finite(const std::vector<std::pair<std::string, Tensor>>& tensors) {
  const bool skip_device = device_tensors_finite(tensors);  // else: scan the device tensors on the host
  for (const auto& [name, t] : tensors) {
    if (!t.defined() || (skip_device && !t.device().is_cpu())) continue;
    if (t.dtype() != DType::F32 && t.dtype() != DType::F64) continue;
    const Tensor c = kernels::contiguous(t.cpu());
    const int64_t i = c.dtype() == DType::F32 ? first_bad(c.data<float>(), c.numel())
                                              : first_bad(c.data<double>(), c.numel());
    if (i >= 0)
      return NonFiniteValue{name, i, c.dtype() == DType::F32 ? double(c.data<float>()[i]) : c.data<double>()[i]};
  }
  return std::nullopt;
}

void refuse_non_finite(const char* op, const std::string& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors) {
  const auto bad = first_non_finite(tensors);
  if (!bad) return;
  std::error_code ec;
  const bool previous = std::filesystem::exists(path, ec);
  fail(op, path, ": refusing to save non-finite weights: tensor '", bad->tensor, "' holds ", value_text(bad->value),
       " at element ", bad->index, " (the run diverged); ",
       previous ? "the previous file at " + path + " is kept" : std::string("no file was written"));
}

}  // namespace shears::nn
