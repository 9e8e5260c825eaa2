// float <-> IEEE binary16 conversion (see fp16.h) in plain integer arithmetic; the bulk
// conversion uses the x86 F16C/AVX-512 instruction when the build targets it (same bits:
// round-to-nearest-even, quiet NaN with the top payload bits; tests/tensor/test_fp16.cpp
// compares the two paths).
#include "tensor/fp16.h"

#include <cstring>

#if defined(__F16C__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace shears {

uint16_t float_to_fp16_bits(float x) {
  uint32_t f;
  std::memcpy(&f, &x, 4);
  const uint16_t sign = static_cast<uint16_t>((f >> 16) & 0x8000u);
  const uint32_t a = f & 0x7fffffffu;  // |x|
  if (a >= 0x7f800000u) {              // inf or NaN
    if (a == 0x7f800000u) return sign | 0x7c00u;
    return static_cast<uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // quiet NaN
  }
  if (a >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 (halfway 65504 -> 65536): inf
  if (a <= 0x33000000u) return sign;            // <= 2^-25 (half the smallest subnormal): 0
  const uint32_t exp = a >> 23;
  if (exp < 113) {  // below 2^-14: subnormal half, value = m_h * 2^-24
    const uint32_t mant = (a & 0x7fffffu) | 0x800000u;  // 24 bits with the implicit one
    const uint32_t shift = 126 - exp;                   // 14..24
    uint32_t h = mant >> shift;
    const uint32_t rest = mant & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rest > half || (rest == half && (h & 1u))) ++h;  // may carry into the smallest normal
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = ((exp - 112) << 10) | ((a >> 13) & 0x3ffu);
  const uint32_t rest = a & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // carry may raise the exponent
  return static_cast<uint16_t>(sign | h);
}

float fp16_bits_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h >> 15) << 31;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal mant * 2^-24: renormalize
      uint32_t e = 113;
      while (!(mant & 0x400u)) {
        mant <<= 1;
        --e;
      }
      bits = sign | (e << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

void float_to_fp16_bits(const float* x, uint16_t* out, int64_t n) {
  int64_t i = 0;
#if defined(__F16C__) || defined(__AVX512F__)
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
#endif
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm512_maskz_cvtps_ph(__mmask16(0xffff), _mm512_loadu_ps(x + i), kRound));
#endif
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), kRound));
#endif
  for (; i < n; ++i) out[i] = float_to_fp16_bits(x[i]);
}

}  // namespace shears
