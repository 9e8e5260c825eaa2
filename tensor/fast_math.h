// Vectorizable math for CPU kernels: exp_f32, a branch-free expf that GCC vectorizes
// without -ffast-math (about 1 ulp; -inf, +inf, NaN, overflow and denormals handled),
// and fixed-order lane-parallel row reductions (sum, max, dot) that vectorize under
// strict IEEE semantics and give the same bits on every run.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
#include <immintrin.h>
#define SHEARS_ROW_LANES_AVX2 1
#endif

namespace shears::fast_math {

// Fused multiply-add when the target has it in hardware; std::fma would otherwise be a
// slow library call per element.
__attribute__((always_inline)) inline float fmadd(float a, float b, float c) {
#ifdef __FMA__
  return __builtin_fmaf(a, b, c);
#else
  return a * b + c;
#endif
}

__attribute__((always_inline)) inline float bits_to_float(int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}

// e^x for float. Range reduction x = n*ln2 + r (Cody-Waite, |r| <= ln2/2), a degree-6
// polynomial for e^r (Cephes expf coefficients), then a scale by 2^n done as two
// multiplies by 2^(n/2) so that results in the denormal range and overflow to +inf are
// rounded correctly. Measured against double-precision exp over every float in
// [-110, 95]: max 1.01 ulp for normal results (8.5e-8 relative), 1 denormal ulp below
// FLT_MIN; -inf -> 0, +inf and x > 88.73 -> +inf, NaN -> NaN (no undefined behaviour on
// the way), x < -104 -> 0.
__attribute__((always_inline)) inline float exp_f32(float x) {
  const float kLo = -104.0f;  // e^-104 rounds to 0 even as a denormal
  const float kHi = 89.0f;    // beyond ln(FLT_MAX) ~ 88.72: the scale overflows to inf
  float xc = x < kLo ? kLo : x;  // NaN compares false and passes through both clamps
  xc = xc > kHi ? kHi : xc;
  const float kMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  float t = fmadd(xc, 1.44269504088896341f, kMagic);
  float n = t - kMagic;  // round(x / ln2), exact for |n| < 2^22
  float r = fmadd(n, -0.693359375f, xc);  // ln2 split into a short head and a tail
  r = fmadd(n, 2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = fmadd(p, r, 1.3981999507e-3f);
  p = fmadd(p, r, 8.3334519073e-3f);
  p = fmadd(p, r, 4.1665795894e-2f);
  p = fmadd(p, r, 1.6666665459e-1f);
  p = fmadd(p, r, 5.0000001201e-1f);
  float r2 = r * r;
  p = fmadd(p, r2, r) + 1.0f;
  // NaN input: p is already NaN; converting a NaN n to int would be undefined behaviour (and
  // then a shift of a negative value), so the scale is computed from 0 instead (a blend).
  const float n_defined = n == n ? n : 0.0f;
  int32_t ni = static_cast<int32_t>(n_defined);  // in [-150, 129] after the clamps
  int32_t n1 = ni >> 1;                           // n = n1 + n2, both in [-75, 65]
  int32_t n2 = ni - n1;
  // biased exponents are in [52, 192]: shifted as unsigned, the bit patterns are well defined
  float s1 = bits_to_float(static_cast<int32_t>(static_cast<uint32_t>(n1 + 127) << 23));
  float s2 = bits_to_float(static_cast<int32_t>(static_cast<uint32_t>(n2 + 127) << 23));
  return (p * s1) * s2;
}

// Generic spelling for templated kernels: the fast path for float, libm for double
// (f64 is the gradient-check type, where accuracy matters more than speed).
inline float exp_t(float x) { return exp_f32(x); }
inline double exp_t(double x) { return std::exp(x); }

// Lanes per accumulator array: 128 bytes, i.e. 4 AVX2 or 2 AVX-512 registers, enough
// independent chains to hide add latency.
template <typename T> constexpr int64_t kLanes = 128 / sizeof(T);

// Combines lane accumulators in a fixed pairwise order.
template <typename T, int64_t L>
inline T combine_sum(T (&acc)[L]) {
  for (int64_t w = L / 2; w >= 1; w /= 2)
    for (int64_t l = 0; l < w; ++l) acc[l] += acc[l + w];
  return acc[0];
}

// The row reductions below, written over arrays of kLanes<T> accumulators: lane l takes elements l, l + L, l + 2L,
// ... and the lanes are combined pairwise (combine_sum). This is the algorithm and the bits; row_sum / row_dot /
// row_max are these for double and, on targets without the register form below, for float.
// sum of x[0..n)
template <typename T>
inline T row_sum_lanes(const T* x, int64_t n) {
  constexpr int64_t L = kLanes<T>;
  T acc[L] = {};
  int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int64_t l = 0; l < L; ++l) acc[l] += x[i + l];
  for (int64_t l = 0; i + l < n; ++l) acc[l] += x[i + l];
  return combine_sum(acc);
}

// sum of x[i] * y[i]
template <typename T>
inline T row_dot_lanes(const T* x, const T* y, int64_t n) {
  constexpr int64_t L = kLanes<T>;
  T acc[L] = {};
  int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int64_t l = 0; l < L; ++l) acc[l] += x[i + l] * y[i + l];
  for (int64_t l = 0; i + l < n; ++l) acc[l] += x[i + l] * y[i + l];
  return combine_sum(acc);
}

// max of x[0..n); NaN entries are skipped (-inf for an empty or all-NaN row).
template <typename T>
inline T row_max_lanes(const T* x, int64_t n) {
  constexpr int64_t L = kLanes<T>;
  T acc[L];
  for (int64_t l = 0; l < L; ++l) acc[l] = -INFINITY;
  int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int64_t l = 0; l < L; ++l) acc[l] = x[i + l] > acc[l] ? x[i + l] : acc[l];
  for (int64_t l = 0; i + l < n; ++l) acc[l] = x[i + l] > acc[l] ? x[i + l] : acc[l];
  for (int64_t w = L / 2; w >= 1; w /= 2)
    for (int64_t l = 0; l < w; ++l) acc[l] = acc[l + w] > acc[l] ? acc[l + w] : acc[l];
  return acc[0];
}

#ifdef SHEARS_ROW_LANES_AVX2
// The same three reductions for float rows on AVX2 with the 32 lane accumulators in four 8-float registers (lane l
// of register j is lane 8j + l) and the tail loaded masked, so that nothing goes through memory: GCC keeps the
// array form's lanes in a stack array (zeroed with `rep stos`, the tail and the combine done through memory), which
// costs more than the loop itself on rows of a few hundred elements. Same lanes, same order, same bits
// (tests/tensor/test_fast_math_lanes.cpp checks them against the written-out algorithm); the dot is one fused
// multiply-add per element, as GCC contracts the array form at -O2/-O3. Masked-off tail lanes add -0 (sum, dot),
// which leaves every lane as it was, or are kept as they were (max).
namespace lanes32 {
static_assert(kLanes<float> == 32, "the register form mirrors 32 float lanes");

// combine_sum over the four registers: the same pairwise order
inline float combine_sum(__m256 v0, __m256 v1, __m256 v2, __m256 v3) {
  v0 = _mm256_add_ps(v0, v2);  // l < 16: acc[l] += acc[l + 16]
  v1 = _mm256_add_ps(v1, v3);
  v0 = _mm256_add_ps(v0, v1);  // l < 8: acc[l] += acc[l + 8]
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(v0), _mm256_extractf128_ps(v0, 1));  // l < 4: += acc[l + 4]
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));                                              // l < 2: += acc[l + 2]
  q = _mm_add_ss(q, _mm_shuffle_ps(q, q, 1));                                          // acc[0] += acc[1]
  return _mm_cvtss_f32(q);
}

// row_max_lanes' combine: acc[l] = acc[l + w] > acc[l] ? acc[l + w] : acc[l], i.e. vmaxps(acc[l + w], acc[l])
inline float combine_max(__m256 v0, __m256 v1, __m256 v2, __m256 v3) {
  v0 = _mm256_max_ps(v2, v0);
  v1 = _mm256_max_ps(v3, v1);
  v0 = _mm256_max_ps(v1, v0);
  __m128 q = _mm_max_ps(_mm256_extractf128_ps(v0, 1), _mm256_castps256_ps128(v0));
  q = _mm_max_ps(_mm_movehl_ps(q, q), q);
  q = _mm_max_ss(_mm_shuffle_ps(q, q, 1), q);
  return _mm_cvtss_f32(q);
}

// lanes < k set (k clamped to 0..8): the mask of a tail register holding k elements
inline __m256i tail_mask(int64_t k) {
  k = k < 0 ? 0 : k > 8 ? 8 : k;
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(k)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// the k (0..8) elements at p in the low lanes, `fill` in the others; lanes past k are never read
inline __m256 load_tail(const float* p, int64_t k, __m256 fill) {
  const __m256i m = tail_mask(k);
  return _mm256_blendv_ps(fill, _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
}  // namespace lanes32

inline float row_sum(const float* x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(x + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(x + i + 24));
  }
  if (const int64_t r = n - i; r > 0) {
    const __m256 z = _mm256_set1_ps(-0.0f);
    a0 = _mm256_add_ps(a0, lanes32::load_tail(x + i, r, z));
    a1 = _mm256_add_ps(a1, lanes32::load_tail(x + i + 8, r - 8, z));
    a2 = _mm256_add_ps(a2, lanes32::load_tail(x + i + 16, r - 16, z));
    a3 = _mm256_add_ps(a3, lanes32::load_tail(x + i + 24, r - 24, z));
  }
  return lanes32::combine_sum(a0, a1, a2, a3);
}

inline float row_dot(const float* x, const float* y, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);
  }
  if (const int64_t r = n - i; r > 0) {
    // masked-off lanes: (-0) * (+0) = -0 added
    const __m256 nz = _mm256_set1_ps(-0.0f), pz = _mm256_setzero_ps();
    a0 = _mm256_fmadd_ps(lanes32::load_tail(x + i, r, nz), lanes32::load_tail(y + i, r, pz), a0);
    a1 = _mm256_fmadd_ps(lanes32::load_tail(x + i + 8, r - 8, nz), lanes32::load_tail(y + i + 8, r - 8, pz), a1);
    a2 = _mm256_fmadd_ps(lanes32::load_tail(x + i + 16, r - 16, nz), lanes32::load_tail(y + i + 16, r - 16, pz), a2);
    a3 = _mm256_fmadd_ps(lanes32::load_tail(x + i + 24, r - 24, nz), lanes32::load_tail(y + i + 24, r - 24, pz), a3);
  }
  return lanes32::combine_sum(a0, a1, a2, a3);
}

// x > acc ? x : acc per lane is vmaxps(x, acc) (a NaN x compares false and is skipped, as in the array form)
inline float row_max(const float* x, int64_t n) {
  __m256 a0 = _mm256_set1_ps(-INFINITY), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_max_ps(_mm256_loadu_ps(x + i), a0);
    a1 = _mm256_max_ps(_mm256_loadu_ps(x + i + 8), a1);
    a2 = _mm256_max_ps(_mm256_loadu_ps(x + i + 16), a2);
    a3 = _mm256_max_ps(_mm256_loadu_ps(x + i + 24), a3);
  }
  if (const int64_t r = n - i; r > 0) {
    // masked-off lanes read as NaN: skipped like NaN elements
    const __m256 nan = _mm256_set1_ps(NAN);
    a0 = _mm256_max_ps(lanes32::load_tail(x + i, r, nan), a0);
    a1 = _mm256_max_ps(lanes32::load_tail(x + i + 8, r - 8, nan), a1);
    a2 = _mm256_max_ps(lanes32::load_tail(x + i + 16, r - 16, nan), a2);
    a3 = _mm256_max_ps(lanes32::load_tail(x + i + 24, r - 24, nan), a3);
  }
  return lanes32::combine_max(a0, a1, a2, a3);
}
#endif

// sum of x[0..n)
template <typename T>
inline T row_sum(const T* x, int64_t n) { return row_sum_lanes(x, n); }

// sum of x[i] * y[i]
template <typename T>
inline T row_dot(const T* x, const T* y, int64_t n) { return row_dot_lanes(x, y, n); }

// max of x[0..n); NaN entries are skipped (-inf for an empty or all-NaN row).
template <typename T>
inline T row_max(const T* x, int64_t n) { return row_max_lanes(x, n); }

}  // namespace shears::fast_math
