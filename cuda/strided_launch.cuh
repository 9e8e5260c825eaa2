// Launching an elementwise functor over N strided (and broadcast) operands of one shape: the host
// merges dims contiguous in every operand and drops size-1 dims, then one grid-stride kernel walks
// the elements with one index decomposition per element (32-bit below 2^32 elements, no division
// at all when every operand is laid out like a contiguous output). Used by cuda/elementwise.cu.
#pragma once
#include <array>
#include <cstdint>

#include "cuda/cuda_common.h"

namespace shears::cuda::strided {

constexpr int kThreads = 256;

// ---------------------------------------------------------------------------------------------
// Iteration: N operands (operand 0 is the one written) share one shape and have their own element
// strides. The host merges dims that are contiguous in every operand (and drops size-1 dims), as
// the host's for_each_row does, so that a broadcast bias add or a strided view costs one or two
// index divisions per element instead of one per dim. All operands laid out like a contiguous
// output take the fast path (offset = linear index); below 2^32 elements the index arithmetic is
// 32-bit.
// ---------------------------------------------------------------------------------------------
template <int N>
struct Walk {
  int nd = 0;
  bool linear = false;  // every operand: element i at offset i
  bool narrow = false;  // the element count fits 32-bit index arithmetic
  int64_t size[kMaxDims] = {};
  int64_t stride[N][kMaxDims] = {};
};

template <int N>
Walk<N> make_walk(const Shape& shape, const std::array<Shape, N>& strides, int64_t n, const char* op) {
  Walk<N> w;
  int nd = 0;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (nd > 0) {
      bool merge = true;
      for (int k = 0; k < N; ++k)
        if (w.stride[k][nd - 1] != strides[k][d] * shape[d]) merge = false;
      if (merge) {
        w.size[nd - 1] *= shape[d];
        for (int k = 0; k < N; ++k) w.stride[k][nd - 1] = strides[k][d];
        continue;
      }
    }
    if (nd == kMaxDims)
      fail(op, "the CUDA kernels take at most ", kMaxDims,
           " dims after merging the ones contiguous in every operand; shape ", shape_str(shape),
           " needs more (make an operand contiguous first)");
    w.size[nd] = shape[d];
    for (int k = 0; k < N; ++k) w.stride[k][nd] = strides[k][d];
    ++nd;
  }
  w.nd = nd;
  bool linear = nd <= 1;
  if (nd == 1)
    for (int k = 0; k < N; ++k)
      if (w.stride[k][0] != 1) linear = false;
  w.linear = linear;
  w.narrow = n <= static_cast<int64_t>(UINT32_MAX);
  return w;
}

template <typename I, int N>
__device__ __forceinline__ void offsets_of(const Walk<N>& w, I linear, int64_t (&off)[N]) {
#pragma unroll
  for (int k = 0; k < N; ++k) off[k] = 0;
  for (int d = w.nd - 1; d > 0; --d) {
    const I size = static_cast<I>(w.size[d]);
    const I q = linear / size;
    const int64_t i = static_cast<int64_t>(linear - q * size);
    linear = q;
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] += i * w.stride[k][d];
  }
  if (w.nd > 0) {  // the outermost dim needs no division: the index is < its size
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] += static_cast<int64_t>(linear) * w.stride[k][0];
  }
}

// Grid-stride loop over the n elements of the shared shape; f(off) handles one element given
// each operand's element offset.
template <int N, typename F>
__global__ void __launch_bounds__(kThreads) walk_kernel(const Walk<N> w, const int64_t n, const F f) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (w.linear) {
    for (; i < n; i += step) {
      int64_t off[N];
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] = i;
      f(off);
    }
  } else if (w.narrow) {
    for (; i < n; i += step) {
      int64_t off[N];
      offsets_of<uint32_t, N>(w, static_cast<uint32_t>(i), off);
      f(off);
    }
  } else {
    for (; i < n; i += step) {
      int64_t off[N];
      offsets_of<int64_t, N>(w, i, off);
      f(off);
    }
  }
}

// Runs f over `shape` with the operands' strides (already broadcast to `shape`); nothing for an
// empty shape. The caller has made the tensors' device current.
template <int N, typename F>
void launch(const char* op, const Shape& shape, const std::array<Shape, N>& strides, const F& f) {
  const int64_t n = shape_numel(shape);
  if (n == 0) return;
  const Walk<N> w = make_walk<N>(shape, strides, n, op);
  walk_kernel<N, F><<<grid_for(n, kThreads), kThreads>>>(w, n, f);
  check_launch(op);
}

}  // namespace shears::cuda::strided
