// Spearman's rho and Kendall's tau-b (see rank_correlation.h). O(n^2) Kendall: block counts are small.
#include "pruning/rank_correlation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "tensor/error.h"

namespace shears::pruning {

namespace {

void check_pair(const std::vector<double>& a, const std::vector<double>& b, const char* op) {
  SHEARS_CHECK(a.size() == b.size(), op, "the two rankings differ in length: ", a.size(), " vs ", b.size());
  SHEARS_CHECK(a.size() >= 2, op, "need at least 2 paired values, got ", a.size());
  for (size_t i = 0; i < a.size(); ++i)
    SHEARS_CHECK(!std::isnan(a[i]) && !std::isnan(b[i]), op, "value ", i, " is NaN");
}

std::vector<double> to_double(const std::vector<int64_t>& v) { return std::vector<double>(v.begin(), v.end()); }

int sign(double x) { return (x > 0) - (x < 0); }

}  // namespace

std::vector<double> average_ranks(const std::vector<double>& values) {
  const size_t n = values.size();
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t(0));
  std::stable_sort(idx.begin(), idx.end(), [&](size_t i, size_t j) { return values[i] < values[j]; });
  std::vector<double> ranks(n);
  for (size_t s = 0; s < n;) {
    size_t e = s + 1;
    while (e < n && values[idx[e]] == values[idx[s]]) ++e;
    const double r = 0.5 * double(s + 1 + e);  // mean of ranks s+1 .. e
    for (size_t k = s; k < e; ++k) ranks[idx[k]] = r;
    s = e;
  }
  return ranks;
}

double spearman_rho(const std::vector<double>& a, const std::vector<double>& b) {
  check_pair(a, b, "spearman_rho");
  const std::vector<double> ra = average_ranks(a), rb = average_ranks(b);
  const double n = double(a.size()), mean = 0.5 * (n + 1);  // ranks always average (n+1)/2
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    const double da = ra[i] - mean, db = rb[i] - mean;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  if (saa == 0 || sbb == 0) return std::numeric_limits<double>::quiet_NaN();
  return sab / std::sqrt(saa * sbb);
}

double kendall_tau_b(const std::vector<double>& a, const std::vector<double>& b) {
  check_pair(a, b, "kendall_tau_b");
  const size_t n = a.size();
  double concordant_minus_discordant = 0, pairs = 0, tied_a = 0, tied_b = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      const int sa = sign(a[i] - a[j]), sb = sign(b[i] - b[j]);
      pairs += 1;
      if (sa == 0) tied_a += 1;
      if (sb == 0) tied_b += 1;
      concordant_minus_discordant += double(sa * sb);
    }
  const double denom = std::sqrt((pairs - tied_a) * (pairs - tied_b));
  if (denom == 0) return std::numeric_limits<double>::quiet_NaN();
  return concordant_minus_discordant / denom;
}

double spearman_rho(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  return spearman_rho(to_double(a), to_double(b));
}
double kendall_tau_b(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  return kendall_tau_b(to_double(a), to_double(b));
}

}  // namespace shears::pruning
