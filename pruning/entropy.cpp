// Shannon/Rényi entropy of probability rows and of attention maps (see entropy.h).
//
// Numerics (q = p / sum p, t = alpha - 1, zero entries skipped):
//  - |t| <= 1/4:  ln sum q^a = ln sum q e^{t ln q} = log1p(sum q expm1(t ln q)), so
//    H_a = -log1p(S) / t. Every term q expm1(t ln q) has the sign of -t (ln q <= 0): the sum has no
//    cancellation and H_a is accurate to rounding however close a is to 1 (t = 0 is Shannon).
//  - otherwise: log-sum-exp around the largest entry, ln sum q^a = a ln(pmax / sum) + ln sum r^a with
//    r = p / pmax in [0, 1], so the sum lies in [1, n] and cannot overflow or underflow to 0.
//  - a = +inf: ln sum - ln pmax;  a = 0: ln(number of non-zero entries).
// Probabilities on a device are scored there: the backend's row_entropy kernel (tensor/backend.h;
// cuda/entropy.cu) evaluates the same branches in double per row, and the head mean, the casts and
// the reshapes are kernels:: ops, so the results stay on the device (no copy to the host).
#include "pruning/entropy.h"

#include <cmath>
#include <vector>

#include "tensor/backend.h"
#include "tensor/creation.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"

namespace shears::pruning {

namespace {

constexpr double kSeriesBand = 0.25;

void check_order(double alpha, const char* op) {
  SHEARS_CHECK(alpha >= 0.0, op, "Rényi order alpha must be >= 0 (1 = Shannon, inf = min-entropy), got ", alpha);
}

// r^a for r in (0, 1]. Small integer and half-integer orders (2a an integer <= 17) go by multiplication
// and one sqrt, exact enough and much faster than pow (measured: renyi:0.5 scores of DeiT-S took
// 7.6% of a pruned forward with pow). `half_steps` = 2a for those orders, else 0.
inline double power(double r, double alpha, int half_steps) {
  if (half_steps > 0) {
    double y = half_steps % 2 ? std::sqrt(r) : 1.0;
    for (int k = 0; k < half_steps / 2; ++k) y *= r;
    return y;
  }
  return std::pow(r, alpha);
}

// Calls row(i, values, n) for each of `rows` rows of a contiguous (rows, n) view of `x` converted to
// double; the rows are independent, so results do not depend on the chunking. Host tensors only:
// the public functions send probabilities that live on a device to device_row_entropy below.
template <typename F>
void for_each_row_f64(const Tensor& x, int64_t rows, int64_t n, const char* op, F&& row) {
  Tensor c = kernels::contiguous(x);
  SHEARS_DISPATCH_FLOAT(c.dtype(), op, [&] {
    using T = scalar_t;
    const T* base = c.data<T>();
    parallel_for(rows, grain_for(8 * n), [&](int64_t r0, int64_t r1) {
      std::vector<double> buf(static_cast<size_t>(n));
      for (int64_t r = r0; r < r1; ++r) {
        const T* src = base + r * n;
        for (int64_t j = 0; j < n; ++j) buf[size_t(j)] = static_cast<double>(src[j]);
        row(r, buf.data());
      }
    });
  });
}

Tensor from_doubles(const std::vector<double>& v, const Shape& shape, DType dtype) {
  Tensor out = Tensor::empty(shape, dtype);
  SHEARS_DISPATCH_FLOAT(dtype, "entropy", [&] {
    using T = scalar_t;
    T* o = out.data<T>();
    for (size_t i = 0; i < v.size(); ++i) o[i] = static_cast<T>(v[i]);
  });
  return out;
}

void check_attention(const Tensor& probs, const AttentionEntropyOptions& opts, const char* op) {
  SHEARS_CHECK(probs.dim() == 4, op, "expected attention probabilities probs of shape (B, H, N, N), got ",
               shape_str(probs.shape()));
  SHEARS_CHECK(is_floating(probs.dtype()), op, "expected probs of dtype f32 or f64, got ", dtype_name(probs.dtype()));
  SHEARS_CHECK(!opts.exclude_cls_key || probs.size(3) >= 2, op,
               "exclude_cls_key needs at least 2 keys, probs has shape ", shape_str(probs.shape()));
  check_order(opts.renyi_order, op);
}

// Device tensors: the entropies of the entries [skip, n) of each row of x viewed as a contiguous
// (rows, n) tensor, computed by x's backend -> f64 (rows,) on x's device.
Tensor device_row_entropy(const Tensor& x, int64_t rows, int64_t n, double alpha, int64_t skip, const char* op) {
  Tensor c = kernels::contiguous(kernels::reshape(x, {rows, n}));
  return backend_for(x.device()).row_entropy(c, alpha, skip, op);
}

// Row entropies of (B, H, N, K) as doubles, row-major over (B, H, N).
std::vector<double> row_entropies(const Tensor& probs, const AttentionEntropyOptions& opts, const char* op) {
  const int64_t K = probs.size(3);
  const int64_t rows = probs.numel() / (K > 0 ? K : 1);
  std::vector<double> h(static_cast<size_t>(rows));
  const int64_t skip = opts.exclude_cls_key ? 1 : 0;
  for_each_row_f64(probs, rows, K, op, [&](int64_t r, const double* p) {
    h[size_t(r)] = renyi_entropy(p + skip, K - skip, opts.renyi_order, op);
  });
  return h;
}

}  // namespace

double renyi_entropy(const double* p, int64_t n, double alpha, const char* op) {
  check_order(alpha, op);
  double sum = 0.0, pmax = 0.0;
  int64_t support = 0;
  for (int64_t j = 0; j < n; ++j) {
    const double v = p[j];
    SHEARS_CHECK(v >= 0.0, op, "probabilities must be non-negative, got ", v, " at position ", j, " of a row of ", n);
    sum += v;
    if (v > pmax) pmax = v;
    if (v > 0.0) ++support;
  }
  SHEARS_CHECK(std::isfinite(sum), op, "probabilities must be finite, a row of ", n, " sums to ", sum);
  if (sum == 0.0) return 0.0;
  const double log_sum = std::log(sum);
  if (std::isinf(alpha)) return log_sum - std::log(pmax);
  if (alpha == 0.0) return std::log(static_cast<double>(support));

  const double t = alpha - 1.0;
  if (std::fabs(t) <= kSeriesBand) {
    double s = 0.0, shannon = 0.0;
    for (int64_t j = 0; j < n; ++j) {
      if (p[j] <= 0.0) continue;
      const double q = p[j] / sum;
      const double log_q = std::log(p[j]) - log_sum;
      if (t == 0.0) shannon -= q * log_q;
      else s += q * std::expm1(t * log_q);
    }
    return t == 0.0 ? shannon : -std::log1p(s) / t;
  }
  const int half_steps = (2.0 * alpha == std::floor(2.0 * alpha) && alpha <= 8.5) ? static_cast<int>(2.0 * alpha) : 0;
  const double inv_max = 1.0 / pmax;
  double acc = 0.0;  // sum of (p / pmax)^alpha, in [1, n]
  for (int64_t j = 0; j < n; ++j)
    if (p[j] > 0.0) acc += power(p[j] * inv_max, alpha, half_steps);
  return (alpha * (std::log(pmax) - log_sum) + std::log(acc)) / (1.0 - alpha);
}

double shannon_entropy(const double* p, int64_t n) { return renyi_entropy(p, n, 1.0, "shannon_entropy"); }

Tensor renyi_entropy(const Tensor& probs, double alpha) {
  const char* op = "renyi_entropy";
  SHEARS_CHECK(probs.dim() >= 1, op, "expected probs with at least one dim (rows on the last), got a 0-d tensor");
  SHEARS_CHECK(is_floating(probs.dtype()), op, "expected probs of dtype f32 or f64, got ", dtype_name(probs.dtype()));
  check_order(alpha, op);
  const int64_t n = probs.size(-1);
  Shape out_shape(probs.shape().begin(), probs.shape().end() - 1);
  const int64_t rows = shape_numel(out_shape);
  if (!probs.device().is_cpu())
    return kernels::to_dtype(kernels::reshape(device_row_entropy(probs, rows, n, alpha, 0, op), out_shape),
                             probs.dtype());
  std::vector<double> h(static_cast<size_t>(rows), 0.0);
  if (n > 0)
    for_each_row_f64(probs, rows, n, op, [&](int64_t r, const double* p) { h[size_t(r)] = renyi_entropy(p, n, alpha, op); });
  return from_doubles(h, out_shape, probs.dtype());
}

Tensor shannon_entropy(const Tensor& probs) { return renyi_entropy(probs, 1.0); }

Tensor attention_row_entropy(const Tensor& probs, const AttentionEntropyOptions& opts) {
  const char* op = "attention_row_entropy";
  check_attention(probs, opts, op);
  if (!probs.device().is_cpu()) {
    const int64_t B = probs.size(0), H = probs.size(1), N = probs.size(2), K = probs.size(3);
    Tensor h = device_row_entropy(probs, B * H * N, K, opts.renyi_order, opts.exclude_cls_key ? 1 : 0, op);
    return kernels::to_dtype(kernels::reshape(h, {B, H, N}), probs.dtype());
  }
  return from_doubles(row_entropies(probs, opts, op), {probs.size(0), probs.size(1), probs.size(2)}, probs.dtype());
}

Tensor head_mean_attention_entropy(const Tensor& probs, const AttentionEntropyOptions& opts) {
  const char* op = "head_mean_attention_entropy";
  check_attention(probs, opts, op);
  const int64_t B = probs.size(0), H = probs.size(1), N = probs.size(2);
  if (!probs.device().is_cpu()) {
    if (H == 0) return zeros({B, N}, probs.dtype(), probs.device());  // as the host: no heads, mean 0
    const int64_t K = probs.size(3);
    Tensor h = device_row_entropy(probs, B * H * N, K, opts.renyi_order, opts.exclude_cls_key ? 1 : 0, op);
    Tensor mean = kernels::reduce(kernels::ReduceOp::Mean, kernels::reshape(h, {B, H, N}), {1}, false);
    return kernels::to_dtype(mean, probs.dtype());
  }
  std::vector<double> h = row_entropies(probs, opts, op);
  std::vector<double> mean(static_cast<size_t>(B * N), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < N; ++i) {
      double s = 0.0;
      for (int64_t k = 0; k < H; ++k) s += h[size_t((b * H + k) * N + i)];
      mean[size_t(b * N + i)] = H > 0 ? s / double(H) : 0.0;
    }
  return from_doubles(mean, {B, N}, probs.dtype());
}

Tensor entropy_of_head_mean_attention(const Tensor& probs, const AttentionEntropyOptions& opts) {
  const char* op = "entropy_of_head_mean_attention";
  check_attention(probs, opts, op);
  const int64_t B = probs.size(0), N = probs.size(2), K = probs.size(3);
  Tensor avg = kernels::reduce(kernels::ReduceOp::Mean, kernels::to_dtype(probs, DType::F64), {1}, false);  // (B, N, K)
  if (!probs.device().is_cpu()) {
    Tensor h = device_row_entropy(avg, B * N, K, opts.renyi_order, opts.exclude_cls_key ? 1 : 0, op);
    return kernels::to_dtype(kernels::reshape(h, {B, N}), probs.dtype());
  }
  std::vector<double> h = row_entropies(kernels::reshape(avg, {B, 1, N, K}), opts, op);
  return from_doubles(h, {B, N}, probs.dtype());
}

}  // namespace shears::pruning
