// CUDA kernel of the Rényi entropies of probability rows (Backend::row_entropy): the device mirror
// of pruning::renyi_entropy(const double* p, n, alpha) in pruning/entropy.cpp, row by row. One
// warp per row; every value is converted to double and every sum accumulates in double, with the
// host's branches: a zero-sum row has entropy 0, alpha = +inf is ln sum - ln pmax, alpha = 0 is
// ln(support), |alpha - 1| <= 1/4 is the log1p/expm1 series (Shannon at alpha = 1), and any other
// order a log-sum-exp around the row's largest entry (small integer and half-integer orders by
// multiplication). Only the summation order differs from the host (a warp's lanes, then a
// butterfly), so results agree to rounding. The first bad row (lowest row; in it, the first
// negative or NaN entry, else a non-finite sum) is recorded in a device flag that is copied back
// once; the error then names it with the host's wording.
#include <cuda_runtime.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_common.h"
#include "tensor/kernels.h"

namespace shears::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kRows = 8;                // warps (rows) of a (32, 8) block
constexpr double kSeriesBand = 0.25;   // as pruning/entropy.cpp

// Butterfly all-reduce over the warp: every lane ends with the same (bitwise) result.
__device__ inline double warp_sum(double v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ inline double warp_max(double v) {
  for (int o = kWarp / 2; o > 0; o /= 2) {
    const double w = __shfl_xor_sync(0xffffffffu, v, o);
    v = w > v ? w : v;
  }
  return v;
}
__device__ inline long long warp_sum(long long v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ inline unsigned long long warp_min(unsigned long long v) {
  for (int o = kWarp / 2; o > 0; o /= 2) {
    const unsigned long long w = __shfl_xor_sync(0xffffffffu, v, o);
    v = w < v ? w : v;
  }
  return v;
}

// r^a for r in (0, 1], as the host's power(): 2a = half_steps > 0 by multiplication and one sqrt.
__device__ inline double power(double r, double alpha, int half_steps) {
  if (half_steps > 0) {
    double y = half_steps % 2 ? sqrt(r) : 1.0;
    for (int k = 0; k < half_steps / 2; ++k) y *= r;
    return y;
  }
  return pow(r, alpha);
}

// x: contiguous (rows, n); row r's entries [skip, n) are its m = n - skip probabilities. out: (rows,)
// f64. first_bad: min over bad rows of r * (m + 1) + j, j the first negative/NaN position or m for a
// non-finite sum (ULLONG_MAX when every row is good).
template <typename T>
__global__ void row_entropy_kernel(const T* __restrict__ x, int64_t rows, int64_t n, int64_t skip, double alpha,
                                   int half_steps, double* __restrict__ out, unsigned long long* first_bad) {
  const int lane = static_cast<int>(threadIdx.x);
  const int64_t m = n - skip;
  for (int64_t r = blockIdx.x * int64_t(kRows) + threadIdx.y; r < rows; r += int64_t(gridDim.x) * kRows) {
    const T* p = x + r * n + skip;
    double sum = 0.0, pmax = 0.0;
    long long support = 0;
    unsigned long long bad = ULLONG_MAX;
    for (int64_t j = lane; j < m; j += kWarp) {
      const double v = static_cast<double>(p[j]);
      if (!(v >= 0.0) && bad == ULLONG_MAX) bad = static_cast<unsigned long long>(j);
      sum += v;
      if (v > pmax) pmax = v;
      if (v > 0.0) ++support;
    }
    bad = warp_min(bad);
    sum = warp_sum(sum);
    pmax = warp_max(pmax);
    support = warp_sum(support);
    const unsigned long long key0 = static_cast<unsigned long long>(r) * static_cast<unsigned long long>(m + 1);
    if (bad != ULLONG_MAX || !isfinite(sum)) {  // uniform across the warp
      if (lane == 0) {
        atomicMin(first_bad, key0 + (bad != ULLONG_MAX ? bad : static_cast<unsigned long long>(m)));
        out[r] = NAN;
      }
      continue;
    }
    double h = 0.0;
    if (sum != 0.0) {
      const double log_sum = log(sum);
      if (isinf(alpha)) {
        h = log_sum - log(pmax);
      } else if (alpha == 0.0) {
        h = log(static_cast<double>(support));
      } else {
        const double t = alpha - 1.0;
        if (fabs(t) <= kSeriesBand) {
          double s = 0.0, shannon = 0.0;
          for (int64_t j = lane; j < m; j += kWarp) {
            const double v = static_cast<double>(p[j]);
            if (v <= 0.0) continue;
            const double q = v / sum;
            const double log_q = log(v) - log_sum;
            if (t == 0.0) shannon -= q * log_q;
            else s += q * expm1(t * log_q);
          }
          h = t == 0.0 ? warp_sum(shannon) : -log1p(warp_sum(s)) / t;
        } else {
          const double inv_max = 1.0 / pmax;
          double acc = 0.0;  // sum of (p / pmax)^alpha, in [1, m]
          for (int64_t j = lane; j < m; j += kWarp) {
            const double v = static_cast<double>(p[j]);
            if (v > 0.0) acc += power(v * inv_max, alpha, half_steps);
          }
          acc = warp_sum(acc);
          h = (alpha * (log(pmax) - log_sum) + log(acc)) / (1.0 - alpha);
        }
      }
    }
    if (lane == 0) out[r] = h;
  }
}

// Copies `count` values of type T from the device to the host (the error path only).
template <typename T> std::vector<T> read_values(const T* device_p, int64_t count) {
  std::vector<T> v(static_cast<size_t>(count));
  if (count > 0) SHEARS_CUDA_CHECK(cudaMemcpy(v.data(), device_p, sizeof(T) * v.size(), cudaMemcpyDeviceToHost));
  return v;
}

}  // namespace

// x: contiguous (rows, n) f32/f64 -> f64 (rows,): the entropy of each row's entries [skip, n).
Tensor CudaBackend::row_entropy(const Tensor& x, double alpha, int64_t skip, const char* op) {
  SHEARS_CHECK(x.dim() == 2 && x.is_contiguous(), op, "row_entropy expects a contiguous (rows, n) tensor, got shape ",
               shape_str(x.shape()), " with strides ", shape_str(x.strides()));
  SHEARS_CHECK(alpha >= 0.0, op, "Rényi order alpha must be >= 0 (1 = Shannon, inf = min-entropy), got ", alpha);
  const int64_t rows = x.size(0), n = x.size(1);
  SHEARS_CHECK(skip >= 0 && skip <= n, op, "cannot skip ", skip, " leading entries of rows of ", n);
  const int64_t m = n - skip;
  set_device(x);
  Tensor out = Tensor::empty({rows}, DType::F64, x.device());
  if (rows == 0) return out;
  const int half_steps =
      (2.0 * alpha == std::floor(2.0 * alpha) && alpha <= 8.5) ? static_cast<int>(2.0 * alpha) : 0;
  SHEARS_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    Tensor flag = Tensor::empty({1}, DType::I64, x.device());
    auto* fp = static_cast<unsigned long long*>(flag.raw_data());
    SHEARS_CUDA_CHECK(cudaMemsetAsync(fp, 0xff, sizeof(unsigned long long), 0));
    const T* xp = dptr<T>(x);
    row_entropy_kernel<T><<<grid_for(rows, kRows), dim3(kWarp, kRows)>>>(xp, rows, n, skip, alpha, half_steps,
                                                                         dptr<double>(out), fp);
    check_launch(op);
    unsigned long long key = 0;
    SHEARS_CUDA_CHECK(cudaMemcpy(&key, fp, sizeof(key), cudaMemcpyDeviceToHost));
    if (key == ULLONG_MAX) return;
    const int64_t r = static_cast<int64_t>(key / static_cast<unsigned long long>(m + 1));
    const int64_t j = static_cast<int64_t>(key % static_cast<unsigned long long>(m + 1));
    const T* row = xp + r * n + skip;
    if (j < m) {
      const double v = static_cast<double>(read_values(row + j, 1)[0]);
      fail(op, "probabilities must be non-negative, got ", v, " at position ", j, " of a row of ", m);
    }
    double sum = 0.0;  // the host's sum, in its order
    for (T v : read_values(row, m)) sum += static_cast<double>(v);
    fail(op, "probabilities must be finite, a row of ", m, " sums to ", sum);
  });
  return out;
}

}  // namespace shears::cuda
