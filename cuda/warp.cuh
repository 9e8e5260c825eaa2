// Warp-level helpers of the row kernels in cuda/ (one warp per row): the warp size, butterfly
// sum and NaN-skipping max, the global warp index and count, the lane, the grid for one warp per
// row, and float/double device math (IEEE: the build never uses fast-math). Device code only.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/cuda_common.h"

namespace shears::cuda::warp {

constexpr int kWarp = 32;
constexpr int kRowThreads = 256;  // 8 warps per block, one row per warp (grid-stride over rows)
constexpr unsigned kFullMask = 0xffffffffu;

// ---------------- device math (IEEE: the build never uses fast-math) ----------------

__device__ inline float dev_exp(float x) { return expf(x); }
__device__ inline double dev_exp(double x) { return exp(x); }
__device__ inline float dev_log(float x) { return logf(x); }
__device__ inline double dev_log(double x) { return log(x); }
__device__ inline float dev_sqrt(float x) { return sqrtf(x); }
__device__ inline double dev_sqrt(double x) { return sqrt(x); }

// Butterfly reductions: every lane ends with the same value (fp addition is commutative, so
// lane i and lane i^o compute the same sums at every level).
template <typename T>
__device__ inline T warp_sum(T v) {
  for (int o = kWarp / 2; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}
// Max skipping NaN (as fast_math::row_max: `v > m ? v : m` never picks a NaN).
template <typename T>
__device__ inline T warp_max(T v) {
  for (int o = kWarp / 2; o > 0; o >>= 1) {
    const T u = __shfl_xor_sync(kFullMask, v, o);
    v = u > v ? u : v;
  }
  return v;
}

__device__ inline int64_t global_warp() {
  return (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
}
__device__ inline int64_t warp_count() { return static_cast<int64_t>(gridDim.x) * blockDim.x / kWarp; }
__device__ inline int lane_id() { return static_cast<int>(threadIdx.x % kWarp); }

// Blocks for one warp per row over `rows` rows.
inline unsigned row_grid(int64_t rows) { return grid_for(rows * kWarp, kRowThreads); }

}  // namespace shears::cuda::warp
