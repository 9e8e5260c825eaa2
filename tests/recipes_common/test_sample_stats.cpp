// recipes::mean_of and recipes::sample_sd against hand-computed values; NaN where undefined.
#include <catch2/catch.hpp>

#include <cmath>

#include "common/sample_stats.h"

using namespace shears;

TEST_CASE("mean_of and sample_sd", "[recipes_common][sample_stats]") {
  REQUIRE(recipes::mean_of({2, 4, 9}) == 5.0);
  // deviations -3, -1, 4: squares 9 + 1 + 16 = 26, / (3 - 1) = 13
  REQUIRE(recipes::sample_sd({2, 4, 9}) == Approx(std::sqrt(13.0)).epsilon(1e-15));
  REQUIRE(recipes::sample_sd({0.25, 0.25}) == 0.0);
  REQUIRE(std::isnan(recipes::mean_of({})));
  REQUIRE(std::isnan(recipes::sample_sd({7})));
}
