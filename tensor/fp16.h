// IEEE 754 binary16 ("fp16", "half") bit patterns and float: float -> half with
// round-to-nearest-even (ties to even, subnormals, overflow to inf, NaN kept as a quiet
// NaN with the top payload bits, as x86 F16C does) and half -> float (exact). Used where a
// weight's fp16 code is the statistic's unit (Gardener's weight-number entropy).
#pragma once
#include <cstdint>

namespace shears {

// The binary16 bit pattern nearest to x (ties to the even pattern). |x| >= 65520 -> inf;
// |x| <= 2^-25 -> signed zero; NaN -> sign | 0x7e00 | top 9 payload bits.
uint16_t float_to_fp16_bits(float x);

// The exact float value of a binary16 bit pattern (subnormals, +-inf and NaN payloads kept).
float fp16_bits_to_float(uint16_t bits);

// x rounded to the nearest binary16 value, as a float.
inline float round_to_fp16(float x) { return fp16_bits_to_float(float_to_fp16_bits(x)); }

// Bulk conversion of n floats (the hot loop of the fp16 statistics).
void float_to_fp16_bits(const float* x, uint16_t* out, int64_t n);

}  // namespace shears
