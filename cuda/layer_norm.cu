// CUDA kernels of layer norm (plain, channel-select, backward with deterministic two-stage parameter
// sums, no atomics) and the row/column helpers that cuda/gemm.cpp's linear uses (bias broadcast,
// column sums), device mirrors of tensor/nn_kernels.cpp.

#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_common.h"
#include "tensor/kernels.h"
#include "cuda/warp.cuh"

namespace shears::cuda {

namespace {

using namespace warp;

// ---------------- layer norm ----------------

// One warp per row of C contiguous elements. Statistics as tensor/nn_kernels.cpp row_moments:
// mean = sum(x) / C, var = sum((x - mean)^2) / C (two passes, in T), rstd = 1 / sqrt(var + T(eps)).
// Output channel j reads input channel idx[j] (idx null: j itself, k == C); w, b: (k,) or null.
template <typename T>
__global__ void layer_norm_kernel(const T* __restrict__ x, const int64_t* __restrict__ idx, int64_t k,
                                  const T* __restrict__ w, const T* __restrict__ b, double eps, int64_t rows,
                                  int64_t C, T* __restrict__ y, T* __restrict__ mean, T* __restrict__ rstd) {
  const int lane = lane_id();
  for (int64_t r = global_warp(); r < rows; r += warp_count()) {
    const T* xr = x + r * C;
    T s = 0;
    for (int64_t i = lane; i < C; i += kWarp) s += xr[i];
    const T m = warp_sum(s) / T(C);
    T q = 0;
    for (int64_t i = lane; i < C; i += kWarp) {
      const T d = xr[i] - m;
      q += d * d;
    }
    const T var = warp_sum(q) / T(C);
    const T rs = T(1) / dev_sqrt(var + T(eps));
    if (lane == 0) {
      mean[r] = m;
      rstd[r] = rs;
    }
    T* yr = y + r * k;
    for (int64_t j = lane; j < k; j += kWarp) {
      const T xv = xr[idx ? idx[j] : j];
      T v = (xv - m) * rs;
      if (w) v = v * w[j];
      if (b) v = v + b[j];
      yr[j] = v;
    }
  }
}

// dx of one row per warp: g = dy * w (or dy), mean_g = sum(g) / C,
// mean_gx = sum(g * (x - mean)) * rstd / C, dx = rstd * (g - mean_g - (x - mean) * rstd * mean_gx).
template <typename T>
__global__ void layer_norm_backward_dx_kernel(const T* __restrict__ dy, const T* __restrict__ x,
                                              const T* __restrict__ mean, const T* __restrict__ rstd,
                                              const T* __restrict__ w, int64_t rows, int64_t C,
                                              T* __restrict__ dx) {
  const int lane = lane_id();
  for (int64_t r = global_warp(); r < rows; r += warp_count()) {
    const T* xr = x + r * C;
    const T* dyr = dy + r * C;
    T* dxr = dx + r * C;
    const T m = mean[r], s = rstd[r];
    T a1 = 0, a2 = 0;
    for (int64_t i = lane; i < C; i += kWarp) {
      const T g = w ? dyr[i] * w[i] : dyr[i];
      a1 += g;
      a2 += g * (xr[i] - m);
    }
    const T mean_g = warp_sum(a1) / T(C);
    const T mean_gx = warp_sum(a2) * s / T(C);
    for (int64_t i = lane; i < C; i += kWarp) {
      const T g = w ? dyr[i] * w[i] : dyr[i];
      dxr[i] = s * (g - mean_g - (xr[i] - m) * s * mean_gx);
    }
  }
}

// ---------------- deterministic column sums (no atomics) ----------------
// Stage 1: block (32, 8) sums a 32-column tile over one chunk of rows into partial[chunk, col]
// (each thread a fixed subset of rows, then the 8 partials in a fixed order). Stage 2: one thread
// per column adds the chunk partials in chunk order. The chunking depends only on the shape.
// kXhat: also the layer-norm weight gradient sum_rows dy * ((x - mean) * rstd) into part_w.
constexpr int kTileCols = 32, kTileRows = 8;

template <typename T, bool kXhat>
__global__ void column_partial_kernel(const T* __restrict__ dy, const T* __restrict__ x,
                                      const T* __restrict__ mean, const T* __restrict__ rstd, int64_t rows,
                                      int64_t C, int64_t rows_per_chunk, T* __restrict__ part_b,
                                      T* __restrict__ part_w) {
  __shared__ T sb[kTileRows][kTileCols + 1];
  __shared__ T sw[kTileRows][kTileCols + 1];
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int64_t col = static_cast<int64_t>(blockIdx.x) * kTileCols + tx;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * rows_per_chunk;
  const int64_t r1 = r0 + rows_per_chunk < rows ? r0 + rows_per_chunk : rows;
  T ab = 0, aw = 0;
  if (col < C) {
    for (int64_t r = r0 + ty; r < r1; r += kTileRows) {
      const T d = dy[r * C + col];
      ab += d;
      if (kXhat) aw += d * ((x[r * C + col] - mean[r]) * rstd[r]);
    }
  }
  sb[ty][tx] = ab;
  sw[ty][tx] = aw;
  __syncthreads();
  if (ty == 0 && col < C) {
    T tb = 0, tw = 0;
    for (int j = 0; j < kTileRows; ++j) {
      tb += sb[j][tx];
      tw += sw[j][tx];
    }
    if (part_b) part_b[static_cast<int64_t>(blockIdx.y) * C + col] = tb;
    if (kXhat) part_w[static_cast<int64_t>(blockIdx.y) * C + col] = tw;
  }
}

template <typename T>
__global__ void column_final_kernel(const T* __restrict__ part, int64_t chunks, int64_t C, T* __restrict__ out) {
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < C;
       c += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    T s = 0;
    for (int64_t k = 0; k < chunks; ++k) s += part[k * C + c];
    out[c] = s;
  }
}

struct Chunking {
  int64_t chunks, rows_per_chunk;
};
Chunking chunking(int64_t rows) {
  const int64_t min_rows = 64, max_chunks = 512;
  int64_t chunks = (rows + min_rows - 1) / min_rows;
  chunks = std::max<int64_t>(1, std::min(chunks, max_chunks));
  return {chunks, (rows + chunks - 1) / chunks};
}

// out_b[c] = sum_r dy[r, c]; out_w[c] (when non-null) = sum_r dy[r, c] * ((x[r, c] - mean[r]) * rstd[r]).
// rows >= 1, C >= 1; out_b or out_w may be null (not both).
template <typename T>
void column_sums(const T* dy, const T* x, const T* mean, const T* rstd, int64_t rows, int64_t C, T* out_b,
                 T* out_w, Device device, const char* op) {
  const Chunking ch = chunking(rows);
  const int64_t tiles = (C + kTileCols - 1) / kTileCols;
  SHEARS_CHECK(tiles <= INT_MAX, op, "too many columns (", C, ") for the column-sum kernel");
  Tensor pb = out_b ? Tensor::empty({ch.chunks, C}, dtype_of<T>::value, device) : Tensor();
  Tensor pw = out_w ? Tensor::empty({ch.chunks, C}, dtype_of<T>::value, device) : Tensor();
  T* pbp = out_b ? dptr<T>(pb) : nullptr;
  T* pwp = out_w ? dptr<T>(pw) : nullptr;
  const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(ch.chunks));
  const dim3 block(kTileCols, kTileRows);
  if (out_w)
    column_partial_kernel<T, true><<<grid, block>>>(dy, x, mean, rstd, rows, C, ch.rows_per_chunk, pbp, pwp);
  else
    column_partial_kernel<T, false><<<grid, block>>>(dy, x, mean, rstd, rows, C, ch.rows_per_chunk, pbp, pwp);
  check_launch(op);
  if (out_b) column_final_kernel<T><<<grid_for(C), 256>>>(pbp, ch.chunks, C, out_b);
  check_launch(op);
  if (out_w) column_final_kernel<T><<<grid_for(C), 256>>>(pwp, ch.chunks, C, out_w);
  check_launch(op);
}

template <typename T>
__global__ void broadcast_rows_kernel(const T* __restrict__ v, T* __restrict__ y, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    y[i] = v[i % cols];
}

}  // namespace

// ---------------- helpers for cuda/gemm.cpp (declared there) ----------------

// y (rows, cols) contiguous = v (cols,) contiguous on every row.
void broadcast_rows(const Tensor& y, const Tensor& v, int64_t rows, int64_t cols) {
  if (rows * cols == 0) return;
  SHEARS_DISPATCH_FLOAT(y.dtype(), "linear", [&] {
    broadcast_rows_kernel<scalar_t><<<grid_for(rows * cols), 256>>>(dptr<scalar_t>(v), dptr<scalar_t>(y), rows, cols);
  });
  check_launch("linear");
}

// (cols,) = the sum over rows of m (rows, cols) contiguous; deterministic (fixed order).
Tensor column_sum(const Tensor& m, int64_t rows, int64_t cols, const char* op) {
  Tensor out = Tensor::empty({cols}, m.dtype(), m.device());
  if (cols == 0) return out;
  SHEARS_DISPATCH_FLOAT(m.dtype(), op, [&] {
    using T = scalar_t;
    if (rows == 0) return zero_async(dptr<T>(out), cols * sizeof(T));
    column_sums<T>(dptr<T>(m), nullptr, nullptr, nullptr, rows, cols, dptr<T>(out), nullptr, m.device(), op);
  });
  return out;
}

// ---------------- layer norm ----------------

namespace {
template <typename T>
const T* dptr_or_null(const Tensor& t) {
  return t.defined() ? dptr<T>(t) : nullptr;
}

// y (rows, k) from x (rows, C) contiguous; idx: (k,) device i64 or null (k == C).
kernels::LayerNormResult run_layer_norm(const Tensor& x_in, const Tensor& idx, int64_t k, const Tensor& w_in,
                                        const Tensor& b_in, double eps, const char* op) {
  const Tensor x = kernels::contiguous(x_in);
  const Tensor w = w_in.defined() ? kernels::contiguous(w_in) : w_in;
  const Tensor b = b_in.defined() ? kernels::contiguous(b_in) : b_in;
  const int64_t C = x.size(-1);
  const int64_t rows = C > 0 ? x.numel() / C : 0;
  Shape y_shape = x.shape();
  y_shape.back() = k;
  kernels::LayerNormResult res{Tensor::empty(y_shape, x.dtype(), x.device()),
                               Tensor::empty({rows}, x.dtype(), x.device()),
                               Tensor::empty({rows}, x.dtype(), x.device())};
  if (rows == 0) return res;
  SHEARS_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    layer_norm_kernel<T><<<row_grid(rows), kRowThreads>>>(
        dptr<T>(x), idx.defined() ? dptr<int64_t>(idx) : nullptr, k, dptr_or_null<T>(w), dptr_or_null<T>(b), eps,
        rows, C, dptr<T>(res.y), dptr<T>(res.mean), dptr<T>(res.rstd));
  });
  check_launch(op);
  return res;
}
}  // namespace

kernels::LayerNormResult CudaBackend::layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                                 double eps) {
  set_device(x);
  return run_layer_norm(x, Tensor(), x.size(-1), weight, bias, eps, "layer_norm");
}

kernels::LayerNormResult CudaBackend::layer_norm_select(const Tensor& x, const Tensor& index, const Tensor& weight,
                                                        const Tensor& bias, double eps) {
  set_device(x);
  const char* op = "layer_norm_select";
  const Tensor idx = kernels::contiguous(index);
  const int64_t C = x.size(-1), k = idx.numel();
  if (k > 0) {  // the values, checked on the host as the host kernel does (a k-element copy; waits for the queue)
    const Tensor host_idx = idx.cpu();
    const int64_t* ip = host_idx.data<int64_t>();
    for (int64_t j = 0; j < k; ++j)
      SHEARS_CHECK(ip[j] >= 0 && ip[j] < C, op, "index ", ip[j], " out of range for ", C, " channels");
  }
  return run_layer_norm(x, idx, k, weight, bias, eps, op);
}

kernels::LayerNormGrads CudaBackend::layer_norm_backward(const Tensor& dy_in, const Tensor& x_in,
                                                         const Tensor& mean_in, const Tensor& rstd_in,
                                                         const Tensor& weight, bool has_bias) {
  set_device(x_in);
  const char* op = "layer_norm_backward";
  const Tensor x = kernels::contiguous(x_in), dy = kernels::contiguous(dy_in);
  const Tensor mean = kernels::contiguous(mean_in), rstd = kernels::contiguous(rstd_in);
  const Tensor w = weight.defined() ? kernels::contiguous(weight) : weight;
  const int64_t C = x.size(-1);
  const int64_t rows = C > 0 ? x.numel() / C : 0;
  kernels::LayerNormGrads g;
  g.dx = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (w.defined()) g.dweight = Tensor::empty({C}, x.dtype(), x.device());
  if (has_bias) g.dbias = Tensor::empty({C}, x.dtype(), x.device());
  SHEARS_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    T* dw = g.dweight.defined() ? dptr<T>(g.dweight) : nullptr;
    T* db = g.dbias.defined() ? dptr<T>(g.dbias) : nullptr;
    if (rows == 0) {  // nothing to normalize: zero parameter gradients
      if (dw) zero_async(dw, C * sizeof(T));
      if (db) zero_async(db, C * sizeof(T));
      return;
    }
    layer_norm_backward_dx_kernel<T><<<row_grid(rows), kRowThreads>>>(
        dptr<T>(dy), dptr<T>(x), dptr<T>(mean), dptr<T>(rstd), dptr_or_null<T>(w), rows, C, dptr<T>(g.dx));
    check_launch(op);
    if (dw || db)
      column_sums<T>(dptr<T>(dy), dptr<T>(x), dptr<T>(mean), dptr<T>(rstd), rows, C, db, dw, x.device(), op);
  });
  return g;
}

}  // namespace shears::cuda
