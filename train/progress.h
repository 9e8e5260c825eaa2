// Wall-clock helpers for progress lines: a monotonic clock in seconds and a compact ETA
// ("42s", "3m07s", "1h05m"). Shared by the trainers and the recipes.
#pragma once
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

namespace shears::train {

// Seconds on a monotonic clock (differences are durations).
inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline std::string format_eta(double seconds) {
  char buf[32];
  if (seconds >= 3600) std::snprintf(buf, sizeof buf, "%dh%02dm", int(seconds / 3600), int(std::fmod(seconds, 3600) / 60));
  else if (seconds >= 60) std::snprintf(buf, sizeof buf, "%dm%02ds", int(seconds / 60), int(std::fmod(seconds, 60)));
  else std::snprintf(buf, sizeof buf, "%.0fs", seconds);
  return buf;
}

}  // namespace shears::train
