// train/median: the middle sample, the mean of the two middle ones for an even count, whatever the order;
// no samples is an error.
#include <catch2/catch.hpp>

#include <vector>

#include "train/median.h"

using namespace shears;

TEST_CASE("median: odd and even counts in any order, an empty list refused", "[train][median]") {
  CHECK(train::median({3.0}) == 3.0);
  CHECK(train::median({5.0, 1.0, 4.0}) == 4.0);
  CHECK(train::median({4.0, 1.0, 2.0, 10.0}) == 3.0);  // (2 + 4) / 2, not the upper 4
  CHECK(train::median({-1.0, -1.0}) == -1.0);
  CHECK_THROWS_WITH(train::median(std::vector<double>{}), Catch::Contains("no samples"));
}
