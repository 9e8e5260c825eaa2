// Helpers shared by the benchmarks: a monotonic clock in seconds, the median, the CPU model name.
#pragma once
#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "train/median.h"
#include "train/progress.h"

namespace shears::bench {

using train::now_s;  // the project's one monotonic clock (train/progress.h)

using train::median;  // the project's one median (train/median.h)

// The CPU's "model name" from /proc/cpuinfo ("unknown" when absent).
inline std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

}  // namespace shears::bench
