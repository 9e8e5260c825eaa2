// Fused no-grad attention core for float32: softmax(q k^T * scale) v per head without the
// (B, heads, N, N) probabilities and without an N x N tile per head. Work is split into blocks
// of 2 SIMD vectors of queries (32 on AVX-512, 16 on AVX2) of one (b, h); a block's scores
// (N keys x the block's queries, key-major, so every score vector holds one key for the
// block's queries) live in a per-thread buffer that stays in L1/L2, and the whole softmax is
// vectorised over queries: the row max and the row sum are lane-wise, never a horizontal
// reduction. Keys and values are read in place from the fused (B, N, 3C) layout (one scalar
// broadcast per key or value element), so nothing is packed but the block's queries (transposed).
// The output rows are divided by their sums once at the end (the probabilities themselves are
// never normalised). Fixed summation order: the same bits for any thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#include "tensor/attention_nograd.h"
#include "tensor/fast_math.h"
#include "tensor/parallel.h"

namespace shears::kernels {
namespace {

// A minimal SIMD vocabulary: V holds W floats.
#if defined(__AVX512F__)
using V = __m512;
constexpr int64_t W = 16;
inline V vzero() { return _mm512_setzero_ps(); }
inline V vset1(float x) { return _mm512_set1_ps(x); }
inline V vload(const float* p) { return _mm512_load_ps(p); }
inline void vstore(float* p, V v) { _mm512_store_ps(p, v); }
inline V vfma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
inline V vmul(V a, V b) { return _mm512_mul_ps(a, b); }
#elif defined(__AVX2__) && defined(__FMA__)
using V = __m256;
constexpr int64_t W = 8;
inline V vzero() { return _mm256_setzero_ps(); }
inline V vset1(float x) { return _mm256_set1_ps(x); }
inline V vload(const float* p) { return _mm256_load_ps(p); }
inline void vstore(float* p, V v) { _mm256_store_ps(p, v); }
inline V vfma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
inline V vmul(V a, V b) { return _mm256_mul_ps(a, b); }
#else
using V = float;
constexpr int64_t W = 1;
inline V vzero() { return 0.0f; }
inline V vset1(float x) { return x; }
inline V vload(const float* p) { return *p; }
inline void vstore(float* p, V v) { *p = v; }
inline V vfma(V a, V b, V c) { return fast_math::fmadd(a, b, c); }
inline V vmul(V a, V b) { return a * b; }
#endif

constexpr int64_t QB = 2 * W;  // queries per block: two vectors

// Per-thread scratch, 64-byte aligned: the block's transposed queries (D x QB) and its scores
// (N x QB), then the output accumulators (D x QB).
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

// s[j] (one key j, QB queries) = scale * sum_d k[j][d] qt[d] for KB keys j0 .. j0+KB-1.
template <int KB>
inline void scores_block(const float* k, int64_t ld, int64_t D, const float* qt, float scale, float* s) {
  V a0[KB], a1[KB];
  for (int j = 0; j < KB; ++j) a0[j] = a1[j] = vzero();
  for (int64_t d = 0; d < D; ++d) {
    const V q0 = vload(qt + d * QB), q1 = vload(qt + d * QB + W);
    for (int j = 0; j < KB; ++j) {
      const V kv = vset1(k[j * ld + d]);
      a0[j] = vfma(kv, q0, a0[j]);
      a1[j] = vfma(kv, q1, a1[j]);
    }
  }
  const V sc = vset1(scale);
  for (int j = 0; j < KB; ++j) {
    vstore(s + j * QB, vmul(a0[j], sc));
    vstore(s + j * QB + W, vmul(a1[j], sc));
  }
}

// o[d] (QB queries) = sum_j p[j] v[j][d] for DB value dims d0 .. d0+DB-1, over all N keys.
template <int DB>
inline void values_block(const float* v, int64_t ld, int64_t N, const float* p, float* o) {
  V a0[DB], a1[DB];
  for (int d = 0; d < DB; ++d) a0[d] = a1[d] = vzero();
  for (int64_t j = 0; j < N; ++j) {
    const V p0 = vload(p + j * QB), p1 = vload(p + j * QB + W);
    const float* vr = v + j * ld;
    for (int d = 0; d < DB; ++d) {
      const V vv = vset1(vr[d]);
      a0[d] = vfma(vv, p0, a0[d]);
      a1[d] = vfma(vv, p1, a1[d]);
    }
  }
  for (int d = 0; d < DB; ++d) {
    vstore(o + d * QB, a0[d]);
    vstore(o + d * QB + W, a1[d]);
  }
}

// One block of queries [i0, i0 + nq) of head h of sample b.
void attention_block(const float* qkv, int64_t N, int64_t C, int64_t D, int64_t b, int64_t h, int64_t i0, int64_t nq,
                     float scale, float* out, Scratch& sc) {
  const int64_t ld = 3 * C;
  const float* q = qkv + b * N * ld + h * D;
  const float* k = q + C;
  const float* v = q + 2 * C;
  // queries transposed, zero-padded to QB (padded lanes get uniform probabilities and are dropped)
  std::fill(sc.qt, sc.qt + D * QB, 0.0f);
  for (int64_t i = 0; i < nq; ++i)
    for (int64_t d = 0; d < D; ++d) sc.qt[d * QB + i] = q[(i0 + i) * ld + d];
  // scores, 8 keys at a time
  int64_t j = 0;
  for (; j + 8 <= N; j += 8) scores_block<8>(k + j * ld, ld, D, sc.qt, scale, sc.s + j * QB);
  for (; j + 4 <= N; j += 4) scores_block<4>(k + j * ld, ld, D, sc.qt, scale, sc.s + j * QB);
  for (; j < N; ++j) scores_block<1>(k + j * ld, ld, D, sc.qt, scale, sc.s + j * QB);
  // softmax over keys, lane-wise: max, exp and sum (the row sums divide the output below)
  alignas(64) float m[QB], l[QB];
  for (int64_t c = 0; c < QB; ++c) m[c] = -INFINITY, l[c] = 0.0f;
  for (int64_t jj = 0; jj < N; ++jj) {  // NaN scores are skipped by the max, as in fast_math::row_max
    const float* row = sc.s + jj * QB;
    for (int64_t c = 0; c < QB; ++c) m[c] = row[c] > m[c] ? row[c] : m[c];
  }
  for (int64_t jj = 0; jj < N; ++jj) {
    float* row = sc.s + jj * QB;
    for (int64_t c = 0; c < QB; ++c) {
      row[c] = fast_math::exp_f32(row[c] - m[c]);
      l[c] += row[c];
    }
  }
  // p . v, 8 value dims at a time
  int64_t d = 0;
  for (; d + 8 <= D; d += 8) values_block<8>(v + d, ld, N, sc.s, sc.o + d * QB);
  for (; d + 4 <= D; d += 4) values_block<4>(v + d, ld, N, sc.s, sc.o + d * QB);
  for (; d < D; ++d) values_block<1>(v + d, ld, N, sc.s, sc.o + d * QB);
  // normalise and write the block's rows of head h
  for (int64_t i = 0; i < nq; ++i) {
    const float inv = 1.0f / l[i];
    float* orow = out + (b * N + i0 + i) * C + h * D;
    for (int64_t dd = 0; dd < D; ++dd) orow[dd] = sc.o[dd * QB + i] * inv;
  }
}

}  // namespace

void attention_nograd_f32(const float* qkv, int64_t B, int64_t N, int64_t C, int64_t heads, double scale,
                          float* out) {
  const int64_t D = C / heads;
  const int64_t blocks = (N + QB - 1) / QB;
  parallel_for(B * heads * blocks, 1, [&](int64_t t0, int64_t t1) {
    thread_local Scratch sc;
    sc.reserve(N, D);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t blk = t % blocks, bh = t / blocks;
      const int64_t i0 = blk * QB;
      attention_block(qkv, N, C, D, bh / heads, bh % heads, i0, std::min(QB, N - i0), static_cast<float>(scale), out,
                      sc);
    }
  });
}

}  // namespace shears::kernels
