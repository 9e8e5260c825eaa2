// Hostile sizes and values (issue 15): element counts, byte counts and strides that would
// overflow int64 throw shears::Error instead of wrapping into a too-small buffer, and exp_f32
// on NaN is well defined (NaN in, NaN out; it used to convert NaN to int and shift a negative).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "autograd/ops.h"
#include "tensor/fast_math.h"
#include "tensor/shape.h"
#include "tensor/vec_math.h"

using namespace shears;
using Catch::Matchers::Contains;

namespace {
constexpr int64_t k2p62 = int64_t(1) << 62;
constexpr int64_t k2p31 = int64_t(1) << 31;
}  // namespace

TEST_CASE("hostile sizes: shape_numel refuses products that overflow int64", "[shape][hostile]") {
  REQUIRE(shape_numel({k2p62, 1}) == k2p62);
  REQUIRE(shape_numel({k2p31, k2p31}) == k2p62);
  REQUIRE_THROWS_WITH(shape_numel({k2p62, 2}), Contains("[shape]") && Contains("overflows int64"));
  REQUIRE_THROWS_WITH(shape_numel({k2p62, 3, 5}), Contains("overflows int64"));
  REQUIRE_THROWS_WITH(shape_numel({k2p31, k2p31, 4}), Contains("overflows int64"));
  // a zero anywhere gives 0 without overflowing
  REQUIRE(shape_numel({0, k2p62, k2p62}) == 0);
  REQUIRE_THROWS_WITH(shape_numel({3, -2}), Contains("negative size"));
}

TEST_CASE("hostile sizes: byte counts and strides are overflow-checked", "[shape][hostile]") {
  REQUIRE(shape_nbytes({k2p31, 4}, 8) == int64_t(1) << 36);
  REQUIRE_THROWS_WITH(shape_nbytes({k2p62}, 4), Contains("byte count") && Contains("overflows int64"));
  // strides of a zero-size tensor with huge other dims
  REQUIRE_THROWS_WITH(contiguous_strides({0, k2p62, k2p62}), Contains("strides") && Contains("overflow"));
  REQUIRE(contiguous_strides({2, 3, 4}) == Shape{12, 4, 1});
  REQUIRE(contiguous_strides({0, 3, 4}) == Shape{12, 4, 1});
  REQUIRE_THROWS_WITH(checked_mul(k2p62, 4, "flops", "the MAC count"),
                      Contains("[flops] the MAC count overflows int64"));
  REQUIRE(checked_mul(k2p31, k2p31, "x", "y") == k2p62);
}

TEST_CASE("hostile sizes: Tensor::empty with sizes near 2^62 throws before allocating", "[shape][hostile]") {
  // numel fits (2^62) but the f32 byte count does not: used to wrap to a small allocation
  REQUIRE_THROWS_AS(Tensor::empty({k2p31, k2p31}, DType::F32), Error);
  REQUIRE_THROWS_WITH(Tensor::empty({k2p31, k2p31}, DType::F32), Contains("overflows int64"));
  REQUIRE_THROWS_WITH(Tensor::empty({k2p62, 2, 2}, DType::F32), Contains("overflows int64"));
  REQUIRE_THROWS_WITH(Tensor::empty({0, k2p62, k2p62}, DType::F32), Contains("overflow"));
  REQUIRE(Tensor::empty({0, 5}, DType::F32).numel() == 0);
}

TEST_CASE("hostile values: exp_f32 maps NaN to NaN and keeps ordinary values", "[fast_math][hostile]") {
  const float qnan = std::numeric_limits<float>::quiet_NaN();
  REQUIRE(std::isnan(fast_math::exp_f32(qnan)));
  REQUIRE(std::isnan(fast_math::exp_f32(-qnan)));
  REQUIRE(std::isnan(vexp(qnan)));
  REQUIRE(std::isnan(verf(qnan)));
  REQUIRE(std::isnan(vtanh(qnan)));
  REQUIRE(fast_math::exp_f32(0.0f) == 1.0f);
  REQUIRE(fast_math::exp_f32(-INFINITY) == 0.0f);
  REQUIRE(fast_math::exp_f32(INFINITY) == INFINITY);
  REQUIRE(fast_math::exp_f32(1.0f) == Approx(std::exp(1.0)).epsilon(1e-6));
  REQUIRE(fast_math::exp_f32(-200.0f) == 0.0f);
  // through the tensor kernel (vectorized path): NaN lanes stay NaN, others are exact as before
  std::vector<float> in = {0.f, qnan, 1.f, -qnan, -3.f, qnan, 2.f, 0.5f, qnan, -1.f, 4.f, qnan, 7.f, -7.f, 0.25f, 3.f, qnan};
  Tensor x = from_vector(in, {int64_t(in.size())});
  Tensor y = exp(x);
  const float* py = y.data<float>();
  for (size_t i = 0; i < in.size(); ++i) {
    if (std::isnan(in[i])) {
      REQUIRE(std::isnan(py[i]));
    } else {
      REQUIRE(py[i] == Approx(std::exp(double(in[i]))).epsilon(1e-6));
    }
  }
}

TEST_CASE("hostile sizes: reshape with -1 and target sizes whose product overflows throws", "[shape][hostile]") {
  Tensor x = zeros({4, 6});
  const int64_t big = int64_t(1) << 40;
  CHECK_THROWS_WITH(reshape(x, {big, big, -1}), Catch::Contains("overflows int64"));
  CHECK(reshape(x, {2, -1}).shape() == Shape{2, 12});
}
