// Row bodies for kernels over a subset of a row's channels (see channel_subset_rows.h).
#include "tensor/channel_subset_rows.h"

#include <algorithm>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#include "tensor/fast_math.h"

namespace shears::channel_rows {
namespace {
// Channels per vector: a chunk of add_at_row's ascending path and a vector of layer_norm_select_row's outputs.
#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
constexpr int64_t kLanes = 8;
constexpr bool kAddUsesRank = true;  // add_at_row's permute reads AddAtPlan::rank (AVX-512 expands instead)
// lanes i < n of 8 as an integer mask vector (for masked loads and stores of a tail)
inline __m256i first_lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int32_t(std::min<int64_t>(n, 8))), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#else
constexpr int64_t kLanes = 16;
constexpr bool kAddUsesRank = false;
#endif
}  // namespace

AddAtPlan make_add_at_plan(const int64_t* idx, int64_t m, int64_t n) {
  AddAtPlan p;
  p.n = n;
  p.m = m;
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
    const int64_t chunks = (n + kLanes - 1) / kLanes;
    p.kept.assign(size_t(chunks), 0);
    p.first.assign(size_t(chunks), 0);
    for (int64_t c = n - 1; c >= 0; --c)
      if (p.from[size_t(c)] >= 0) {
        p.kept[size_t(c / kLanes)] = uint16_t(p.kept[size_t(c / kLanes)] | (1u << (c % kLanes)));
        p.first[size_t(c / kLanes)] = p.from[size_t(c)];
      }
    if (kAddUsesRank) {
      p.rank.assign(size_t(chunks * kLanes), 0);  // whole chunks: a tail chunk's vector load stays inside
      for (int64_t c = 0; c < n; ++c)
        if (p.from[size_t(c)] >= 0) p.rank[size_t(c)] = p.from[size_t(c)] - p.first[size_t(c / kLanes)];
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
#if defined(__AVX2__) && defined(__FMA__)
  if (p.ascending) {  // each chunk's source values are consecutive: one load, permuted to their lanes (by rank)
    // (full chunks load and store plainly: masked stores are slow on AMD Zen; the tail chunk is masked)
    const __m256i none = _mm256_set1_epi32(-1);
    for (int64_t q = 0, c = 0; c < n; ++q, c += 8) {
      const bool full = n - c >= 8;
      const __m256i lanes = first_lanes(n - c);
      const __m256 bv = full ? _mm256_loadu_ps(b + c) : _mm256_maskload_ps(b + c, lanes);
      const int cnt = __builtin_popcount(p.kept[size_t(q)]);
      __m256 ov = bv;
      if (cnt > 0) {
        const int32_t f = p.first[size_t(q)];  // 8 values from here inside the source row: one plain load
        const __m256 src = f + 8 <= p.m ? _mm256_loadu_ps(s + f) : _mm256_maskload_ps(s + f, first_lanes(cnt));
        const __m256 g =
            _mm256_permutevar8x32_ps(src, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.rank.data() + c)));
        // lanes with a source: b + s, the others b itself (-0.0 stays -0.0)
        const __m256i kept = _mm256_cmpgt_epi32(
            full ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.from.data() + c))
                 : _mm256_maskload_epi32(p.from.data() + c, lanes),
            none);
        ov = _mm256_blendv_ps(bv, _mm256_add_ps(bv, g), _mm256_castsi256_ps(kept));
      }
      if (full)
        _mm256_storeu_ps(o + c, ov);
      else
        _mm256_maskstore_ps(o + c, lanes, ov);
    }
    return;
  }
#endif
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
  // Each vector of kLanes outputs whose channels lie within 2 kLanes of its first (and, read as two vectors from
  // there, inside the row) is taken with two loads and permutes instead of a gather.
  const int64_t nvec = (k + kLanes - 1) / kLanes;
  p.base.assign(size_t(nvec), -1);
  p.perm.assign(size_t(nvec * kLanes), 0);
  for (int64_t v = 0; v < nvec; ++v) {
    const int64_t j0 = kLanes * v, j1 = std::min(k, j0 + kLanes), lo = idx[j0];
    bool fits = lo + 2 * kLanes <= C;
    for (int64_t j = j0; j < j1 && fits; ++j) fits = idx[j] >= lo && idx[j] < lo + 2 * kLanes;
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
#elif defined(__AVX2__) && defined(__FMA__)
  const __m256 mv = _mm256_set1_ps(m), sv = _mm256_set1_ps(s);
  const __m256i seven = _mm256_set1_epi32(7);
  for (int64_t j = 0; j < k; j += 8) {
    const bool full = k - j >= 8;
    const __m256i lanes = first_lanes(k - j);
    const int64_t lo = p.base[size_t(j / 8)];
    __m256 xv;
    if (lo >= 0) {  // two loads, each permuted; a lane takes the second when its offset is 8 or more
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.perm.data() + j));
      const __m256 a = _mm256_permutevar8x32_ps(_mm256_loadu_ps(xr + lo), q);
      const __m256 c = _mm256_permutevar8x32_ps(_mm256_loadu_ps(xr + lo + 8), q);
      xv = _mm256_blendv_ps(a, c, _mm256_castsi256_ps(_mm256_cmpgt_epi32(q, seven)));
    } else if (full) {  // eight scalar loads put into one vector (on a Zen 3, 6304 rows of 384 channels, 102 kept:
                        // 0.62-0.66 ms per call; vgatherdps 0.65-0.68, the loads through a stack array 0.72-0.76)
      const int32_t* o = p.off.data() + j;
      xv = _mm256_setr_ps(xr[o[0]], xr[o[1]], xr[o[2]], xr[o[3]], xr[o[4]], xr[o[5]], xr[o[6]], xr[o[7]]);
    } else {
      const int32_t* o = p.off.data() + j;
      alignas(32) float t[8] = {};
      for (int64_t l = 0; l < k - j; ++l) t[l] = xr[o[l]];
      xv = _mm256_load_ps(t);
    }
    const __m256 t = _mm256_mul_ps(_mm256_sub_ps(xv, mv), sv);
    if (full)
      _mm256_storeu_ps(yr + j, _mm256_fmadd_ps(t, _mm256_loadu_ps(w + j), _mm256_loadu_ps(b + j)));
    else
      _mm256_maskstore_ps(yr + j, lanes, _mm256_fmadd_ps(t, _mm256_maskload_ps(w + j, lanes), _mm256_maskload_ps(b + j, lanes)));
  }
#else
  for (int64_t j = 0; j < k; ++j) yr[j] = fast_math::fmadd((xr[p.idx[size_t(j)]] - m) * s, w[j], b[j]);
#endif
}

}  // namespace shears::channel_rows
