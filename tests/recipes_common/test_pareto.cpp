// Pareto fronts (recipes/common/pareto.h): hand-checked cases, ties, NaN points, and a brute-force
// cross-check on random clouds.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "common/pareto.h"

using namespace shears::recipes;

TEST_CASE("pareto_front keeps the non-dominated points in ascending cost", "[recipes][pareto]") {
  //                       0    1    2    3    4
  const std::vector<double> cost = {1.0, 2.0, 2.0, 3.0, 0.5};
  const std::vector<double> acc = {0.6, 0.7, 0.65, 0.7, 0.4};
  // 2 is dominated by 1 (same cost, lower value); 3 by 1 (higher cost, same value)
  CHECK(pareto_front(cost, acc) == std::vector<size_t>{4, 0, 1});
}

TEST_CASE("pareto_front: identical points both stay, NaN points are ignored, sizes must match", "[recipes][pareto]") {
  CHECK(pareto_front({1, 1, 2}, {0.5, 0.5, 0.4}) == std::vector<size_t>{0, 1});
  CHECK(pareto_front({1, NAN, 2}, {0.5, 0.9, 0.6}) == std::vector<size_t>{0, 2});
  CHECK(pareto_front({1, 0.5}, {0.5, NAN}) == std::vector<size_t>{0});
  CHECK(pareto_front({}, {}).empty());
  CHECK_THROWS_WITH(pareto_front({1, 2}, {0.5}), Catch::Contains("cost has 2 points but value has 1"));
}

TEST_CASE("pareto_front matches a brute-force definition on random clouds", "[recipes][pareto]") {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> coarse(0, 5);  // coarse grid: many ties
  for (int trial = 0; trial < 200; ++trial) {
    const size_t n = 1 + size_t(trial % 17);
    std::vector<double> c(n), v(n);
    for (size_t i = 0; i < n; ++i) c[i] = coarse(rng), v[i] = coarse(rng);
    const std::vector<size_t> front = pareto_front(c, v);
    for (size_t i = 0; i < n; ++i) {
      bool dominated = false;
      for (size_t j = 0; j < n; ++j)
        if (c[j] <= c[i] && v[j] >= v[i] && (c[j] < c[i] || v[j] > v[i])) dominated = true;
      const bool on = std::find(front.begin(), front.end(), i) != front.end();
      CHECK(on == !dominated);
    }
    for (size_t k = 1; k < front.size(); ++k) {
      CHECK(c[front[k - 1]] <= c[front[k]]);
      if (c[front[k - 1]] == c[front[k]]) CHECK(v[front[k - 1]] == v[front[k]]);  // only identical points tie
      else CHECK(v[front[k - 1]] < v[front[k]]);  // along a front, more cost buys strictly more value
    }
  }
}
