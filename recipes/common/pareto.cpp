// Pareto front (pareto.h): O(n^2) dominance check; studies have tens of points.
#include "common/pareto.h"

#include <algorithm>
#include <cmath>

#include "tensor/error.h"

namespace shears::recipes {

std::vector<size_t> pareto_front(const std::vector<double>& cost, const std::vector<double>& value) {
  SHEARS_CHECK(cost.size() == value.size(), "pareto_front", "cost has ", cost.size(), " points but value has ",
               value.size());
  const size_t n = cost.size();
  auto valid = [&](size_t i) { return !std::isnan(cost[i]) && !std::isnan(value[i]); };
  std::vector<size_t> front;
  for (size_t i = 0; i < n; ++i) {
    if (!valid(i)) continue;
    bool dominated = false;
    for (size_t j = 0; j < n && !dominated; ++j) {
      if (j == i || !valid(j)) continue;
      dominated = cost[j] <= cost[i] && value[j] >= value[i] && (cost[j] < cost[i] || value[j] > value[i]);
    }
    if (!dominated) front.push_back(i);
  }
  std::sort(front.begin(), front.end(), [&](size_t a, size_t b) {
    if (cost[a] != cost[b]) return cost[a] < cost[b];
    if (value[a] != value[b]) return value[a] > value[b];
    return a < b;
  });
  return front;
}

}  // namespace shears::recipes
