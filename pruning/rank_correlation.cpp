// Spearman's rho, Kendall's tau-b and their bootstrap intervals (see rank_correlation.h).
// O(n^2) Kendall: block counts are small.
#include "pruning/rank_correlation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "tensor/error.h"
#include "tensor/random.h"

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

BootstrapInterval bootstrap_interval(const std::vector<double>& a, const std::vector<double>& b,
                                     const PairedStatistic& statistic, int64_t resamples, uint64_t seed,
                                     double confidence) {
  check_pair(a, b, "bootstrap_interval");
  SHEARS_CHECK(resamples >= 1, "bootstrap_interval", "resamples must be >= 1, got ", resamples);
  SHEARS_CHECK(confidence > 0 && confidence < 1, "bootstrap_interval", "confidence must be in (0, 1), got ",
               confidence);
  BootstrapInterval r;
  r.estimate = statistic(a, b);
  r.resamples = resamples;
  const int64_t n = int64_t(a.size());
  Generator gen(seed);
  std::vector<double> ra(a.size()), rb(b.size()), values;
  values.reserve(size_t(resamples));
  for (int64_t s = 0; s < resamples; ++s) {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t j = gen.randint(0, n);
      ra[size_t(i)] = a[size_t(j)];
      rb[size_t(i)] = b[size_t(j)];
    }
    const double v = statistic(ra, rb);
    if (std::isnan(v))
      ++r.undefined;
    else
      values.push_back(v);
  }
  SHEARS_CHECK(!values.empty(), "bootstrap_interval", "the statistic is undefined on all ", resamples,
               " resamples");
  std::sort(values.begin(), values.end());
  auto percentile = [&](double q) {  // numpy.percentile's default (linear) interpolation
    const double pos = q * double(values.size() - 1);
    const size_t lo = size_t(std::floor(pos)), hi = std::min(lo + 1, values.size() - 1);
    return values[lo] + (pos - double(lo)) * (values[hi] - values[lo]);
  };
  r.low = percentile(0.5 * (1 - confidence));
  r.high = percentile(0.5 * (1 + confidence));
  return r;
}

BootstrapInterval bootstrap_spearman(const std::vector<double>& a, const std::vector<double>& b, int64_t resamples,
                                     uint64_t seed, double confidence) {
  return bootstrap_interval(
      a, b, [](const std::vector<double>& x, const std::vector<double>& y) { return spearman_rho(x, y); }, resamples,
      seed, confidence);
}

BootstrapInterval bootstrap_kendall(const std::vector<double>& a, const std::vector<double>& b, int64_t resamples,
                                    uint64_t seed, double confidence) {
  return bootstrap_interval(
      a, b, [](const std::vector<double>& x, const std::vector<double>& y) { return kendall_tau_b(x, y); }, resamples,
      seed, confidence);
}

}  // namespace shears::pruning
