// float <-> IEEE binary16: round-to-nearest-even on the edge cases (ties both ways,
// subnormals, underflow to zero, overflow to inf, signed zero, NaN), an exhaustive round trip of
// all 65,536 codes, the nearest-even property on random floats, and the bulk (F16C) path
// against the scalar one over a sweep of float bit patterns.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "tensor/fp16.h"

using namespace shears;

namespace {
float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
}  // namespace

TEST_CASE("fp16: exact values and ties to even in both directions", "[tensor][fp16]") {
  CHECK(float_to_fp16_bits(1.0f) == 0x3c00);
  CHECK(float_to_fp16_bits(-2.0f) == 0xc000);
  CHECK(float_to_fp16_bits(0.1f) == 0x2e66);  // 0.0999755859375 is nearest
  const float ulp = std::ldexp(1.0f, -10);     // fp16 spacing in [1, 2)
  // 1 + ulp/2 lies halfway between 0x3c00 (even) and 0x3c01: rounds down to even.
  CHECK(float_to_fp16_bits(1.0f + ulp / 2) == 0x3c00);
  // 1 + 3ulp/2 lies halfway between 0x3c01 (odd) and 0x3c02 (even): rounds up to even.
  CHECK(float_to_fp16_bits(1.0f + 3 * ulp / 2) == 0x3c02);
  // just off the tie goes to the nearer neighbour
  CHECK(float_to_fp16_bits(std::nextafter(1.0f + ulp / 2, 2.0f)) == 0x3c01);
  CHECK(float_to_fp16_bits(std::nextafter(1.0f + 3 * ulp / 2, 0.0f)) == 0x3c01);
  CHECK(float_to_fp16_bits(-(1.0f + 3 * ulp / 2)) == 0xbc02);
}

TEST_CASE("fp16: subnormals and underflow", "[tensor][fp16]") {
  const float tiny = std::ldexp(1.0f, -24);  // smallest subnormal
  CHECK(float_to_fp16_bits(tiny) == 0x0001);
  CHECK(fp16_bits_to_float(0x0001) == tiny);
  const float largest_sub = 1023 * tiny;
  CHECK(float_to_fp16_bits(largest_sub) == 0x03ff);
  CHECK(fp16_bits_to_float(0x03ff) == largest_sub);
  CHECK(float_to_fp16_bits(std::ldexp(1.0f, -14)) == 0x0400);  // smallest normal
  // halfway between the largest subnormal (odd) and the smallest normal: carries up to 0x0400
  CHECK(float_to_fp16_bits(1023.5f * tiny) == 0x0400);
  CHECK(float_to_fp16_bits(1.5f * tiny) == 0x0002);   // tie between 1 and 2: even
  CHECK(float_to_fp16_bits(2.5f * tiny) == 0x0002);   // tie between 2 and 3: even
  CHECK(float_to_fp16_bits(tiny / 2) == 0x0000);      // exactly half the smallest: tie to 0
  CHECK(float_to_fp16_bits(std::nextafter(tiny / 2, 1.0f)) == 0x0001);
  CHECK(float_to_fp16_bits(0.3f * tiny) == 0x0000);
  CHECK(float_to_fp16_bits(-0.3f * tiny) == 0x8000);  // keeps the sign
  CHECK(float_to_fp16_bits(std::numeric_limits<float>::denorm_min()) == 0x0000);
}

TEST_CASE("fp16: overflow, infinities, signed zero and NaN", "[tensor][fp16]") {
  CHECK(float_to_fp16_bits(65504.0f) == 0x7bff);
  CHECK(fp16_bits_to_float(0x7bff) == 65504.0f);
  CHECK(float_to_fp16_bits(65519.0f) == 0x7bff);
  CHECK(float_to_fp16_bits(std::nextafter(65520.0f, 0.0f)) == 0x7bff);  // just below the threshold
  CHECK(float_to_fp16_bits(65520.0f) == 0x7c00);                        // the tie rounds to inf
  CHECK(float_to_fp16_bits(-65520.0f) == 0xfc00);
  CHECK(float_to_fp16_bits(1e10f) == 0x7c00);
  CHECK(float_to_fp16_bits(std::numeric_limits<float>::infinity()) == 0x7c00);
  CHECK(float_to_fp16_bits(-std::numeric_limits<float>::infinity()) == 0xfc00);
  CHECK(std::isinf(fp16_bits_to_float(0x7c00)));
  CHECK(float_to_fp16_bits(0.0f) == 0x0000);
  CHECK(float_to_fp16_bits(-0.0f) == 0x8000);
  CHECK(std::signbit(round_to_fp16(-0.0f)));
  CHECK(float_to_fp16_bits(std::numeric_limits<float>::quiet_NaN()) == 0x7e00);
  CHECK(std::isnan(round_to_fp16(std::numeric_limits<float>::quiet_NaN())));
  CHECK(float_to_fp16_bits(-std::numeric_limits<float>::quiet_NaN()) == 0xfe00);
  // a signalling NaN whose payload lies below the kept bits stays a NaN (quiet bit set)
  CHECK(float_to_fp16_bits(from_bits(0x7f800001u)) == 0x7e00);
  CHECK(float_to_fp16_bits(from_bits(0x7fc12345u)) == (0x7e00 | ((0x412345u >> 13) & 0x3ff)));
}

TEST_CASE("fp16: every code converts to float and back unchanged", "[tensor][fp16]") {
  int mismatches = 0;
  for (uint32_t c = 0; c < 65536; ++c) {
    const float f = fp16_bits_to_float(uint16_t(c));
    const bool nan = ((c >> 10) & 0x1f) == 0x1f && (c & 0x3ff);
    if (nan) {
      if (!std::isnan(f)) ++mismatches;
      if ((c & 0x200) && float_to_fp16_bits(f) != c) ++mismatches;  // quiet NaNs keep their payload
    } else if (float_to_fp16_bits(f) != c) {
      ++mismatches;
    }
  }
  CHECK(mismatches == 0);
  // fp16 values are ordered like their magnitudes: a spot check of the decoder
  CHECK(fp16_bits_to_float(0x3555) == Approx(0.333251953125).epsilon(0));
}

TEST_CASE("fp16: random floats round to the nearest code, ties to the even one", "[tensor][fp16]") {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> exponent(-27, 16.5);
  int bad = 0;
  for (int i = 0; i < 200000; ++i) {
    const float x = float((rng() & 1 ? -1.0 : 1.0) * std::exp2(exponent(rng)));
    const uint16_t c = float_to_fp16_bits(x);
    const double r = fp16_bits_to_float(c);
    if (std::isinf(r)) {
      if (std::fabs(x) < 65520.0f) ++bad;
      continue;
    }
    const double err = std::fabs(double(x) - r);
    for (int d : {-1, 1}) {  // neighbouring codes of the same sign (magnitude +-1)
      const int mag = int(c & 0x7fff) + d;
      if (mag < 0 || mag > 0x7bff) continue;
      const double nb = fp16_bits_to_float(uint16_t((c & 0x8000) | mag));
      const double err_nb = std::fabs(double(x) - nb);
      if (err_nb < err || (err_nb == err && (c & 1))) ++bad;
    }
  }
  CHECK(bad == 0);
}

TEST_CASE("fp16: the bulk conversion equals the scalar one", "[tensor][fp16]") {
  std::vector<float> x;
  for (uint64_t b = 0; b < (uint64_t(1) << 32); b += 997) x.push_back(from_bits(uint32_t(b)));
  for (uint32_t b = 0x477fe000u; b <= 0x47800000u; ++b) x.push_back(from_bits(b));       // 65504 .. 65536
  for (uint32_t b = 0x32ff0000u; b <= 0x38810000u; b += 61) x.push_back(from_bits(b));  // the subnormal range
  for (float v : {65504.0f, 65520.0f, std::nextafter(65520.0f, 0.0f), std::ldexp(1.0f, -25), -0.0f,
                  std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(), from_bits(0x7f800001u)})
    x.push_back(v);
  std::vector<uint16_t> bulk(x.size());
  float_to_fp16_bits(x.data(), bulk.data(), int64_t(x.size()));
  size_t mismatches = 0, first = 0;
  for (size_t i = 0; i < x.size(); ++i)
    if (bulk[i] != float_to_fp16_bits(x[i]) && mismatches++ == 0) first = i;
  INFO("first mismatch: float bits 0x" << std::hex << bits_of(x[first]) << " bulk 0x" << bulk[first] << " scalar 0x"
                                       << float_to_fp16_bits(x[first]));
  CHECK(mismatches == 0);
}
