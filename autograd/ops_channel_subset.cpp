// Differentiable ops for branches that read or write a subset of a tensor's channels (P3B's
// sliced blocks): index_add (base plus src added at an index, one pass when the dim is last and
// both are contiguous) and layer_norm_select (layer_norm over all channels writing only some).
#include <cstdint>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "autograd/ops.h"
#include "tensor/parallel.h"
#include "tensor/profile.h"

namespace shears {

namespace K = kernels;

namespace {

// out[r, :] = base[r, :], then out[r, idx[j]] += src[r, j] for j in order; rows of n and m elements
template <typename T>
void index_add_rows(const T* base, const T* src, const int64_t* idx, int64_t rows, int64_t n, int64_t m, T* out) {
  parallel_for(rows, grain_for(n + m), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* __restrict b = base + r * n;
      const T* __restrict s = src + r * m;
      T* __restrict o = out + r * n;
      for (int64_t c = 0; c < n; ++c) o[c] = b[c];
      for (int64_t j = 0; j < m; ++j) o[idx[j]] += s[j];
    }
  });
}

#if defined(__AVX512F__)
// The same for float when no channel repeats, as one pass over each output row: 16 channels at a time,
// the kept ones added, the others copied (so -0.0 stays -0.0): the bits of index_add_rows. The kept values
// come from src through the inverse index (the src position of each channel, -1 for none): loaded in one
// piece and expanded when those positions ascend along the channels, else gathered.
void index_add_rows_unique(const float* base, const float* src, const std::vector<int32_t>& from, int64_t rows,
                           int64_t n, int64_t m, float* out) {
  // Ascending src positions along the channels (how slicing lists them): each chunk's kept values are
  // consecutive in src, loaded at once and expanded to their lanes (no gathers).
  bool ascending = true;
  for (int64_t c = 0, last = -1; c < n && ascending; ++c)
    if (from[size_t(c)] >= 0) ascending = from[size_t(c)] > last, last = from[size_t(c)];
  if (ascending) {
    const int64_t chunks = (n + 15) / 16;
    std::vector<__mmask16> kept(size_t(chunks), 0);
    std::vector<int32_t> first(size_t(chunks), 0);  // src position of the chunk's first kept channel
    for (int64_t c = n - 1; c >= 0; --c)
      if (from[size_t(c)] >= 0) {
        kept[size_t(c / 16)] = __mmask16(kept[size_t(c / 16)] | (1u << (c % 16)));
        first[size_t(c / 16)] = from[size_t(c)];
      }
    parallel_for(rows, grain_for(n + m), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* b = base + r * n;
        const float* s = src + r * m;
        float* o = out + r * n;
        for (int64_t q = 0; q < chunks; ++q) {
          const int64_t c = 16 * q;
          const __mmask16 lanes = n - c >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - c)) - 1);
          const __mmask16 kq = kept[size_t(q)];
          const __m512 bv = _mm512_maskz_loadu_ps(lanes, b + c);
          if (!kq) {
            _mm512_mask_storeu_ps(o + c, lanes, bv);
            continue;
          }
          const int cnt = __builtin_popcount(kq);
          const __m512 g = _mm512_maskz_expand_ps(kq, _mm512_maskz_loadu_ps(__mmask16((1u << cnt) - 1), s + first[size_t(q)]));
          _mm512_mask_storeu_ps(o + c, lanes, _mm512_mask_add_ps(bv, kq, bv, g));
        }
      }
    });
    return;
  }
  parallel_for(rows, grain_for(n + m), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* b = base + r * n;
      const float* s = src + r * m;
      float* o = out + r * n;
      for (int64_t c = 0; c < n; c += 16) {
        const __mmask16 lanes = n - c >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - c)) - 1);
        const __m512i f = _mm512_maskz_loadu_epi32(lanes, from.data() + c);
        const __mmask16 kept = _mm512_mask_cmpge_epi32_mask(lanes, f, _mm512_setzero_si512());
        const __m512 bv = _mm512_maskz_loadu_ps(lanes, b + c);
        const __m512 g = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), kept, f, s, 4);
        _mm512_mask_storeu_ps(o + c, lanes, _mm512_mask_add_ps(bv, kept, bv, g));
      }
    }
  });
}
#endif

// The inverse of a channel index over n channels (from[idx[j]] = j, -1 elsewhere); empty when a channel
// repeats (then the adds must happen in index order) or n does not fit the 32-bit gather offsets.
std::vector<int32_t> inverse_index(const int64_t* idx, int64_t m, int64_t n) {
  if (n >= (int64_t(1) << 31)) return {};
  std::vector<int32_t> from(size_t(n), -1);
  for (int64_t j = 0; j < m; ++j) {
    if (from[size_t(idx[j])] >= 0) return {};
    from[size_t(idx[j])] = int32_t(j);
  }
  return from;
}

// records index_add's backward: dbase = dy, dsrc = index_select(dy, dim, index)
Tensor record_index_add(const char* op, const Tensor& y, const Tensor& base, const Tensor& src, int64_t d,
                        const Tensor& idx) {
  return record(op, y, {base, src}, [d, idx](const Tensor& dy) {
    Tensor dsrc;
    if (input_needs_grad(1)) dsrc = K::index_select(dy, d, idx);
    return TensorList{dy, dsrc};
  });
}

}  // namespace

// y = base with src added at index along dim;  dbase = dy, dsrc = index_select(dy, dim, index)
Tensor index_add(const Tensor& base, int64_t dim, const Tensor& index, const Tensor& src) {
  const char* op = "index_add";
  SHEARS_CHECK(base.dim() >= 1, op, "base needs at least 1 dim, got shape ", shape_str(base.shape()));
  const int64_t d = normalize_dim(dim, base.dim(), op);
  SHEARS_CHECK(index.dtype() == DType::I64 && index.dim() == 1, op, "index must be 1-d i64, got ",
               dtype_name(index.dtype()), " of shape ", shape_str(index.shape()));
  SHEARS_CHECK(src.dtype() == base.dtype(), op, "src dtype ", dtype_name(src.dtype()), " does not match base dtype ",
               dtype_name(base.dtype()));
  Shape want = base.shape();
  want[size_t(d)] = index.numel();
  SHEARS_CHECK(src.shape() == want, op, "src shape ", shape_str(src.shape()), " must be base shape ",
               shape_str(base.shape()), " with dim ", d, " of size ", index.numel(), ", i.e. ", shape_str(want));
  const Tensor idx = K::contiguous(index);
  const int64_t n = base.size(d), m = idx.numel();
  const bool on_host = idx.device().is_cpu();  // on a device the kernel checks the values
  const int64_t* ip = m > 0 && on_host ? idx.data<int64_t>() : nullptr;
  for (int64_t j = 0; on_host && j < m; ++j)
    SHEARS_CHECK(ip[j] >= 0 && ip[j] < n, op, "index ", ip[j], " out of range for dim ", d, " of size ", n);
  Tensor y;
  if (on_host && base.device().is_cpu() && src.device().is_cpu() && d == base.dim() - 1 && is_floating(base.dtype()) && base.is_contiguous() && src.is_contiguous() && n > 0) {
    SHEARS_PROFILE(Indexing);
    y = Tensor::empty(base.shape(), base.dtype());
#if defined(__AVX512F__)
    if (base.dtype() == DType::F32) {
      const std::vector<int32_t> from = inverse_index(ip, m, n);
      if (!from.empty()) {
        index_add_rows_unique(base.data<float>(), src.data<float>(), from, base.numel() / n, n, m, y.data<float>());
        return record_index_add(op, y, base, src, d, idx);
      }
    }
#endif
    SHEARS_DISPATCH_FLOAT(base.dtype(), op, [&] {
      index_add_rows<scalar_t>(base.data<scalar_t>(), src.data<scalar_t>(), ip, base.numel() / n, n, m,
                               y.data<scalar_t>());
    });
  } else {  // any dim or layout: a copy, then the in-place kernel
    y = K::clone(base);
    K::index_add_(y, d, idx, src);
  }
  return record_index_add(op, y, base, src, d, idx);
}

// y = layer_norm(x, ones, zeros)[..., index] * weight + bias, statistics over all C channels.
// Backward: the layer_norm backward of the full width with dy and weight placed at index (zeros
// elsewhere), the parameter gradients taken back at index (hence index must be unique).
Tensor layer_norm_select(const Tensor& x, const Tensor& index, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "layer_norm_select";
  K::LayerNormResult r = K::layer_norm_select(x, index, weight, bias, eps);  // checks shapes and range
  const Tensor idx = K::contiguous(index);
  const int64_t C = x.size(-1), k = idx.numel();
  {
    std::vector<bool> seen(size_t(C), false);
    const Tensor host_idx = idx.cpu();
    const int64_t* ip = k > 0 ? host_idx.data<int64_t>() : nullptr;
    for (int64_t j = 0; j < k; ++j) {
      SHEARS_CHECK(!seen[size_t(ip[j])], op, "index lists channel ", ip[j], " twice; channels must be unique");
      seen[size_t(ip[j])] = true;
    }
  }
  const bool has_bias = bias.defined();
  return record(op, r.y, {x, weight, bias}, [x, idx, weight, has_bias, r, C](const Tensor& dy) {
    Shape full = x.shape();
    Tensor dy_full = zeros(full, dy.dtype(), dy.device());
    K::index_add_(dy_full, -1, idx, dy);
    Tensor w_full;
    if (weight.defined()) {
      w_full = zeros({C}, weight.dtype(), weight.device());
      K::index_add_(w_full, 0, idx, weight);
    }
    K::LayerNormGrads g = K::layer_norm_backward(dy_full, x, r.mean, r.rstd, w_full, has_bias);
    Tensor dweight = g.dweight.defined() ? K::index_select(g.dweight, 0, idx) : Tensor();
    Tensor dbias = g.dbias.defined() ? K::index_select(g.dbias, 0, idx) : Tensor();
    return TensorList{g.dx, dweight, dbias};
  });
}

}  // namespace shears
