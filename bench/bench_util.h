// Helpers shared by the benchmarks: a monotonic clock in seconds, the median, the CPU model name.
#pragma once
#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "train/progress.h"

namespace shears::bench {

using train::now_s;  // the project's one monotonic clock (train/progress.h)

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The CPU's "model name" from /proc/cpuinfo ("unknown" when absent).
inline std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

}  // namespace shears::bench
