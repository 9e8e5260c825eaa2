// CUDA kernels of the softmax family (softmax / log_softmax and their backward over any dim) and
// of multi-head attention on a fused qkv tensor (cuBLAS strided-batched GEMMs over the heads with a
// row-softmax kernel between them), device mirrors of tensor/nn_kernels.cpp and tensor/fused_kernels.cpp.

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

// ---------------- softmax family ----------------
// A row holds D elements at stride `inner` (1 when the dim is last). The formulas are those of
// tensor/nn_kernels.cpp: y = exp(x - max) * (1 / sum), log: y = (x - max) - log(sum);
// backward softmax: dx = y * (dy - sum(dy * y)), log: dx = dy - exp(y) * sum(dy).

// Last dim, one warp per row. x and y may alias (the attention softmax runs in place): each
// element is read and written by the same lane, and every read of a pass precedes its write.
template <typename T, bool kLog>
__global__ void softmax_lastdim_kernel(const T* x, T* y, int64_t rows, int64_t D) {
  const int lane = lane_id();
  for (int64_t r = global_warp(); r < rows; r += warp_count()) {
    const T* xr = x + r * D;
    T* yr = y + r * D;
    T m = -INFINITY;
    for (int64_t i = lane; i < D; i += kWarp) {
      const T v = xr[i];
      m = v > m ? v : m;
    }
    m = warp_max(m);
    T s = 0;
    for (int64_t i = lane; i < D; i += kWarp) {
      const T e = dev_exp(xr[i] - m);
      if (!kLog) yr[i] = e;
      s += e;
    }
    s = warp_sum(s);
    if (kLog) {
      const T lse = dev_log(s);
      for (int64_t i = lane; i < D; i += kWarp) yr[i] = (xr[i] - m) - lse;
    } else {
      const T inv = T(1) / s;
      for (int64_t i = lane; i < D; i += kWarp) yr[i] *= inv;
    }
  }
}

// Dim not last: one thread per (outer, inner) row, the D elements at stride `inner` (threads of
// a warp read consecutive inner positions: coalesced).
template <typename T, bool kLog>
__global__ void softmax_strided_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t outer, int64_t D,
                                       int64_t inner) {
  const int64_t n = outer * inner;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < n;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t o = t / inner, i = t % inner;
    const T* xr = x + o * D * inner + i;
    T* yr = y + o * D * inner + i;
    T m = -INFINITY;
    for (int64_t j = 0; j < D; ++j) {
      const T v = xr[j * inner];
      m = v > m ? v : m;
    }
    T s = 0;
    for (int64_t j = 0; j < D; ++j) s += dev_exp(xr[j * inner] - m);
    if (kLog) {
      const T lse = dev_log(s);
      for (int64_t j = 0; j < D; ++j) yr[j * inner] = (xr[j * inner] - m) - lse;
    } else {
      const T inv = T(1) / s;
      for (int64_t j = 0; j < D; ++j) yr[j * inner] = dev_exp(xr[j * inner] - m) * inv;
    }
  }
}

template <typename T, bool kLog>
__global__ void softmax_backward_lastdim_kernel(const T* __restrict__ y, const T* __restrict__ dy,
                                                T* __restrict__ dx, int64_t rows, int64_t D) {
  const int lane = lane_id();
  for (int64_t r = global_warp(); r < rows; r += warp_count()) {
    const T* yr = y + r * D;
    const T* dyr = dy + r * D;
    T* dxr = dx + r * D;
    T s = 0;
    for (int64_t i = lane; i < D; i += kWarp) s += kLog ? dyr[i] : dyr[i] * yr[i];
    s = warp_sum(s);
    for (int64_t i = lane; i < D; i += kWarp) dxr[i] = kLog ? dyr[i] - dev_exp(yr[i]) * s : yr[i] * (dyr[i] - s);
  }
}

template <typename T, bool kLog>
__global__ void softmax_backward_strided_kernel(const T* __restrict__ y, const T* __restrict__ dy,
                                                T* __restrict__ dx, int64_t outer, int64_t D, int64_t inner) {
  const int64_t n = outer * inner;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < n;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t base = (t / inner) * D * inner + t % inner;
    T s = 0;
    for (int64_t j = 0; j < D; ++j) {
      const int64_t e = base + j * inner;
      s += kLog ? dy[e] : dy[e] * y[e];
    }
    for (int64_t j = 0; j < D; ++j) {
      const int64_t e = base + j * inner;
      dx[e] = kLog ? dy[e] - dev_exp(y[e]) * s : y[e] * (dy[e] - s);
    }
  }
}

// (outer, D, inner) of a contiguous tensor around `dim`.
void split_at(const Tensor& x, int64_t dim, int64_t& outer, int64_t& D, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= x.size(d);
  for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.size(d);
  D = x.size(dim);
}

template <typename T, bool kLog>
void launch_softmax(const T* x, T* y, int64_t outer, int64_t D, int64_t inner) {
  if (inner == 1)
    softmax_lastdim_kernel<T, kLog><<<row_grid(outer), kRowThreads>>>(x, y, outer, D);
  else
    softmax_strided_kernel<T, kLog><<<grid_for(outer * inner), 256>>>(x, y, outer, D, inner);
}

template <typename T, bool kLog>
void launch_softmax_backward(const T* y, const T* dy, T* dx, int64_t outer, int64_t D, int64_t inner) {
  if (inner == 1)
    softmax_backward_lastdim_kernel<T, kLog><<<row_grid(outer), kRowThreads>>>(y, dy, dx, outer, D);
  else
    softmax_backward_strided_kernel<T, kLog><<<grid_for(outer * inner), 256>>>(y, dy, dx, outer, D, inner);
}

// ---------------- attention ----------------

// dS = P * (dP - rowsum(dP * P)) in place on dP, one warp per row of N.
template <typename T>
__global__ void softmax_grad_rows_kernel(const T* __restrict__ p, T* __restrict__ dp, int64_t rows, int64_t N) {
  const int lane = lane_id();
  for (int64_t r = global_warp(); r < rows; r += warp_count()) {
    const T* pr = p + r * N;
    T* dr = dp + r * N;
    T s = 0;
    for (int64_t i = lane; i < N; i += kWarp) s += dr[i] * pr[i];
    s = warp_sum(s);
    for (int64_t i = lane; i < N; i += kWarp) dr[i] = pr[i] * (dr[i] - s);
  }
}

int64_t gcd64(int64_t a, int64_t b) {
  while (b) {
    const int64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// Batch items per attention pass, so that a (chunk, H, N, N) scratch of scores (or of dP) stays near
// 256 MiB: a multiple of the count that keeps every (b, h) tile at the same address modulo 256 bytes
// in the scratch as in a full (B, H, N, N) probs tensor (cuBLAS then sees the same alignment, hence
// runs the same kernels, with and without kept probabilities).
int64_t batches_per_pass(int64_t B, int64_t per_b_bytes) {
  const int64_t budget = int64_t(256) << 20;
  const int64_t q = 256 / gcd64(per_b_bytes, 256);
  int64_t chunk = std::max<int64_t>(1, budget / std::max<int64_t>(per_b_bytes, 1));
  chunk = std::max(q, chunk / q * q);
  return std::min(chunk, B);
}

// One operand of the attention GEMMs over a (batch item, head) grid: the matrix of (b, h) is at
// p + b * sb + h * sh (elements).
template <typename T>
struct BH {
  T* p;
  int64_t sb, sh;
};

// The GEMM of every (b, h) with b < nb, h < H: strided-batched over the heads per item when nb <= H,
// else over the items per head (fewer, larger calls; both are uniform strides).
template <typename T>
void gemm_bh(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, BH<const T> A, int64_t lda,
             BH<const T> B, int64_t ldb, BH<T> C, int64_t ldc, int64_t nb, int64_t H, const char* op) {
  if (nb <= H) {
    for (int64_t b = 0; b < nb; ++b)
      gemm_rm<T>(ta, tb, M, N, K, alpha, A.p + b * A.sb, lda, A.sh, B.p + b * B.sb, ldb, B.sh, T(0), C.p + b * C.sb,
                 ldc, C.sh, H, op);
  } else {
    for (int64_t h = 0; h < H; ++h)
      gemm_rm<T>(ta, tb, M, N, K, alpha, A.p + h * A.sh, lda, A.sb, B.p + h * B.sh, ldb, B.sb, T(0), C.p + h * C.sh,
                 ldc, C.sb, nb, op);
  }
}

struct AttnGeom {
  int64_t B, N, C, H, D;
};
AttnGeom attn_geom(const Tensor& qkv, int64_t heads) {
  const int64_t C = qkv.size(2) / 3;
  return {qkv.size(0), qkv.size(1), C, heads, C / heads};
}

}  // namespace

// ---------------- softmax family ----------------

Tensor CudaBackend::softmax(const Tensor& x_in, int64_t dim, bool log) {
  set_device(x_in);
  const char* op = log ? "log_softmax" : "softmax";
  const Tensor x = kernels::contiguous(x_in);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (y.numel() == 0) return y;
  int64_t outer, D, inner;
  split_at(x, dim, outer, D, inner);
  SHEARS_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    if (log) launch_softmax<T, true>(dptr<T>(x), dptr<T>(y), outer, D, inner);
    else launch_softmax<T, false>(dptr<T>(x), dptr<T>(y), outer, D, inner);
  });
  check_launch(op);
  return y;
}

Tensor CudaBackend::softmax_backward(const Tensor& y_in, const Tensor& dy_in, int64_t dim, bool log) {
  set_device(y_in);
  const char* op = log ? "log_softmax_backward" : "softmax_backward";
  const Tensor y = kernels::contiguous(y_in), dy = kernels::contiguous(dy_in);
  Tensor dx = Tensor::empty(y.shape(), y.dtype(), y.device());
  if (dx.numel() == 0) return dx;
  int64_t outer, D, inner;
  split_at(y, dim, outer, D, inner);
  SHEARS_DISPATCH_FLOAT(y.dtype(), op, [&] {
    using T = scalar_t;
    if (log) launch_softmax_backward<T, true>(dptr<T>(y), dptr<T>(dy), dptr<T>(dx), outer, D, inner);
    else launch_softmax_backward<T, false>(dptr<T>(y), dptr<T>(dy), dptr<T>(dx), outer, D, inner);
  });
  check_launch(op);
  return dx;
}

// ---------------- attention ----------------
// Head h of q/k/v of batch item b is the column block at h*D of the (N, 3C) row-major matrix of
// item b (leading dimension 3C); its output goes to columns h*D of out's (N, C) matrix (leading
// dimension C). The GEMMs of all (b, h) of a pass run as strided-batched cuBLAS calls (gemm_bh),
// the row softmax as one kernel over the pass's B*H*N rows.

kernels::AttentionResult CudaBackend::attention(const Tensor& qkv_in, int64_t heads, double scale,
                                                bool keep_probs) {
  set_device(qkv_in);
  const char* op = "attention";
  const Tensor qkv = kernels::contiguous(qkv_in);
  const AttnGeom g = attn_geom(qkv, heads);
  kernels::AttentionResult r;
  r.out = Tensor::empty({g.B, g.N, g.C}, qkv.dtype(), qkv.device());
  if (keep_probs) r.probs = Tensor::empty({g.B, g.H, g.N, g.N}, qkv.dtype(), qkv.device());
  if (g.B == 0 || g.N == 0) return r;
  SHEARS_DISPATCH_FLOAT(qkv.dtype(), op, [&] {
    using T = scalar_t;
    const T* base = dptr<T>(qkv);
    T* out = dptr<T>(r.out);
    const int64_t ld = 3 * g.C, NN = g.N * g.N, per_b = g.H * NN;
    // The passes (and so every cuBLAS call) are the same with and without kept probabilities; only
    // where the scores live differs, at the same alignment: out is bitwise the same either way.
    const int64_t chunk = batches_per_pass(g.B, per_b * int64_t(sizeof(T)));
    Tensor scratch = keep_probs ? Tensor() : Tensor::empty({chunk, g.H, g.N, g.N}, qkv.dtype(), qkv.device());
    for (int64_t b0 = 0; b0 < g.B; b0 += chunk) {
      const int64_t nb = std::min(chunk, g.B - b0);
      T* P = keep_probs ? dptr<T>(r.probs) + b0 * per_b : dptr<T>(scratch);
      const T* q = base + b0 * g.N * ld;
      if (g.D == 0)
        zero_async(P, nb * per_b * sizeof(T));  // empty dot products: scores 0
      else  // S = scale * q k^T
        gemm_bh<T>(false, true, g.N, g.N, g.D, T(scale), {q, g.N * ld, g.D}, ld, {q + g.C, g.N * ld, g.D}, ld,
                   {P, per_b, NN}, g.N, nb, g.H, op);
      softmax_lastdim_kernel<T, false><<<row_grid(nb * g.H * g.N), kRowThreads>>>(P, P, nb * g.H * g.N, g.N);
      check_launch(op);
      if (g.D == 0) continue;
      // out = P v, into columns h*D of (N, C)
      gemm_bh<T>(false, false, g.N, g.D, g.N, T(1), {P, per_b, NN}, g.N, {q + 2 * g.C, g.N * ld, g.D}, ld,
                 {out + b0 * g.N * g.C, g.N * g.C, g.D}, g.C, nb, g.H, op);
    }
  });
  return r;
}

Tensor CudaBackend::attention_backward(const Tensor& dout_in, const Tensor& qkv_in, const Tensor& probs_in,
                                       int64_t heads, double scale) {
  set_device(qkv_in);
  const char* op = "attention_backward";
  SHEARS_CHECK(probs_in.defined(), op,
               "probs is undefined: the forward ran with keep_probs = false, which keeps no probabilities");
  const Tensor qkv = kernels::contiguous(qkv_in), dout = kernels::contiguous(dout_in);
  const Tensor probs = kernels::contiguous(probs_in);
  const AttnGeom g = attn_geom(qkv, heads);
  Tensor dqkv = Tensor::empty(qkv.shape(), qkv.dtype(), qkv.device());
  if (dqkv.numel() == 0) return dqkv;  // B, N or C is 0 (C == 0 means D == 0)
  SHEARS_DISPATCH_FLOAT(qkv.dtype(), op, [&] {
    using T = scalar_t;
    const T* base = dptr<T>(qkv);
    const T* dbase = dptr<T>(dout);
    const T* pbase = dptr<T>(probs);
    T* dq_base = dptr<T>(dqkv);
    const int64_t ld = 3 * g.C, NN = g.N * g.N, per_b = g.H * NN;
    const int64_t chunk = batches_per_pass(g.B, per_b * int64_t(sizeof(T)));
    Tensor scratch = Tensor::empty({chunk, g.H, g.N, g.N}, qkv.dtype(), qkv.device());
    T* dP = dptr<T>(scratch);
    for (int64_t b0 = 0; b0 < g.B; b0 += chunk) {
      const int64_t nb = std::min(chunk, g.B - b0);
      const T* q = base + b0 * g.N * ld;
      const BH<const T> Q{q, g.N * ld, g.D}, K{q + g.C, g.N * ld, g.D}, V{q + 2 * g.C, g.N * ld, g.D};
      const BH<const T> dO{dbase + b0 * g.N * g.C, g.N * g.C, g.D}, P{pbase + b0 * per_b, per_b, NN};
      const BH<const T> dS{dP, per_b, NN};
      T* dq = dq_base + b0 * g.N * ld;
      gemm_bh<T>(false, true, g.N, g.N, g.D, T(1), dO, g.C, V, ld, {dP, per_b, NN}, g.N, nb, g.H, op);  // dP = dO v^T
      // dS = P * (dP - rowsum(dP * P)), in place
      softmax_grad_rows_kernel<T><<<row_grid(nb * g.H * g.N), kRowThreads>>>(P.p, dP, nb * g.H * g.N, g.N);
      check_launch(op);
      gemm_bh<T>(false, false, g.N, g.D, g.N, T(scale), dS, g.N, K, ld, {dq, g.N * ld, g.D}, ld, nb, g.H,
                 op);  // dq = scale dS k
      gemm_bh<T>(true, false, g.N, g.D, g.N, T(scale), dS, g.N, Q, ld, {dq + g.C, g.N * ld, g.D}, ld, nb, g.H,
                 op);  // dk = scale dS^T q
      gemm_bh<T>(true, false, g.N, g.D, g.N, T(1), P, g.N, dO, g.C, {dq + 2 * g.C, g.N * ld, g.D}, ld, nb, g.H,
                 op);  // dv = P^T dO
    }
  });
  return dqkv;
}

}  // namespace shears::cuda
