// The median of a list of samples: the middle value, or the mean of the two middle ones for an even count.
// The one definition that benchmarks (bench/bench_util.h), interleaved throughput (recipes/common/throughput)
// and the composition study's dense reference (recipes/common/compose_report) use.
#pragma once
#include <algorithm>
#include <vector>

#include "tensor/error.h"

namespace shears::train {

inline double median(std::vector<double> v) {
  SHEARS_CHECK(!v.empty(), "median", "no samples");
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace shears::train
