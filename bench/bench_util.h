// Timing helpers shared by the benchmarks: a monotonic clock in seconds and the median.
#pragma once
#include <algorithm>
#include <vector>

#include "train/progress.h"

namespace shears::bench {

using train::now_s;  // the project's one monotonic clock (train/progress.h)

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace shears::bench
