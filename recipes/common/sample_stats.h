// Mean and sample standard deviation of a handful of per-seed numbers (study tables).
#pragma once
#include <cmath>
#include <vector>

namespace shears::recipes {

// Arithmetic mean; NaN for an empty vector.
inline double mean_of(const std::vector<double>& v) {
  if (v.empty()) return std::nan("");
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

// Sample standard deviation (n - 1 in the denominator); NaN for fewer than two values.
inline double sample_sd(const std::vector<double>& v) {
  if (v.size() < 2) return std::nan("");
  const double m = mean_of(v);
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / double(v.size() - 1));
}

}  // namespace shears::recipes
