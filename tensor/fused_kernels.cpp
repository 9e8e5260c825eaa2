// Fused transformer kernels: linear (GEMM with the bias folded in; linear_gelu with the GELU too) and multi-head
// attention on a fused qkv tensor. Attention reads q/k/v of each head straight from the
// (B, N, 3C) layout through GEMM leading dimensions and writes each head's output into
// its columns of (B, N, C): no head-split or head-merge copies. Work runs over B x heads
// in parallel, with single-threaded BLAS inside each task.
#include <vector>

#include "tensor/attention_nograd.h"
#include "tensor/fast_math.h"
#include "tensor/gemm.h"
#include "tensor/device_dispatch.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"
#include "tensor/profile.h"
#include "tensor/vec_math.h"

namespace shears::kernels {

namespace {

// y = x W^T + b, then GELU when `gelu` (the epilogue of each block of rows, while the rows are in cache)
Tensor linear_impl(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias, bool gelu, const char* op) {
  SHEARS_CHECK(x_in.dim() >= 1 && weight_in.dim() == 2, op, "expected x (..., in) and weight (out, in), got ",
               shape_str(x_in.shape()), " and ", shape_str(weight_in.shape()));
  const int64_t in = weight_in.size(1), outf = weight_in.size(0);
  SHEARS_CHECK(x_in.size(-1) == in, op, "x ", shape_str(x_in.shape()), " has ", x_in.size(-1),
               " features but weight ", shape_str(weight_in.shape()), " expects ", in);
  SHEARS_CHECK(x_in.dtype() == weight_in.dtype(), op, "dtype mismatch: x ", dtype_name(x_in.dtype()),
               ", weight ", dtype_name(weight_in.dtype()));
  if (bias.defined())
    SHEARS_CHECK(bias.dim() == 1 && bias.size(0) == outf && bias.dtype() == x_in.dtype(), op, "bias ",
                 shape_str(bias.shape()), " ", dtype_name(bias.dtype()), " does not match weight ",
                 shape_str(weight_in.shape()));
  // timed from here (the checks above take no time) and recorded under its shape (profile::format_gemm_shapes)
  const int64_t rows = x_in.numel() / std::max<int64_t>(in, 1);
  const profile::Scope profile_scope(profile::Category::Gemm, op, rows, outf, in,
                                     2.0 * double(rows) * double(outf) * double(in));
  if (Backend* be = device_backend(op, {&x_in, &weight_in, &bias})) {
    Tensor y = be->linear(x_in, weight_in, bias);
    return gelu ? unary(UnaryOp::Gelu, y) : y;
  }
  Tensor x = contiguous(x_in), w = contiguous(weight_in);
  Shape out_shape = x.shape();
  out_shape.back() = outf;
  Tensor y = Tensor::empty(out_shape, x.dtype());
  SHEARS_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    T* yp = y.data<T>();
    if (!bias.defined() && !gelu) {
      gemm<T>(false, true, rows, outf, in, T(1), x.data<T>(), in, w.data<T>(), in, T(0), yp, outf);
      return;
    }
    // the bias (and GELU) applied to each block of rows right after its GEMM, while the rows are in cache; the
    // same expressions as the elementwise ops (x + b rounded, then vgelu), so the same bits as linear then gelu
    Tensor b = bias.defined() ? contiguous(bias) : Tensor();
    const T* __restrict bp = bias.defined() ? b.data<T>() : nullptr;
    gemm_then_rows<T>(false, true, rows, outf, in, T(1), x.data<T>(), in, w.data<T>(), in, T(0), yp, outf,
                      [&](int64_t r0, int64_t r1) {
                        for (int64_t r = r0; r < r1; ++r) {
                          T* __restrict yr = yp + r * outf;
                          if (!gelu) {
                            for (int64_t j = 0; j < outf; ++j) yr[j] += bp[j];
                          } else if (bp) {
                            for (int64_t j = 0; j < outf; ++j) yr[j] = vgelu(T(yr[j] + bp[j]));
                          } else {
                            for (int64_t j = 0; j < outf; ++j) yr[j] = vgelu(yr[j]);
                          }
                        }
                      });
  });
  return y;
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  return linear_impl(x, weight, bias, false, "linear");
}

Tensor linear_gelu(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  return linear_impl(x, weight, bias, true, "linear_gelu");
}

LinearGrads linear_backward(const Tensor& dy_in, const Tensor& x_in, const Tensor& weight_in, bool need_dx,
                            bool need_dweight, bool need_dbias) {
  const int64_t in = weight_in.size(1), outf = weight_in.size(0);
  const int64_t rows = dy_in.numel() / std::max<int64_t>(outf, 1);
  // the flops of the two GEMMs it runs (dx, dW) when asked for; dbias is a column sum
  const double flops = 2.0 * double(rows) * double(outf) * double(in) * (int(need_dx) + int(need_dweight));
  const profile::Scope profile_scope(profile::Category::Gemm, "linear_backward", rows, outf, in, flops);
  if (Backend* be = device_backend("linear_backward", {&dy_in, &x_in, &weight_in}))
    return be->linear_backward(dy_in, x_in, weight_in, need_dx, need_dweight, need_dbias);
  Tensor dy = contiguous(dy_in), x = contiguous(x_in), w = contiguous(weight_in);
  LinearGrads g;
  SHEARS_DISPATCH_FLOAT(dy.dtype(), "linear_backward", [&] {
    using T = scalar_t;
    if (need_dx) {  // dx = dy @ W
      g.dx = Tensor::empty(x.shape(), x.dtype());
      gemm<T>(false, false, rows, in, outf, T(1), dy.data<T>(), outf, w.data<T>(), in, T(0), g.dx.data<T>(), in);
    }
    if (need_dweight) {  // dW = dy^T @ x
      g.dweight = Tensor::empty(w.shape(), w.dtype());
      gemm<T>(true, false, outf, in, rows, T(1), dy.data<T>(), outf, x.data<T>(), in, T(0), g.dweight.data<T>(), in);
    }
  });
  if (need_dbias) g.dbias = reduce(ReduceOp::Sum, reshape(dy, {rows, outf}), {0}, false);
  return g;
}

namespace {
struct AttnGeometry {
  int64_t B, N, C, H, D;
};

AttnGeometry attention_geometry(const Tensor& qkv, int64_t heads, const char* op) {
  SHEARS_CHECK(qkv.dim() == 3 && qkv.size(2) % 3 == 0, op, "expected qkv of shape (B, N, 3C), got ",
               shape_str(qkv.shape()));
  const int64_t C = qkv.size(2) / 3;
  SHEARS_CHECK(heads >= 1 && C % heads == 0, op, "width ", C, " is not divisible by ", heads, " heads");
  return {qkv.size(0), qkv.size(1), C, heads, C / heads};
}

// In-place row softmax of an (N, N) block.
template <typename T>
void softmax_rows(T* s, int64_t N) {
  for (int64_t i = 0; i < N; ++i) {
    T* row = s + i * N;
    const T m = fast_math::row_max(row, N);
    for (int64_t j = 0; j < N; ++j) row[j] = fast_math::exp_t(row[j] - m);
    const T inv = T(1) / fast_math::row_sum(row, N);
    for (int64_t j = 0; j < N; ++j) row[j] *= inv;
  }
}
}  // namespace

AttentionResult attention(const Tensor& qkv_in, int64_t heads, double scale, bool keep_probs) {
  SHEARS_PROFILE(Attention);
  AttnGeometry g = attention_geometry(qkv_in, heads, "attention");
  if (Backend* be = device_backend("attention", {&qkv_in})) return be->attention(qkv_in, heads, scale, keep_probs);
  Tensor qkv = contiguous(qkv_in);
  AttentionResult r;
  r.out = Tensor::empty({g.B, g.N, g.C}, qkv.dtype());
  if (keep_probs) r.probs = Tensor::empty({g.B, g.H, g.N, g.N}, qkv.dtype());
  if (!keep_probs && qkv.dtype() == DType::F32) {  // fused, no N x N tile (tensor/attention_nograd.cpp)
    attention_nograd_f32(qkv.data<float>(), g.B, g.N, g.C, g.H, scale, r.out.data<float>());
    return r;
  }
  SHEARS_DISPATCH_FLOAT(qkv.dtype(), "attention", [&] {
    using T = scalar_t;
    const T* base = qkv.data<T>();
    T* out = r.out.data<T>();
    T* probs = keep_probs ? r.probs.data<T>() : nullptr;
    const int64_t ld = 3 * g.C;
    parallel_for(g.B * g.H, 1, [&](int64_t t0, int64_t t1) {
      // scores of one (b, h) when they are not kept: a per-thread buffer reused across calls (a fresh
      // N x N vector per task would be an mmap + page faults per (b, h) above glibc's mmap threshold)
      thread_local std::vector<T> tile;
      if (!keep_probs && tile.size() < static_cast<size_t>(g.N * g.N)) tile.resize(static_cast<size_t>(g.N * g.N));
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t b = t / g.H, h = t % g.H;
        const T* q = base + b * g.N * ld + h * g.D;
        const T* k = q + g.C;
        const T* v = q + 2 * g.C;
        T* p = keep_probs ? probs + t * g.N * g.N : tile.data();
        gemm<T>(false, true, g.N, g.N, g.D, T(scale), q, ld, k, ld, T(0), p, g.N);  // S = q k^T * scale
        softmax_rows(p, g.N);
        gemm<T>(false, false, g.N, g.D, g.N, T(1), p, g.N, v, ld, T(0), out + b * g.N * g.C + h * g.D, g.C);
      }
    });
  });
  return r;
}

Tensor attention_backward(const Tensor& dout_in, const Tensor& qkv_in, const Tensor& probs_in, int64_t heads,
                          double scale) {
  SHEARS_PROFILE(Attention);
  AttnGeometry g = attention_geometry(qkv_in, heads, "attention_backward");
  SHEARS_CHECK(dout_in.shape() == Shape({g.B, g.N, g.C}) && probs_in.shape() == Shape({g.B, g.H, g.N, g.N}),
               "attention_backward", "expected dout ", shape_str({g.B, g.N, g.C}), " and probs ",
               shape_str({g.B, g.H, g.N, g.N}), ", got ", shape_str(dout_in.shape()), " and ",
               shape_str(probs_in.shape()));
  if (Backend* be = device_backend("attention_backward", {&dout_in, &qkv_in, &probs_in}))
    return be->attention_backward(dout_in, qkv_in, probs_in, heads, scale);
  Tensor qkv = contiguous(qkv_in), dout = contiguous(dout_in), probs = contiguous(probs_in);
  Tensor dqkv = Tensor::empty(qkv.shape(), qkv.dtype());
  SHEARS_DISPATCH_FLOAT(qkv.dtype(), "attention_backward", [&] {
    using T = scalar_t;
    const T* base = qkv.data<T>();
    const T* dbase = dout.data<T>();
    const T* pbase = probs.data<T>();
    T* dq_base = dqkv.data<T>();
    const int64_t ld = 3 * g.C;
    parallel_for(g.B * g.H, 1, [&](int64_t t0, int64_t t1) {
      std::vector<T> dp_buf(static_cast<size_t>(g.N * g.N));
      T* dp = dp_buf.data();
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t b = t / g.H, h = t % g.H;
        const int64_t off = b * g.N * ld + h * g.D;
        const T* q = base + off;
        const T* k = q + g.C;
        const T* v = q + 2 * g.C;
        const T* p = pbase + t * g.N * g.N;
        const T* dO = dbase + b * g.N * g.C + h * g.D;
        T* dq = dq_base + off;
        T* dk = dq + g.C;
        T* dv = dq + 2 * g.C;
        gemm<T>(false, true, g.N, g.N, g.D, T(1), dO, g.C, v, ld, T(0), dp, g.N);  // dP = dO v^T
        for (int64_t i = 0; i < g.N; ++i) {  // dS = P * (dP - rowsum(dP * P))
          T* dr = dp + i * g.N;
          const T* pr = p + i * g.N;
          const T dot = fast_math::row_dot(dr, pr, g.N);
          for (int64_t j = 0; j < g.N; ++j) dr[j] = pr[j] * (dr[j] - dot);
        }
        gemm<T>(false, false, g.N, g.D, g.N, T(scale), dp, g.N, k, ld, T(0), dq, ld);  // dq = dS k * scale
        gemm<T>(true, false, g.N, g.D, g.N, T(scale), dp, g.N, q, ld, T(0), dk, ld);   // dk = dS^T q * scale
        gemm<T>(true, false, g.N, g.D, g.N, T(1), p, g.N, dO, g.C, T(0), dv, ld);      // dv = P^T dO
      }
    });
  });
  return dqkv;
}

}  // namespace shears::kernels
