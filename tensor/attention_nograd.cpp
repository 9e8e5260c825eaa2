// Fused no-grad attention core for float32: softmax(q k^T * scale) v per head without the
// (B, heads, N, N) probabilities and without an N x N tile per head. A task is one (b, h) (or a run of its
// query blocks when there are few heads for many threads): it first copies the head's keys and values
// into contiguous (N, D) rows of a per-thread buffer (in the fused (B, N, 3C) layout they are D floats
// every 3C, which the hardware prefetchers follow badly: the copy made the score and value loops ~20%
// faster on a Zen 3), then runs its query blocks. A block is 2 SIMD vectors of queries (32 on AVX-512,
// 16 on AVX2), a last block of at most one vector's worth of queries run one vector wide; a block's scores
// (N keys x the block's queries, key-major, so every score vector holds one key for the
// block's queries) live in a per-thread buffer that stays in L1/L2, and the whole softmax is
// vectorised over queries: the row max and the row sum are lane-wise, never a horizontal
// reduction. The block's queries are transposed (and scaled) into it by 8 x 8 register transposes, and
// the output rows come back the same way. The output rows are divided by their sums once at the end
// (the probabilities themselves are never normalised). The row max is kept while the scores are
// written; the exp of (score - max) <= 0 is its own (see vexp_nonpos: about 1 ulp on [-87, 0], below
// that e^-87). Keys and value dims run in register blocks of KMAX with every tail in one pass; on
// AVX-512 each key or value element is broadcast inside the FMA's memory operand.
// Fixed summation order: the same bits for any thread count, and on AVX-512, AVX2 and a scalar build with FMA
// (checked AVX2 against -march=x86-64 -mfma on 7 shapes; without FMA the scalar build rounds products apart).
#include <algorithm>
#include <cmath>
#include <cstring>
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
// fast_math::row_max skips NaN); vexp_nonpos (below) is e^x for the x <= 0 (or NaN) of a softmax after its max
// subtraction. KMAX: keys (or value dims) per register block, two accumulators each, as many as the registers hold.
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
// max(-87, x) (see vexp_nonpos); a NaN x (the second operand) passes
inline V vclamp_exp(V x) { return _mm512_maskz_max_ps(__mmask16(0xFFFF), vset1(-87.0f), x); }
// 2^n from t = x log2(e) + 1.5 * 2^23 + 127 (vexp_nonpos): n + 127 sits in t's low mantissa bits
inline V vpow2_from_magic(V t) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(t), 23)); }
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
inline V vclamp_exp(V x) { return _mm256_max_ps(vset1(-87.0f), x); }  // as AVX-512's
inline V vpow2_from_magic(V t) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23)); }
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
inline V vmul(V a, V b) { return a * b; }
inline V vclamp_exp(V x) { return x < -87.0f ? -87.0f : x; }  // NaN compares false and passes
inline V vpow2_from_magic(V t) {
  uint32_t bits;
  std::memcpy(&bits, &t, sizeof bits);
  bits <<= 23;
  std::memcpy(&t, &bits, sizeof bits);
  return t;
}
#endif

// e^x for x <= 0 (the scores after their row max is subtracted) or NaN, the same operations on every ISA (so the
// same bits): x = n ln2 + r with n = round(x log2(e)) (Cody-Waite, the ln2 split of fast_math::exp_f32),
// e^r ~ 1 + r + r^2 P(r) with P of degree 4 (near-minimax on [-ln2/2, ln2/2] by interpolation at Chebyshev
// nodes: 9.7e-9 relative), scaled by 2^n built from the rounding constant's bits (one integer shift and one
// multiply instead of fast_math::exp_f32's two half scales). Checked against double exp over every float in
// [-87, 0]: at most 1.06 ulp (8.9e-8 relative), denormal results included. The clamp at -87 keeps 2^n normal
// (n >= -126): x < -87, -inf included, gives e^-87 = 1.6e-38 instead of a smaller number or 0, a weight at most
// 1.6e-38 of the row maximum's 1. A NaN x gives NaN (p is NaN; the scale's bits do not matter).
inline V vexp_nonpos(V x) {
  const V kMagic = vset1(12583039.0f);  // 1.5 * 2^23 + 127: adding it rounds to an integer and biases n by 127
  x = vclamp_exp(x);
  const V t = vfma(x, vset1(1.44269504088896341f), kMagic);
  const V n = vsub(t, kMagic);
  V r = vfma(n, vset1(-0.693359375f), x);
  r = vfma(n, vset1(2.12194440e-4f), r);
  V p = vfma(vset1(1.3926175889e-3f), r, vset1(8.3631733432e-3f));
  p = vfma(p, r, vset1(4.1666556150e-2f));
  p = vfma(p, r, vset1(1.6666577756e-1f));
  p = vfma(p, r, vset1(0.5f));
  p = vadd(vfma(p, vmul(r, r), r), vset1(1.0f));
  return vmul(p, vpow2_from_magic(t));
}

constexpr int64_t QB = 2 * W;  // queries per block: two vectors


#if defined(__AVX2__)
// 8 x 8 transpose of r[0..7] in registers (r[t] lane u -> r[u] lane t)
inline void transpose8(__m256 (&r)[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}
#endif

// qt[d * R + i] = q[i * ld + d] * scale for i < nq, d < D; lanes nq .. R of every row zero
template <int64_t R>
inline void load_queries_transposed(const float* q, int64_t ld, int64_t nq, int64_t D, float scale, float* qt) {
  int64_t i = 0;
#if defined(__AVX2__)
  const int64_t D8 = D / 8 * 8;
  const __m256 vs = _mm256_set1_ps(scale);
  for (; i + 8 <= nq; i += 8) {
    for (int64_t d = 0; d < D8; d += 8) {
      __m256 r[8];
      for (int t = 0; t < 8; ++t) r[t] = _mm256_mul_ps(_mm256_loadu_ps(q + (i + t) * ld + d), vs);
      transpose8(r);
      for (int t = 0; t < 8; ++t) _mm256_store_ps(qt + (d + t) * R + i, r[t]);
    }
    for (int64_t d = D8; d < D; ++d)
      for (int64_t t = 0; t < 8; ++t) qt[d * R + i + t] = q[(i + t) * ld + d] * scale;
  }
#endif
  for (int64_t d = 0; d < D; ++d) {
    float* row = qt + d * R;
    for (int64_t ii = i; ii < nq; ++ii) row[ii] = q[ii * ld + d] * scale;
    for (int64_t ii = nq; ii < R; ++ii) row[ii] = 0.0f;
  }
}

// out[i * ldo + d] = o[d * R + i] * (1 / lsum[i]) for i < nq, d < D
template <int64_t R>
inline void store_outputs_transposed(const float* o, const float* lsum, int64_t nq, int64_t D, float* out,
                                     int64_t ldo) {
  alignas(64) float inv[R];
  for (int64_t i = 0; i < nq; ++i) inv[i] = 1.0f / lsum[i];
  int64_t i = 0;
#if defined(__AVX2__)
  const int64_t D8 = D / 8 * 8;
  for (; i + 8 <= nq; i += 8) {
    __m256 vi[8];
    for (int t = 0; t < 8; ++t) vi[t] = _mm256_set1_ps(inv[i + t]);
    for (int64_t d = 0; d < D8; d += 8) {
      __m256 r[8];
      for (int t = 0; t < 8; ++t) r[t] = _mm256_load_ps(o + (d + t) * R + i);
      transpose8(r);
      for (int t = 0; t < 8; ++t) _mm256_storeu_ps(out + (i + t) * ldo + d, _mm256_mul_ps(r[t], vi[t]));
    }
    for (int64_t t = 0; t < 8; ++t)
      for (int64_t d = D8; d < D; ++d) out[(i + t) * ldo + d] = o[d * R + i + t] * inv[i + t];
  }
#endif
  for (; i < nq; ++i)
    for (int64_t d = 0; d < D; ++d) out[i * ldo + d] = o[d * R + i] * inv[i];
}

// Query blocks a task needs before its head's keys and values are copied into contiguous rows (a guess from
// the Zen 3 harness: 197 tokens (13 blocks) gain ~10%, 17 tokens (2 blocks) lost ~5-10% with the copy).
constexpr int64_t kMinBlocksToCopy = 4;

// dst (N, D) contiguous = the N rows of D floats at src, src + ld, ...: a head's keys or values
inline void copy_rows(const float* src, int64_t ld, int64_t N, int64_t D, float* dst) {
#if defined(__AVX2__)
  if (D >= 8) {
    for (int64_t j = 0; j < N; ++j, src += ld, dst += D) {
      int64_t d = 0;
      for (; d + 8 <= D; d += 8) _mm256_storeu_ps(dst + d, _mm256_loadu_ps(src + d));
      if (d < D) _mm256_storeu_ps(dst + D - 8, _mm256_loadu_ps(src + D - 8));  // the tail, overlapping
    }
    return;
  }
#endif
  for (int64_t j = 0; j < N; ++j) std::memcpy(dst + j * D, src + j * ld, size_t(D) * sizeof(float));
}

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
// (N x QB), then the output accumulators (D x QB) (a one-vector block uses the first half of each),
// then the head's keys and values as contiguous (N, D) rows.
struct Scratch {
  std::vector<float> buf;
  float* qt = nullptr;
  float* s = nullptr;
  float* o = nullptr;
  float* k = nullptr;
  float* v = nullptr;
  void reserve(int64_t N, int64_t D) {
    const size_t need = static_cast<size_t>((2 * D + N) * QB + 2 * N * D + 16);
    if (buf.size() < need) buf.resize(need);
    float* p = buf.data();
    p += (64 - reinterpret_cast<uintptr_t>(p) % 64) % 64 / sizeof(float);
    qt = p;
    s = qt + D * QB;
    o = s + N * QB;
    k = o + D * QB;
    v = k + N * D;
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

// One block of queries [i0, i0 + nq), nq <= NV * W, of head h of sample b, whose keys and values are the N rows
// at k and v, ldkv apart. Every query lane sees the same operations in the same order whatever NV is: the bits
// do not depend on the blocking.
template <int NV>
void attention_block(const float* qkv, int64_t N, int64_t C, int64_t D, int64_t b, int64_t h, int64_t i0, int64_t nq,
                     float scale, float* out, Scratch& sc, const float* k, const float* v, int64_t ldkv) {
  constexpr int64_t R = NV * W;
  const int64_t ld = 3 * C;
  const float* q = qkv + b * N * ld + h * D;
  // the next block's query rows (read once each, cold otherwise) are fetched while this block computes
  for (int64_t i = i0 + nq, iend = std::min(N, i0 + nq + 2 * W); i < iend; ++i)
    for (int64_t d = 0; d < D; d += 16) __builtin_prefetch(q + i * ld + d);
  // queries transposed and scaled, zero-padded to R (padded lanes get uniform probabilities and are dropped)
  load_queries_transposed<R>(q + i0 * ld, ld, nq, D, scale, sc.qt);
  // scores and their lane max, KMAX keys at a time, the tail in one pass
  V m[NV];
  for (int u = 0; u < NV; ++u) m[u] = vset1(-INFINITY);
  for (int64_t j = 0; j < N; j += KMAX)
    with_width(std::min<int64_t>(KMAX, N - j), [&](auto kb) {
      scores_block<decltype(kb)::value, NV>(k + j * ldkv, ldkv, D, sc.qt, sc.s + j * R, m);
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
      values_block<decltype(db)::value, NV>(v + d, ldkv, N, sc.s, sc.o + d * R);
    });
  // normalise and write the block's rows of head h
  store_outputs_transposed<R>(sc.o, lsum, nq, D, out + (b * N + i0) * C + h * D, C);
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
  // tasks: (b, h) x a run of query blocks; one run per head unless there are few heads for the threads
  // (each run copies its head's keys and values once, when it has blocks enough to pay for the copy: with 1-3
  // blocks, e.g. 17 tokens, they are read in place, where they stay in L1); the split never changes the bits
  const int64_t runs = std::min(blocks, std::max<int64_t>(1, 4 * get_num_threads() / std::max<int64_t>(1, B * heads)));
  const int64_t per_run = (blocks + runs - 1) / runs;
  parallel_for(B * heads * runs, 1, [&](int64_t t0, int64_t t1) {
    thread_local Scratch sc;
    sc.reserve(N, D);
    const float sc_scale = static_cast<float>(scale);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t run = t % runs, bh = t / runs, b = bh / heads, h = bh % heads;
      const int64_t blk0 = run * per_run, blk1 = std::min(blocks, blk0 + per_run);
      if (blk0 >= blk1) continue;
      const float* k = qkv + b * N * 3 * C + C + h * D;
      const float* v = k + C;
      int64_t ldkv = 3 * C;
      if (blk1 - blk0 >= kMinBlocksToCopy) {
        copy_rows(k, ldkv, N, D, sc.k);
        copy_rows(v, ldkv, N, D, sc.v);
        k = sc.k, v = sc.v, ldkv = D;
      }
      for (int64_t blk = blk0; blk < blk1; ++blk) {
        const int64_t i0 = blk * QB, nq = std::min(QB, N - i0);
        if (narrow_last && blk == full)
          attention_block<1>(qkv, N, C, D, b, h, i0, nq, sc_scale, out, sc, k, v, ldkv);
        else
          attention_block<2>(qkv, N, C, D, b, h, i0, nq, sc_scale, out, sc, k, v, ldkv);
      }
    }
  });
}

}  // namespace shears::kernels
