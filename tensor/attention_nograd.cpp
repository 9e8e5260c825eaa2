// Fused no-grad attention core for float32: softmax(q k^T * scale) v per head without the
// (B, heads, N, N) probabilities and without an N x N tile per head. Work is split into blocks
// of 2 SIMD vectors of queries (32 on AVX-512, 16 on AVX2) of one (b, h), a last block of at most one
// vector's worth of queries run one vector wide; a block's scores
// (N keys x the block's queries, key-major, so every score vector holds one key for the
// block's queries) live in a per-thread buffer that stays in L1/L2, and the whole softmax is
// vectorised over queries: the row max and the row sum are lane-wise, never a horizontal
// reduction. Keys and values are read in place from the fused (B, N, 3C) layout (one scalar
// broadcast per key or value element), so nothing is packed but the block's queries (transposed).
// The output rows are divided by their sums once at the end (the probabilities themselves are
// never normalised). The scale is folded into the transposed queries, the row max is kept while the
// scores are written, and the exp of (score - max) <= 0 needs no overflow path (AVX-512: 2^n by
// vscalefps). Keys and value dims run in register blocks of KMAX with every tail in one pass; on AVX-512 each
// key or value element is broadcast inside the FMA's memory operand.
// Fixed summation order: the same bits for any thread count.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#include "tensor/attention_nograd.h"
#include "tensor/fast_math.h"
#include "tensor/parallel.h"

namespace shears::kernels {
namespace {

// A minimal SIMD vocabulary: V holds W floats. vmax(score, m) keeps m when the score is NaN (as
// fast_math::row_max skips NaN); vexp_nonpos is e^x for the x <= 0 (or NaN) of a softmax after its max
// subtraction, with fast_math::exp_f32's reduction and polynomial (AVX-512: the 2^n scale by vscalefps).
// KMAX: keys (or value dims) per register block, two accumulators each, as many as the registers hold.
#if defined(__AVX512F__)
using V = __m512;
constexpr int64_t W = 16;
constexpr int KMAX = 12;  // 24 accumulators of 32 zmm registers
inline V vzero() { return _mm512_setzero_ps(); }
inline V vset1(float x) { return _mm512_set1_ps(x); }
inline V vload(const float* p) { return _mm512_load_ps(p); }
inline void vstore(float* p, V v) { _mm512_store_ps(p, v); }
inline V vfma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
inline V vadd(V a, V b) { return _mm512_add_ps(a, b); }
inline V vsub(V a, V b) { return _mm512_sub_ps(a, b); }
// (the zero-masked spelling with a full mask is the same vmaxps; GCC 12 warns on the undefined source of _mm512_max_ps and _mm512_scalef_ps)
inline V vmax(V score, V m) { return _mm512_maskz_max_ps(__mmask16(0xFFFF), score, m); }
// acc + broadcast(*x) * b with the broadcast folded into the FMA's memory operand (compilers keep an explicit
// broadcast in a register: one more instruction per scalar)
inline V vfma_bcast(const float* x, V b, V acc) {
  asm("vfmadd231ps %[x]%{1to16%}, %[b], %[acc]" : [acc] "+v"(acc) : [b] "v"(b), [x] "m"(*x));
  return acc;
}
inline V vmul(V a, V b) { return _mm512_mul_ps(a, b); }
// max(-104, x): -inf -> e^-104, which rounds to 0; a NaN x (the second operand) passes
inline V vclamp_exp(V x) { return _mm512_maskz_max_ps(__mmask16(0xFFFF), vset1(-104.0f), x); }
inline V vexp_poly(V x, V& n);  // below, shared with AVX2
inline V vexp_nonpos(V x) {
  V n;
  const V p = vexp_poly(vclamp_exp(x), n);
  return _mm512_maskz_scalef_ps(__mmask16(0xFFFF), p, n);  // p * 2^n, rounded once (denormal results included)
}
#elif defined(__AVX2__) && defined(__FMA__)
using V = __m256;
constexpr int64_t W = 8;
constexpr int KMAX = 6;  // 12 accumulators of 16 ymm registers
inline V vzero() { return _mm256_setzero_ps(); }
inline V vset1(float x) { return _mm256_set1_ps(x); }
inline V vload(const float* p) { return _mm256_load_ps(p); }
inline void vstore(float* p, V v) { _mm256_store_ps(p, v); }
inline V vfma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
inline V vadd(V a, V b) { return _mm256_add_ps(a, b); }
inline V vsub(V a, V b) { return _mm256_sub_ps(a, b); }
inline V vmax(V score, V m) { return _mm256_max_ps(score, m); }
inline V vfma_bcast(const float* x, V b, V acc) { return _mm256_fmadd_ps(_mm256_set1_ps(*x), b, acc); }
inline V vmul(V a, V b) { return _mm256_mul_ps(a, b); }
inline V vclamp_exp(V x) { return _mm256_max_ps(vset1(-104.0f), x); }  // as AVX-512's
inline V vexp_poly(V x, V& n);
// 2^n as two multiplies by 2^(n/2) as in fast_math::exp_f32, so denormal results round as there (the same bits);
// a NaN's scale is garbage, but p is NaN already
inline V vexp_nonpos(V x) {
  V n;
  const V p = vexp_poly(vclamp_exp(x), n);
  const __m256i ni = _mm256_cvttps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const V s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const V s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return vmul(vmul(p, s1), s2);
}
#else
using V = float;
constexpr int64_t W = 1;
constexpr int KMAX = 4;
inline V vzero() { return 0.0f; }
inline V vset1(float x) { return x; }
inline V vload(const float* p) { return *p; }
inline void vstore(float* p, V v) { *p = v; }
inline V vfma(V a, V b, V c) { return fast_math::fmadd(a, b, c); }
inline V vadd(V a, V b) { return a + b; }
inline V vsub(V a, V b) { return a - b; }
inline V vmax(V score, V m) { return score > m ? score : m; }
inline V vfma_bcast(const float* x, V b, V acc) { return fast_math::fmadd(*x, b, acc); }
inline V vexp_nonpos(V x) { return fast_math::exp_f32(x); }
#endif

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
// fast_math::exp_f32's reduction x = n ln2 + r and polynomial p ~ e^r for an x already clamped below (x <= 0:
// no upper clamp); the caller scales p by 2^n
inline V vexp_poly(V x, V& n) {
  const V magic = vset1(12582912.0f);
  n = vsub(vfma(x, vset1(1.44269504088896341f), magic), magic);
  V r = vfma(n, vset1(-0.693359375f), x);
  r = vfma(n, vset1(2.12194440e-4f), r);
  V p = vfma(vset1(1.9875691500e-4f), r, vset1(1.3981999507e-3f));
  p = vfma(p, r, vset1(8.3334519073e-3f));
  p = vfma(p, r, vset1(4.1665795894e-2f));
  p = vfma(p, r, vset1(1.6666665459e-1f));
  p = vfma(p, r, vset1(5.0000001201e-1f));
  return vadd(vfma(p, vmul(r, r), r), vset1(1.0f));
}
#endif

constexpr int64_t QB = 2 * W;  // queries per block: two vectors

// Calls f(std::integral_constant<int, n>) for a runtime n in 1..KMAX: every tail of a register block
// runs as one pass with its own unrolled width.
template <int I = 1, typename F>
inline void with_width(int64_t n, F&& f) {
  if constexpr (I < KMAX) {
    if (n != I) return with_width<I + 1>(n, std::forward<F>(f));
  }
  f(std::integral_constant<int, I>{});
}

// Per-thread scratch, 64-byte aligned: the block's transposed queries (D x QB) and its scores
// (N x QB), then the output accumulators (D x QB) (a one-vector block uses the first half of each).
struct Scratch {
  std::vector<float> buf;
  float* qt = nullptr;
  float* s = nullptr;
  float* o = nullptr;
  void reserve(int64_t N, int64_t D) {
    const size_t need = static_cast<size_t>((2 * D + N) * QB + 16);
    if (buf.size() < need) buf.resize(need);
    float* p = buf.data();
    p += (64 - reinterpret_cast<uintptr_t>(p) % 64) % 64 / sizeof(float);
    qt = p;
    s = qt + D * QB;
    o = s + N * QB;
  }
};

// s[j] (one key j, NV vectors of queries) = sum_d k[j][d] qt[d] for KB keys j0 .. j0+KB-1 (qt carries the
// scale); m: the lane-wise running max of the scores. Rows of qt and s are NV * W floats.
template <int KB, int NV>
inline void scores_block(const float* k, int64_t ld, int64_t D, const float* qt, float* s, V (&m)[NV]) {
  constexpr int64_t R = NV * W;
  V a[NV][KB];
  for (int u = 0; u < NV; ++u)
    for (int j = 0; j < KB; ++j) a[u][j] = vzero();
  for (int64_t d = 0; d < D; ++d) {
    V q[NV];
    for (int u = 0; u < NV; ++u) q[u] = vload(qt + d * R + u * W);
    for (int j = 0; j < KB; ++j)
      for (int u = 0; u < NV; ++u) a[u][j] = vfma_bcast(k + j * ld + d, q[u], a[u][j]);
  }
  for (int j = 0; j < KB; ++j)
    for (int u = 0; u < NV; ++u) {
      vstore(s + j * R + u * W, a[u][j]);
      m[u] = vmax(a[u][j], m[u]);
    }
}

// o[d] (NV vectors of queries) = sum_j p[j] v[j][d] for DB value dims d0 .. d0+DB-1, over all N keys.
template <int DB, int NV>
inline void values_block(const float* v, int64_t ld, int64_t N, const float* p, float* o) {
  constexpr int64_t R = NV * W;
  V a[NV][DB];
  for (int u = 0; u < NV; ++u)
    for (int d = 0; d < DB; ++d) a[u][d] = vzero();
  for (int64_t j = 0; j < N; ++j) {
    V pj[NV];
    for (int u = 0; u < NV; ++u) pj[u] = vload(p + j * R + u * W);
    const float* vr = v + j * ld;
    for (int d = 0; d < DB; ++d)
      for (int u = 0; u < NV; ++u) a[u][d] = vfma_bcast(vr + d, pj[u], a[u][d]);
  }
  for (int d = 0; d < DB; ++d)
    for (int u = 0; u < NV; ++u) vstore(o + d * R + u * W, a[u][d]);
}

// One block of queries [i0, i0 + nq), nq <= NV * W, of head h of sample b. Every query lane sees the same
// operations in the same order whatever NV is: the bits do not depend on the blocking.
template <int NV>
void attention_block(const float* qkv, int64_t N, int64_t C, int64_t D, int64_t b, int64_t h, int64_t i0, int64_t nq,
                     float scale, float* out, Scratch& sc) {
  constexpr int64_t R = NV * W;
  const int64_t ld = 3 * C;
  const float* q = qkv + b * N * ld + h * D;
  const float* k = q + C;
  const float* v = q + 2 * C;
  // the next block's query rows (read once each, cold otherwise) are fetched while this block computes
  for (int64_t i = i0 + nq, iend = std::min(N, i0 + nq + 2 * W); i < iend; ++i)
    for (int64_t d = 0; d < D; d += 16) __builtin_prefetch(q + i * ld + d);
  // queries transposed and scaled, zero-padded to R (padded lanes get uniform probabilities and are dropped)
  std::fill(sc.qt, sc.qt + D * R, 0.0f);
  for (int64_t i = 0; i < nq; ++i)
    for (int64_t d = 0; d < D; ++d) sc.qt[d * R + i] = q[(i0 + i) * ld + d] * scale;
  // scores and their lane max, KMAX keys at a time, the tail in one pass
  V m[NV];
  for (int u = 0; u < NV; ++u) m[u] = vset1(-INFINITY);
  for (int64_t j = 0; j < N; j += KMAX)
    with_width(std::min<int64_t>(KMAX, N - j), [&](auto kb) {
      scores_block<decltype(kb)::value, NV>(k + j * ld, ld, D, sc.qt, sc.s + j * R, m);
    });
  // exp(score - max) in place and the lane sums (the row sums divide the output below)
  V l[NV];
  for (int u = 0; u < NV; ++u) l[u] = vzero();
  for (int64_t j = 0; j < N; ++j)
    for (int u = 0; u < NV; ++u) {
      float* row = sc.s + j * R + u * W;
      const V e = vexp_nonpos(vsub(vload(row), m[u]));
      vstore(row, e);
      l[u] = vadd(l[u], e);
    }
  alignas(64) float lsum[R];
  for (int u = 0; u < NV; ++u) vstore(lsum + u * W, l[u]);
  // p . v, KMAX value dims at a time, the tail in one pass
  for (int64_t d = 0; d < D; d += KMAX)
    with_width(std::min<int64_t>(KMAX, D - d), [&](auto db) {
      values_block<decltype(db)::value, NV>(v + d, ld, N, sc.s, sc.o + d * R);
    });
  // normalise and write the block's rows of head h
  for (int64_t i = 0; i < nq; ++i) {
    const float inv = 1.0f / lsum[i];
    float* orow = out + (b * N + i0 + i) * C + h * D;
    for (int64_t dd = 0; dd < D; ++dd) orow[dd] = sc.o[dd * R + i] * inv;
  }
}

}  // namespace

void attention_nograd_f32(const float* qkv, int64_t B, int64_t N, int64_t C, int64_t heads, double scale,
                          float* out) {
  const int64_t D = C / heads;
  // blocks of QB queries; a last block of at most W queries runs one vector wide (197 tokens: 6 x 32 + 16, not
  // 7 x 32 lanes)
  const int64_t full = N / QB, rest = N % QB;
  const int64_t blocks = full + (rest > 0);
  const bool narrow_last = rest > 0 && rest <= W;
  parallel_for(B * heads * blocks, 1, [&](int64_t t0, int64_t t1) {
    thread_local Scratch sc;
    sc.reserve(N, D);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t blk = t % blocks, bh = t / blocks;
      const int64_t i0 = blk * QB, nq = std::min(QB, N - i0);
      const float sc_scale = static_cast<float>(scale);
      if (narrow_last && blk == full)
        attention_block<1>(qkv, N, C, D, bh / heads, bh % heads, i0, nq, sc_scale, out, sc);
      else
        attention_block<2>(qkv, N, C, D, bh / heads, bh % heads, i0, nq, sc_scale, out, sc);
    }
  });
}

}  // namespace shears::kernels
