// Neural-network kernels: softmax / log_softmax and their backwards over any dim, and
// layer_norm forward/backward over the last dim. Rows run in parallel; every reduction
// uses fixed-order lane accumulators (fast_math.h), so results are bit-identical for
// any thread count. A fully -inf softmax row gives NaN, as in PyTorch.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#include "tensor/channel_subset_rows.h"
#include "tensor/fast_math.h"
#include "tensor/device_dispatch.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"
#include "tensor/profile.h"

namespace shears::kernels {
namespace {
using fast_math::exp_t;
using fast_math::kLanes;
using fast_math::row_dot;
using fast_math::row_max;
using fast_math::row_sum;

// ---------------- per-row bodies; a row holds D contiguous elements ----------------

// y = exp(x - max) / sum, or for log: y = (x - max) - log(sum)
template <typename T, bool kLog>
void softmax_row(const T* __restrict x, T* __restrict y, int64_t D) {
  const T m = row_max(x, D);
  for (int64_t i = 0; i < D; ++i) y[i] = exp_t(x[i] - m);
  const T s = row_sum(y, D);
  if (kLog) {
    const T lse = std::log(s);
    for (int64_t i = 0; i < D; ++i) y[i] = (x[i] - m) - lse;
  } else {
    const T inv = T(1) / s;
    for (int64_t i = 0; i < D; ++i) y[i] *= inv;
  }
}

// softmax:     dx = y * (dy - sum(dy * y))
// log_softmax: dx = dy - exp(y) * sum(dy)
template <typename T, bool kLog>
void softmax_backward_row(const T* __restrict y, const T* __restrict dy, T* __restrict dx,
                          int64_t D) {
  if (kLog) {
    const T s = row_sum(dy, D);
    for (int64_t i = 0; i < D; ++i) dx[i] = dy[i] - exp_t(y[i]) * s;
  } else {
    const T s = row_dot(dy, y, D);
    for (int64_t i = 0; i < D; ++i) dx[i] = y[i] * (dy[i] - s);
  }
}

// ---------------- dim handling ----------------

// Moves `dim` last: the permutation and its inverse.
void last_dim_perm(int64_t dim, int64_t nd, Shape& perm, Shape& inverse) {
  perm.clear();
  for (int64_t d = 0; d < nd; ++d)
    if (d != dim) perm.push_back(d);
  perm.push_back(dim);
  inverse.assign(nd, 0);
  for (int64_t d = 0; d < nd; ++d) inverse[perm[d]] = d;
}

// Applies row_fn(inputs..., out, D) over every row along `dim` of same-shaped inputs.
// Fast path: dim is last (inputs are packed if strided). Otherwise the dim is moved last
// with a permute + pack, and the result permuted back.
template <typename RowFn>
Tensor rowwise(const char* op, const std::vector<Tensor>& inputs, int64_t dim, RowFn&& row_fn) {
  const Tensor& x0 = inputs[0];
  SHEARS_CHECK(is_floating(x0.dtype()), op, "expected a floating dtype (f32 or f64), got ",
               dtype_name(x0.dtype()));
  for (const Tensor& t : inputs) {
    SHEARS_CHECK(t.shape() == x0.shape(), op, "shape mismatch: ", shape_str(x0.shape()), " and ",
                 shape_str(t.shape()));
    SHEARS_CHECK(t.dtype() == x0.dtype(), op, "dtype mismatch: ", dtype_name(x0.dtype()), " and ",
                 dtype_name(t.dtype()));
  }
  const int64_t nd = x0.dim();
  if (nd == 0) {  // a scalar is one row of one element
    normalize_dim(dim, 1, op);
    std::vector<Tensor> flat;
    for (const Tensor& t : inputs) flat.push_back(reshape(t, {1}));
    return reshape(rowwise(op, flat, 0, row_fn), {});
  }
  dim = normalize_dim(dim, nd, op);
  if (dim != nd - 1) {
    Shape perm, inverse;
    last_dim_perm(dim, nd, perm, inverse);
    std::vector<Tensor> moved;
    for (const Tensor& t : inputs) moved.push_back(permute(t, perm));
    return contiguous(permute(rowwise(op, moved, nd - 1, row_fn), inverse));
  }
  std::vector<Tensor> packed;
  for (const Tensor& t : inputs) packed.push_back(contiguous(t));
  Tensor out = Tensor::empty(x0.shape(), x0.dtype());
  const int64_t D = x0.size(-1);
  if (out.numel() == 0) return out;
  const int64_t rows = out.numel() / D;
  SHEARS_DISPATCH_FLOAT(x0.dtype(), op, [&] {
    std::vector<const scalar_t*> in;
    for (const Tensor& t : packed) in.push_back(t.data<scalar_t>());
    scalar_t* o = out.data<scalar_t>();
    parallel_for(rows, grain_for(D, 16384), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) row_fn(in, r * D, o + r * D, D);
    });
  });
  return out;
}

// ---------------- layer norm rows ----------------

#ifdef SHEARS_ROW_LANES_AVX2
// row_moments' two passes for a float row of a multiple of 32 channels (every ViT width here) with the 32 lane
// accumulators in four registers (fast_math.h's register form of the row reductions, whose row_sum is the first
// pass): the generic form below keeps its lane arrays on the stack (zeroed by `rep stos`, combined through
// memory). The same lanes, the same order, the same bits (the variance's d * d + acc as one fused multiply-add,
// as the generic loop compiles at -O2 and -O3). Measured (6304 x 384 rows, 2 threads, Zen 3):
// layer_norm 0.82-1.07 -> 0.63-0.82 ms; add_layer_norm, bound by memory traffic, unchanged.
inline void row_moments_f32x32(const float* __restrict x, int64_t C, float eps, float& mean, float& rstd) {
  mean = fast_math::row_sum(x, C) / float(C);
  const __m256 m = _mm256_set1_ps(mean);
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i < C; i += 32) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), m), d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), m);
    const __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 16), m), d3 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 24), m);
    a0 = _mm256_fmadd_ps(d0, d0, a0);
    a1 = _mm256_fmadd_ps(d1, d1, a1);
    a2 = _mm256_fmadd_ps(d2, d2, a2);
    a3 = _mm256_fmadd_ps(d3, d3, a3);
  }
  rstd = 1.0f / std::sqrt(fast_math::lanes32::combine_sum(a0, a1, a2, a3) / float(C) + eps);
}
#endif

// mean and 1/sqrt(var + eps) of a row (two passes; the row stays in L1)
template <typename T>
void row_moments(const T* __restrict x, int64_t C, double eps, T& mean, T& rstd) {
#ifdef SHEARS_ROW_LANES_AVX2
  if constexpr (std::is_same_v<T, float>) {
    if (C % 32 == 0) return row_moments_f32x32(x, C, float(eps), mean, rstd);
  }
#endif
  mean = row_sum(x, C) / T(C);
  constexpr int64_t L = kLanes<T>;
  T acc[L] = {};
  int64_t i = 0;
  for (; i + L <= C; i += L)
    for (int64_t l = 0; l < L; ++l) {
      const T d = x[i + l] - mean;
      acc[l] += d * d;
    }
  for (int64_t l = 0; i + l < C; ++l) {
    const T d = x[i + l] - mean;
    acc[l] += d * d;
  }
  const T var = fast_math::combine_sum(acc) / T(C);
  rstd = T(1) / std::sqrt(var + T(eps));
}

// x: (rows, C); w, b: (C,) or null; y: (rows, C); mean, rstd: (rows,)
// xhat * w + b with an explicit fused multiply-add where the target has one, so that the bits do not
// depend on the compiler's contraction choices (-O levels, sanitizer builds): layer_norm, its channel-subset
// form and the AVX-512 gather path below compute the same expression.
inline float affine(float t, float w, float b) { return fast_math::fmadd(t, w, b); }
inline double affine(double t, double w, double b) {
#ifdef __FMA__
  return __builtin_fma(t, w, b);
#else
  return t * w + b;
#endif
}

// y = (x - mean) * rstd * w + b over a row of C (w, b may be null)
template <typename T>
inline void normalize_row(const T* __restrict xr, int64_t C, T m, T s, const T* w, const T* b, T* __restrict yr) {
  if (w && b) for (int64_t i = 0; i < C; ++i) yr[i] = affine((xr[i] - m) * s, w[i], b[i]);
  else if (w) for (int64_t i = 0; i < C; ++i) yr[i] = (xr[i] - m) * s * w[i];
  else if (b) for (int64_t i = 0; i < C; ++i) yr[i] = (xr[i] - m) * s + b[i];
  else for (int64_t i = 0; i < C; ++i) yr[i] = (xr[i] - m) * s;
}

// the same written at the channels idx[0..k) only: yr (k,), w, b (k,) or null
template <typename T>
inline void normalize_select_row(const T* __restrict xr, const int64_t* idx, int64_t k, T m, T s, const T* w,
                                 const T* b, T* __restrict yr) {
  if (w && b) for (int64_t j = 0; j < k; ++j) yr[j] = affine((xr[idx[j]] - m) * s, w[j], b[j]);
  else if (w) for (int64_t j = 0; j < k; ++j) yr[j] = (xr[idx[j]] - m) * s * w[j];
  else if (b) for (int64_t j = 0; j < k; ++j) yr[j] = (xr[idx[j]] - m) * s + b[j];
  else for (int64_t j = 0; j < k; ++j) yr[j] = (xr[idx[j]] - m) * s;
}

template <typename T>
void layer_norm_impl(const T* x, const T* w, const T* b, double eps, int64_t rows, int64_t C,
                     T* y, T* mean, T* rstd) {
  parallel_for(rows, grain_for(C, 16384), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      T m, s;
      row_moments(x + r * C, C, eps, m, s);
      mean[r] = m;
      rstd[r] = s;
      normalize_row(x + r * C, C, m, s, w, b, y + r * C);
    }
  });
}

// layer_norm_impl writing only the channels idx[0..k) of each row (statistics over all C):
// y: (rows, k), w, b: (k,) or null; the same expression per element as layer_norm_impl.
template <typename T>
void layer_norm_select_impl(const T* x, const int64_t* idx, int64_t k, const T* w, const T* b, double eps,
                            int64_t rows, int64_t C, T* y, T* mean, T* rstd) {
  parallel_for(rows, grain_for(C + k, 16384), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      T m, s;
      row_moments(x + r * C, C, eps, m, s);
      mean[r] = m;
      rstd[r] = s;
      normalize_select_row(x + r * C, idx, k, m, s, w, b, y + r * k);
    }
  });
}

// layer_norm_select_impl for float with both affine parameters, through channel_rows' select row (AVX-512:
// permutes or gathers; the same expression per element, fma((x - mean) * rstd, w, b), the same bits).
void layer_norm_select_f32_affine(const float* x, const int64_t* idx, int64_t k, const float* w, const float* b,
                                  double eps, int64_t rows, int64_t C, float* y, float* mean, float* rstd) {
  const channel_rows::SelectPlan plan = channel_rows::make_select_plan(idx, k, C);
  parallel_for(rows, grain_for(C + k, 16384), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * C;
      float m, s;
      row_moments(xr, C, eps, m, s);
      mean[r] = m;
      rstd[r] = s;
      channel_rows::layer_norm_select_row(xr, m, s, w, b, plan, y + r * k);
    }
  });
}

// add_layer_norm's rows: y = x + src, or x with src added through add_plan (ks values per row); h = the layer norm
// of y, at all C channels (nip null) or at nip[0..kn) (float with both affine parameters: select_plan's row).
template <typename T>
void add_layer_norm_rows(const T* xp, const T* sp, const channel_rows::AddAtPlan* add_plan, int64_t ks,
                         const int64_t* nip, const channel_rows::SelectPlan* select_plan, int64_t kn, const T* wp,
                         const T* bp, double eps, int64_t rows, int64_t C, T* yp, T* hp) {
  parallel_for(rows, grain_for(2 * C + ks + kn, 16384), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* __restrict xr = xp + r * C;
      const T* __restrict sr = sp + r * ks;
      T* __restrict yr = yp + r * C;
      if (!add_plan) {
        for (int64_t c = 0; c < C; ++c) yr[c] = xr[c] + sr[c];
      } else if constexpr (std::is_same_v<T, float>) {
        channel_rows::add_at_row(xr, sr, *add_plan, yr);
      } else {
        for (int64_t c = 0; c < C; ++c) {
          const int32_t f = add_plan->from[size_t(c)];
          yr[c] = f >= 0 ? xr[c] + sr[f] : xr[c];
        }
      }
      T m, s;
      row_moments(yr, C, eps, m, s);
      if (!nip && kn == C && !select_plan) {
        normalize_row(yr, C, m, s, wp, bp, hp + r * C);
        continue;
      }
      if constexpr (std::is_same_v<T, float>) {
        if (select_plan) {
          channel_rows::layer_norm_select_row(yr, m, s, wp, bp, *select_plan, hp + r * kn);
          continue;
        }
      }
      normalize_select_row(yr, nip, kn, m, s, wp, bp, hp + r * kn);
    }
  });
}

// xhat = (x - mean) * rstd, g = dy * w
// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)); dw = sum_rows dy * xhat; db = sum_rows dy
// dw/db: each fixed chunk of rows sums into its own partial row, partials are then added
// in chunk order, so the result does not depend on the thread count.
template <typename T>
void layer_norm_backward_impl(const T* dy, const T* x, const T* mean, const T* rstd, const T* w,
                              int64_t rows, int64_t C, T* dx, T* dw, T* db) {
  const int64_t grain = grain_for(C, 16384);
  const int64_t chunks = (rows + grain - 1) / grain;
  std::vector<T> pw(dw ? chunks * C : 0, T(0)), pb(db ? chunks * C : 0, T(0));
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    std::vector<T> g(C);
    T* __restrict gp = g.data();
    T* __restrict pwr = dw ? pw.data() + (r0 / grain) * C : nullptr;
    T* __restrict pbr = db ? pb.data() + (r0 / grain) * C : nullptr;
    for (int64_t r = r0; r < r1; ++r) {
      const T* __restrict xr = x + r * C;
      const T* __restrict dyr = dy + r * C;
      T* __restrict dxr = dx + r * C;
      const T m = mean[r], s = rstd[r];
      if (w) for (int64_t i = 0; i < C; ++i) gp[i] = dyr[i] * w[i];
      else for (int64_t i = 0; i < C; ++i) gp[i] = dyr[i];
      // sum(g) and sum(g * xhat) = rstd * sum(g * (x - mean)), in lanes
      constexpr int64_t L = kLanes<T>;
      T a1[L] = {}, a2[L] = {};
      int64_t i = 0;
      for (; i + L <= C; i += L)
        for (int64_t l = 0; l < L; ++l) {
          a1[l] += gp[i + l];
          a2[l] += gp[i + l] * (xr[i + l] - m);
        }
      for (int64_t l = 0; i + l < C; ++l) {
        a1[l] += gp[i + l];
        a2[l] += gp[i + l] * (xr[i + l] - m);
      }
      const T mean_g = fast_math::combine_sum(a1) / T(C);
      const T mean_gx = fast_math::combine_sum(a2) * s / T(C);
      for (int64_t j = 0; j < C; ++j)
        dxr[j] = s * (gp[j] - mean_g - (xr[j] - m) * s * mean_gx);
      if (pwr) for (int64_t j = 0; j < C; ++j) pwr[j] += dyr[j] * ((xr[j] - m) * s);
      if (pbr) for (int64_t j = 0; j < C; ++j) pbr[j] += dyr[j];
    }
  });
  if (dw) {
    std::fill(dw, dw + C, T(0));
    for (int64_t c = 0; c < chunks; ++c)
      for (int64_t j = 0; j < C; ++j) dw[j] += pw[c * C + j];
  }
  if (db) {
    std::fill(db, db + C, T(0));
    for (int64_t c = 0; c < chunks; ++c)
      for (int64_t j = 0; j < C; ++j) db[j] += pb[c * C + j];
  }
}

// Checks a (C,) parameter of layer_norm and returns it packed (or undefined).
Tensor ln_param(const Tensor& p, const char* name, int64_t C, DType dtype, const char* op) {
  if (!p.defined()) return p;
  SHEARS_CHECK(p.dim() == 1 && p.size(0) == C, op, name, " must have shape ", shape_str({C}), ", got ",
               shape_str(p.shape()));
  SHEARS_CHECK(p.dtype() == dtype, op, "dtype mismatch: ", dtype_name(dtype), " input and ",
               dtype_name(p.dtype()), " ", name);
  return contiguous(p);
}

template <typename T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// The softmax family on a device: the checks of `rowwise`, then the backend with the dim
// normalized (a 0-d tensor runs as one row of one element).
Tensor device_rowwise(Backend& be, const char* op, const Tensor& x, const Tensor* dy, int64_t dim, bool log) {
  SHEARS_CHECK(is_floating(x.dtype()), op, "expected a floating dtype (f32 or f64), got ", dtype_name(x.dtype()));
  if (dy) {
    SHEARS_CHECK(dy->shape() == x.shape(), op, "shape mismatch: ", shape_str(x.shape()), " and ",
                 shape_str(dy->shape()));
    SHEARS_CHECK(dy->dtype() == x.dtype(), op, "dtype mismatch: ", dtype_name(x.dtype()), " and ",
                 dtype_name(dy->dtype()));
  }
  if (x.dim() == 0) {
    normalize_dim(dim, 1, op);
    const Tensor x1 = reshape(x, {1});
    const Tensor dy1 = dy ? reshape(*dy, {1}) : Tensor();
    return reshape(dy ? be.softmax_backward(x1, dy1, 0, log) : be.softmax(x1, 0, log), {});
  }
  dim = normalize_dim(dim, x.dim(), op);
  return dy ? be.softmax_backward(x, *dy, dim, log) : be.softmax(x, dim, log);
}

}  // namespace

// ---------------- softmax family ----------------

Tensor softmax(const Tensor& x, int64_t dim) {
  SHEARS_PROFILE(Softmax);
  if (Backend* be = device_backend("softmax", {&x})) return device_rowwise(*be, "softmax", x, nullptr, dim, false);
  return rowwise("softmax", {x}, dim, [](const auto& in, int64_t off, auto* out, int64_t D) {
    softmax_row<std::remove_pointer_t<decltype(out)>, false>(in[0] + off, out, D);
  });
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
  SHEARS_PROFILE(Softmax);
  if (Backend* be = device_backend("log_softmax", {&x}))
    return device_rowwise(*be, "log_softmax", x, nullptr, dim, true);
  return rowwise("log_softmax", {x}, dim, [](const auto& in, int64_t off, auto* out, int64_t D) {
    softmax_row<std::remove_pointer_t<decltype(out)>, true>(in[0] + off, out, D);
  });
}

// y, dy: same shape; dx = y * (dy - sum_dim(dy * y))
Tensor softmax_backward(const Tensor& y, const Tensor& dy, int64_t dim) {
  SHEARS_PROFILE(Softmax);
  if (Backend* be = device_backend("softmax_backward", {&y, &dy}))
    return device_rowwise(*be, "softmax_backward", y, &dy, dim, false);
  return rowwise("softmax_backward", {y, dy}, dim,
                 [](const auto& in, int64_t off, auto* out, int64_t D) {
                   softmax_backward_row<std::remove_pointer_t<decltype(out)>, false>(
                       in[0] + off, in[1] + off, out, D);
                 });
}

// y = log_softmax(x), dy: same shape; dx = dy - exp(y) * sum_dim(dy)
Tensor log_softmax_backward(const Tensor& y, const Tensor& dy, int64_t dim) {
  SHEARS_PROFILE(Softmax);
  if (Backend* be = device_backend("log_softmax_backward", {&y, &dy}))
    return device_rowwise(*be, "log_softmax_backward", y, &dy, dim, true);
  return rowwise("log_softmax_backward", {y, dy}, dim,
                 [](const auto& in, int64_t off, auto* out, int64_t D) {
                   softmax_backward_row<std::remove_pointer_t<decltype(out)>, true>(
                       in[0] + off, in[1] + off, out, D);
                 });
}

// ---------------- layer norm ----------------

// x: (..., C); weight, bias: (C,) or undefined -> y: (..., C), mean, rstd: (rows,)
LayerNormResult layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  SHEARS_PROFILE(Norm);
  const char* op = "layer_norm";
  SHEARS_CHECK(x.dim() >= 1, op, "input needs at least 1 dim, got shape ", shape_str(x.shape()));
  SHEARS_CHECK(is_floating(x.dtype()), op, "expected a floating dtype (f32 or f64), got ",
               dtype_name(x.dtype()));
  const int64_t C = x.size(-1);
  SHEARS_CHECK(C > 0, op, "normalized dim has size 0 in shape ", shape_str(x.shape()));
  const Tensor xc = contiguous(x);
  const Tensor w = ln_param(weight, "weight", C, x.dtype(), op);
  const Tensor b = ln_param(bias, "bias", C, x.dtype(), op);
  if (Backend* be = device_backend(op, {&x, &weight, &bias})) return be->layer_norm(xc, w, b, eps);
  const int64_t rows = x.numel() / C;
  LayerNormResult res{Tensor::empty(x.shape(), x.dtype()), Tensor::empty({rows}, x.dtype()),
                      Tensor::empty({rows}, x.dtype())};
  SHEARS_DISPATCH_FLOAT(x.dtype(), op, [&] {
    layer_norm_impl<scalar_t>(xc.data<scalar_t>(), ptr_or_null<scalar_t>(w),
                              ptr_or_null<scalar_t>(b), eps, rows, C, res.y.data<scalar_t>(),
                              res.mean.data<scalar_t>(), res.rstd.data<scalar_t>());
  });
  return res;
}

AddLayerNormResult add_layer_norm(const Tensor& x, const Tensor& src, const Tensor& out_index, const Tensor& norm_index,
                                  const Tensor& weight, const Tensor& bias, double eps) {
  SHEARS_PROFILE(Norm);
  const char* op = "add_layer_norm";
  SHEARS_CHECK(x.dim() >= 1 && is_floating(x.dtype()), op, "expected a floating x with at least 1 dim, got ",
               dtype_name(x.dtype()), " of shape ", shape_str(x.shape()));
  SHEARS_CHECK(x.device().is_cpu() && src.device().is_cpu(), op, "runs on the CPU only (x on ", x.device().str(),
               ", src on ", src.device().str(), ")");
  const int64_t C = x.size(-1);
  SHEARS_CHECK(C > 0, op, "normalized dim has size 0 in shape ", shape_str(x.shape()));
  auto host_index = [&](const Tensor& index, const char* name) {
    SHEARS_CHECK(index.dtype() == DType::I64 && index.dim() == 1 && index.device().is_cpu(), op, name,
                 " must be a 1-d i64 CPU tensor, got ", dtype_name(index.dtype()), " of shape ",
                 shape_str(index.shape()));
    const Tensor idx = contiguous(index);
    const int64_t* ip = idx.numel() > 0 ? idx.data<int64_t>() : nullptr;
    for (int64_t j = 0; j < idx.numel(); ++j)
      SHEARS_CHECK(ip[j] >= 0 && ip[j] < C, op, name, " ", ip[j], " out of range for ", C, " channels");
    return idx;
  };
  const Tensor oi = out_index.defined() ? host_index(out_index, "out_index") : Tensor();
  const Tensor ni = norm_index.defined() ? host_index(norm_index, "norm_index") : Tensor();
  const int64_t ks = oi.defined() ? oi.numel() : C, kn = ni.defined() ? ni.numel() : C;
  Shape src_shape = x.shape(), h_shape = x.shape();
  src_shape.back() = ks;
  h_shape.back() = kn;
  SHEARS_CHECK(src.dtype() == x.dtype() && src.shape() == src_shape, op, "src must be ", dtype_name(x.dtype()), " ",
               shape_str(src_shape), ", got ", dtype_name(src.dtype()), " ", shape_str(src.shape()));
  channel_rows::AddAtPlan add_plan;
  if (oi.defined()) {
    add_plan = channel_rows::make_add_at_plan(ks > 0 ? oi.data<int64_t>() : nullptr, ks, C);
    SHEARS_CHECK(!add_plan.from.empty(), op, "out_index lists a channel twice; channels must be unique");
  }
  const Tensor w = ln_param(weight, "weight", kn, x.dtype(), op);
  const Tensor b = ln_param(bias, "bias", kn, x.dtype(), op);
  const int64_t* nip = ni.defined() && kn > 0 ? ni.data<int64_t>() : nullptr;
  channel_rows::SelectPlan select_plan;
  const bool float_select = x.dtype() == DType::F32 && ni.defined() && w.defined() && b.defined();
  if (float_select) select_plan = channel_rows::make_select_plan(nip, kn, C);
  const Tensor xc = contiguous(x), sc = contiguous(src);
  AddLayerNormResult res{Tensor::empty(x.shape(), x.dtype()), Tensor::empty(h_shape, x.dtype())};
  const int64_t rows = x.numel() / C;
  SHEARS_DISPATCH_FLOAT(x.dtype(), op, [&] {
    add_layer_norm_rows<scalar_t>(xc.data<scalar_t>(), sc.data<scalar_t>(), oi.defined() ? &add_plan : nullptr, ks,
                                  nip, float_select ? &select_plan : nullptr, kn, ptr_or_null<scalar_t>(w),
                                  ptr_or_null<scalar_t>(b), eps, rows, C, res.y.data<scalar_t>(), res.h.data<scalar_t>());
  });
  return res;
}

// x: (..., C); index: (k,) i64 in [0, C); weight, bias: (k,) or undefined -> y: (..., k)
LayerNormResult layer_norm_select(const Tensor& x, const Tensor& index, const Tensor& weight, const Tensor& bias,
                                  double eps) {
  SHEARS_PROFILE(Norm);
  const char* op = "layer_norm_select";
  SHEARS_CHECK(x.dim() >= 1, op, "input needs at least 1 dim, got shape ", shape_str(x.shape()));
  SHEARS_CHECK(is_floating(x.dtype()), op, "expected a floating dtype (f32 or f64), got ",
               dtype_name(x.dtype()));
  const int64_t C = x.size(-1);
  SHEARS_CHECK(C > 0, op, "normalized dim has size 0 in shape ", shape_str(x.shape()));
  SHEARS_CHECK(index.dtype() == DType::I64 && index.dim() == 1, op, "index must be 1-d i64, got ",
               dtype_name(index.dtype()), " of shape ", shape_str(index.shape()));
  const Tensor idx = contiguous(index);
  const int64_t k = idx.numel();
  if (Backend* be = device_backend(op, {&x, &idx, &weight, &bias}))  // index values checked on the device
    return be->layer_norm_select(contiguous(x), idx, ln_param(weight, "weight", k, x.dtype(), op),
                                 ln_param(bias, "bias", k, x.dtype(), op), eps);
  const int64_t* ip = k > 0 ? idx.data<int64_t>() : nullptr;
  for (int64_t j = 0; j < k; ++j)
    SHEARS_CHECK(ip[j] >= 0 && ip[j] < C, op, "index ", ip[j], " out of range for ", C, " channels");
  const Tensor xc = contiguous(x);
  const Tensor w = ln_param(weight, "weight", k, x.dtype(), op);
  const Tensor b = ln_param(bias, "bias", k, x.dtype(), op);
  const int64_t rows = x.numel() / C;
  Shape y_shape = x.shape();
  y_shape.back() = k;
  LayerNormResult res{Tensor::empty(y_shape, x.dtype()), Tensor::empty({rows}, x.dtype()),
                      Tensor::empty({rows}, x.dtype())};
  if (x.dtype() == DType::F32 && w.defined() && b.defined()) {
    layer_norm_select_f32_affine(xc.data<float>(), ip, k, w.data<float>(), b.data<float>(), eps, rows, C,
                                 res.y.data<float>(), res.mean.data<float>(), res.rstd.data<float>());
    return res;
  }
  SHEARS_DISPATCH_FLOAT(x.dtype(), op, [&] {
    layer_norm_select_impl<scalar_t>(xc.data<scalar_t>(), ip, k, ptr_or_null<scalar_t>(w),
                                     ptr_or_null<scalar_t>(b), eps, rows, C, res.y.data<scalar_t>(),
                                     res.mean.data<scalar_t>(), res.rstd.data<scalar_t>());
  });
  return res;
}

// dy, x: (..., C); mean, rstd: (rows,); weight: (C,) or undefined
LayerNormGrads layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& mean,
                                   const Tensor& rstd, const Tensor& weight, bool has_bias) {
  SHEARS_PROFILE(Norm);
  const char* op = "layer_norm_backward";
  SHEARS_CHECK(x.dim() >= 1 && dy.shape() == x.shape(), op, "dy ", shape_str(dy.shape()),
               " and x ", shape_str(x.shape()), " must have the same shape");
  SHEARS_CHECK(is_floating(x.dtype()), op, "expected a floating dtype (f32 or f64), got ",
               dtype_name(x.dtype()));
  const int64_t C = x.size(-1);
  const int64_t rows = C > 0 ? x.numel() / C : 0;
  for (const Tensor* t : {&dy, &mean, &rstd})
    SHEARS_CHECK(t->dtype() == x.dtype(), op, "dtype mismatch: ", dtype_name(x.dtype()), " and ",
                 dtype_name(t->dtype()));
  SHEARS_CHECK(mean.numel() == rows && rstd.numel() == rows, op, "mean/rstd must hold ", rows,
               " values, got shapes ", shape_str(mean.shape()), " and ", shape_str(rstd.shape()));
  const Tensor w = ln_param(weight, "weight", C, x.dtype(), op);
  const Tensor xc = contiguous(x), dyc = contiguous(dy);
  const Tensor mc = contiguous(mean), rc = contiguous(rstd);
  if (Backend* be = device_backend(op, {&dy, &x, &mean, &rstd, &weight}))
    return be->layer_norm_backward(dyc, xc, mc, rc, w, has_bias);
  LayerNormGrads g;
  g.dx = Tensor::empty(x.shape(), x.dtype());
  if (w.defined()) g.dweight = Tensor::empty({C}, x.dtype());
  if (has_bias) g.dbias = Tensor::empty({C}, x.dtype());
  SHEARS_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    T* dw = g.dweight.defined() ? g.dweight.data<T>() : nullptr;
    T* db = g.dbias.defined() ? g.dbias.data<T>() : nullptr;
    if (rows == 0) {  // nothing to normalize: zero parameter gradients
      if (dw) std::fill(dw, dw + C, T(0));
      if (db) std::fill(db, db + C, T(0));
      return;
    }
    layer_norm_backward_impl<T>(dyc.data<T>(), xc.data<T>(), mc.data<T>(), rc.data<T>(),
                                ptr_or_null<T>(w), rows, C, g.dx.data<T>(), dw, db);
  });
  return g;
}

}  // namespace shears::kernels
