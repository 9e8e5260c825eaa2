// Vectorizable math for elementwise kernels. The f32 versions are branch-free
// polynomial approximations that GCC turns into AVX-512 code (std::exp/erf do not
// vectorize without -ffast-math); f64 keeps the libm functions, so gradient checks
// run at full precision. Accuracy: vexp(float) about 1 ulp (fast_math.h), verf(float)
// within 2e-7 absolute, vtanh(float) a few ulp.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "tensor/fast_math.h"

namespace shears {

__attribute__((always_inline)) inline float vexp(float x) { return fast_math::exp_f32(x); }
inline double vexp(double x) { return std::exp(x); }

__attribute__((always_inline)) inline float verf(float x) {
  // Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7), odd extension
  const float ax = std::fabs(x);
  const float t = 1.0f / (1.0f + 0.3275911f * ax);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  const float y = 1.0f - p * t * vexp(-ax * ax);
  return std::copysign(y, x);
}
inline double verf(double x) { return std::erf(x); }

__attribute__((always_inline)) inline float vtanh(float x) {
  // tanh via e^{-2|x|}; small |x| by its odd series to keep relative accuracy
  const float ax = std::fabs(x);
  const float e = vexp(-2.0f * ax);
  const float big = (1.0f - e) / (1.0f + e);
  const float x2 = x * x;
  const float small = ax * (1.0f + x2 * (-1.0f / 3.0f + x2 * (2.0f / 15.0f + x2 * (-17.0f / 315.0f))));
  return std::copysign(ax < 0.125f ? small : big, x);
}
inline double vtanh(double x) { return std::tanh(x); }

template <typename T>
constexpr T kInvSqrt2 = T(0.70710678118654752440);

// GELU (the erf form): x * Phi(x); -inf gives 0, the limit. One definition for the elementwise op and the
// linear + GELU epilogue (kernels::linear_gelu), so that both give the same bits.
template <typename T>
__attribute__((always_inline)) inline T vgelu(T x) {
  T y = T(0.5) * x * (T(1) + verf(x * kInvSqrt2<T>));
  return x < std::numeric_limits<T>::lowest() ? T(0) : y;  // -inf: the limit, not -inf * 0 (a form GCC vectorizes)
}

}  // namespace shears
