// Row bodies for kernels over a subset of a row's channels (see channel_subset_rows.h).
#include "tensor/channel_subset_rows.h"

#include <algorithm>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "tensor/fast_math.h"

namespace shears::channel_rows {

AddAtPlan make_add_at_plan(const int64_t* idx, int64_t m, int64_t n) {
  AddAtPlan p;
  p.n = n;
  if (n >= (int64_t(1) << 31)) return p;
  std::vector<int32_t> from(size_t(n), -1);
  for (int64_t j = 0; j < m; ++j) {
    if (from[size_t(idx[j])] >= 0) return p;
    from[size_t(idx[j])] = int32_t(j);
  }
  p.from = std::move(from);
  p.ascending = true;
  for (int64_t c = 0, last = -1; c < n && p.ascending; ++c)
    if (p.from[size_t(c)] >= 0) p.ascending = p.from[size_t(c)] > last, last = p.from[size_t(c)];
  if (p.ascending) {
    const int64_t chunks = (n + 15) / 16;
    p.kept.assign(size_t(chunks), 0);
    p.first.assign(size_t(chunks), 0);
    for (int64_t c = n - 1; c >= 0; --c)
      if (p.from[size_t(c)] >= 0) {
        p.kept[size_t(c / 16)] = uint16_t(p.kept[size_t(c / 16)] | (1u << (c % 16)));
        p.first[size_t(c / 16)] = p.from[size_t(c)];
      }
  }
  return p;
}

void add_at_row(const float* b, const float* s, const AddAtPlan& p, float* o) {
  const int64_t n = p.n;
#if defined(__AVX512F__)
  if (p.ascending) {  // each chunk's source values are consecutive: one load, expanded to their lanes
    for (int64_t q = 0, c = 0; c < n; ++q, c += 16) {
      const __mmask16 lanes = n - c >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - c)) - 1);
      const __mmask16 kq = p.kept[size_t(q)];
      const __m512 bv = _mm512_maskz_loadu_ps(lanes, b + c);
      if (!kq) {
        _mm512_mask_storeu_ps(o + c, lanes, bv);
        continue;
      }
      const int cnt = __builtin_popcount(kq);
      const __m512 g =
          _mm512_maskz_expand_ps(kq, _mm512_maskz_loadu_ps(__mmask16((1u << cnt) - 1), s + p.first[size_t(q)]));
      _mm512_mask_storeu_ps(o + c, lanes, _mm512_mask_add_ps(bv, kq, bv, g));
    }
    return;
  }
  for (int64_t c = 0; c < n; c += 16) {  // any order: the source values gathered through `from`
    const __mmask16 lanes = n - c >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - c)) - 1);
    const __m512i f = _mm512_maskz_loadu_epi32(lanes, p.from.data() + c);
    const __mmask16 kept = _mm512_mask_cmpge_epi32_mask(lanes, f, _mm512_setzero_si512());
    const __m512 bv = _mm512_maskz_loadu_ps(lanes, b + c);
    const __m512 g = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), kept, f, s, 4);
    _mm512_mask_storeu_ps(o + c, lanes, _mm512_mask_add_ps(bv, kept, bv, g));
  }
#else
  for (int64_t c = 0; c < n; ++c) {
    const int32_t f = p.from[size_t(c)];
    o[c] = f >= 0 ? b[c] + s[f] : b[c];
  }
#endif
}

SelectPlan make_select_plan(const int64_t* idx, int64_t k, int64_t C) {
  SelectPlan p;
  p.C = C;
  p.k = k;
  p.idx.assign(idx, idx + k);
  p.off.resize(size_t(k));
  for (int64_t j = 0; j < k; ++j) p.off[size_t(j)] = int32_t(idx[j]);
  // Each vector of 16 outputs whose channels lie within 32 of its first (and, read as two vectors from there,
  // inside the row) is taken with two loads and one two-source permute instead of a gather.
  const int64_t nvec = (k + 15) / 16;
  p.base.assign(size_t(nvec), -1);
  p.perm.assign(size_t(nvec * 16), 0);
  for (int64_t v = 0; v < nvec; ++v) {
    const int64_t j0 = 16 * v, j1 = std::min(k, j0 + 16), lo = idx[j0];
    bool fits = lo + 32 <= C;
    for (int64_t j = j0; j < j1 && fits; ++j) fits = idx[j] >= lo && idx[j] < lo + 32;
    if (!fits) continue;
    p.base[size_t(v)] = lo;
    for (int64_t j = j0; j < j1; ++j) p.perm[size_t(j)] = int32_t(idx[j] - lo);
  }
  return p;
}

void layer_norm_select_row(const float* xr, float m, float s, const float* w, const float* b, const SelectPlan& p,
                           float* yr) {
  const int64_t k = p.k;
#if defined(__AVX512F__)
  const __m512 mv = _mm512_set1_ps(m), sv = _mm512_set1_ps(s);
  for (int64_t j = 0; j < k; j += 16) {
    const __mmask16 lanes = k - j >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (k - j)) - 1);
    const int64_t lo = p.base[size_t(j / 16)];
    __m512 xv;
    if (lo >= 0) {
      const __m512i q = _mm512_loadu_si512(p.perm.data() + j);
      xv = _mm512_permutex2var_ps(_mm512_loadu_ps(xr + lo), q, _mm512_loadu_ps(xr + lo + 16));
    } else {
      const __m512i o = _mm512_maskz_loadu_epi32(lanes, p.off.data() + j);
      xv = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes, o, xr, 4);
    }
    const __m512 t = _mm512_mul_ps(_mm512_sub_ps(xv, mv), sv);
    const __m512 yv = _mm512_fmadd_ps(t, _mm512_maskz_loadu_ps(lanes, w + j), _mm512_maskz_loadu_ps(lanes, b + j));
    _mm512_mask_storeu_ps(yr + j, lanes, yv);
  }
#else
  for (int64_t j = 0; j < k; ++j) yr[j] = fast_math::fmadd((xr[p.idx[size_t(j)]] - m) * s, w[j], b[j]);
#endif
}

}  // namespace shears::channel_rows
