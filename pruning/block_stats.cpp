// Gardener's block statistics (see block_stats.h). Two passes over fixed-size chunks of every
// block's matrices: pass 1 counts fp16 codes and takes sums, min and max; pass 2 takes central
// moments and the K-bin histogram. Integer counts are merged under a per-block lock (exact in any
// order); floating-point partials are kept per chunk and summed in chunk order.
#include "pruning/block_stats.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>

#include "tensor/fp16.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"

namespace shears::pruning {

namespace {

constexpr int64_t kChunk = int64_t(1) << 20;  // weights per work item
constexpr int64_t kCodes = 65536;
constexpr int64_t kConvert = 4096;            // fp16 codes converted per inner batch
constexpr int64_t kMaxBins = int64_t(1) << 24;  // K-bin histograms: one count table per thread

struct Chunk {
  size_t block;
  const float* data;
  int64_t n;
};

struct Pass1 {  // per chunk
  double sum = 0, sum_abs = 0, sum_sq = 0, sum_abs_log_abs = 0;
  double min = std::numeric_limits<double>::infinity(), max = -std::numeric_limits<double>::infinity();
  double non_finite = 0;
};

struct Pass2 {  // per chunk
  double m2 = 0, m4 = 0, abs_m2 = 0;
};

constexpr int64_t kLanes = 16;  // independent accumulators: the loops vectorize without reassociation

// Combines lane accumulators in a fixed pairwise order.
inline double combine(double (&acc)[kLanes]) {
  for (int64_t w = kLanes / 2; w >= 1; w /= 2)
    for (int64_t l = 0; l < w; ++l) acc[l] += acc[l + w];
  return acc[0];
}

// a * ln(a) for a finite a >= 0 (0 for a = 0), branch-free so the loop vectorizes:
// a = 2^e * m with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s) = 2 (s + s^3/3 + ... + s^15/15),
// s = (m - 1)/(m + 1), |s| <= 0.1716: truncation error below 1e-14 relative.
inline double x_log_x(double a) {
  uint64_t bits;
  std::memcpy(&bits, &a, 8);
  int64_t e = int64_t(bits >> 52) - 1023;
  const uint64_t mbits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
  double m;
  std::memcpy(&m, &mbits, 8);
  const bool high = m > 1.4142135623730951;
  m = high ? 0.5 * m : m;
  e = high ? e + 1 : e;
  const double s = (m - 1.0) / (m + 1.0), s2 = s * s;
  double p = 1.0 / 15;
  p = p * s2 + 1.0 / 13;
  p = p * s2 + 1.0 / 11;
  p = p * s2 + 1.0 / 9;
  p = p * s2 + 1.0 / 7;
  p = p * s2 + 1.0 / 5;
  p = p * s2 + 1.0 / 3;
  p = p * s2 + 1.0;
  const double ln = double(e) * 0.69314718055994530942 + 2.0 * s * p;
  return a > 0 ? a * ln : 0.0;
}

Pass1 pass1_sums(const float* x, int64_t n) {
  double sum[kLanes] = {}, sum_abs[kLanes] = {}, sum_sq[kLanes] = {}, xlx[kLanes] = {}, bad[kLanes] = {};
  double lo[kLanes], hi[kLanes];
  for (int64_t l = 0; l < kLanes; ++l) {
    lo[l] = std::numeric_limits<double>::infinity();
    hi[l] = -std::numeric_limits<double>::infinity();
  }
  auto step = [&](int64_t l, double w) {
    const double a = std::fabs(w);
    bad[l] += a <= 3.4028234663852886e38 ? 0.0 : 1.0;  // NaN or inf
    sum[l] += w;
    sum_abs[l] += a;
    sum_sq[l] += w * w;
    xlx[l] += x_log_x(a);
    lo[l] = w < lo[l] ? w : lo[l];
    hi[l] = w > hi[l] ? w : hi[l];
  };
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) step(l, double(x[i + l]));
  for (int64_t l = 0; i + l < n; ++l) step(l, double(x[i + l]));
  Pass1 r;
  r.sum = combine(sum);
  r.sum_abs = combine(sum_abs);
  r.sum_sq = combine(sum_sq);
  r.sum_abs_log_abs = combine(xlx);
  r.non_finite = combine(bad);
  for (int64_t l = 0; l < kLanes; ++l) {
    r.min = std::min(r.min, lo[l]);
    r.max = std::max(r.max, hi[l]);
  }
  return r;
}

Pass2 pass2_moments(const float* x, int64_t n, double mean, double mean_abs) {
  double m2[kLanes] = {}, m4[kLanes] = {}, am2[kLanes] = {};
  auto step = [&](int64_t l, double w) {
    const double d = w - mean, d2 = d * d, da = std::fabs(w) - mean_abs;
    m2[l] += d2;
    m4[l] += d2 * d2;
    am2[l] += da * da;
  };
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) step(l, double(x[i + l]));
  for (int64_t l = 0; i + l < n; ++l) step(l, double(x[i + l]));
  return {combine(m2), combine(m4), combine(am2)};
}

// Contiguous f32 copies (or the tensors themselves) and the chunk list over all blocks.
struct Work {
  std::vector<std::vector<Tensor>> matrices;
  std::vector<Chunk> chunks;
};

Work make_work(const std::vector<BlockWeights>& blocks) {
  Work w;
  w.matrices.resize(blocks.size());
  for (size_t b = 0; b < blocks.size(); ++b) {
    const BlockWeights& bw = blocks[b];
    SHEARS_CHECK(!bw.matrices.empty() && bw.count() > 0, "block_stats", "block '", bw.name, "' has no weights");
    for (size_t m = 0; m < bw.matrices.size(); ++m) {
      const Tensor& t = bw.matrices[m];
      const std::string name = m < bw.tensor_names.size() ? bw.tensor_names[m] : bw.name;
      SHEARS_CHECK(t.defined() && is_floating(t.dtype()), "block_stats", "tensor '", name,
                   "' of block '", bw.name, "' is not a floating-point tensor");
      // statistics are computed on the host: a weight on a device is copied over once
      Tensor c = kernels::contiguous(t.dtype() == DType::F32 ? t.cpu() : kernels::to_dtype(t.cpu(), DType::F32));
      w.matrices[b].push_back(c);
      const float* p = c.data<float>();
      for (int64_t s = 0; s < c.numel(); s += kChunk) w.chunks.push_back({b, p + s, std::min(kChunk, c.numel() - s)});
    }
  }
  return w;
}

void fold_negative_zero(Fp16Counts& counts) {
  counts[0] += counts[0x8000];
  counts[0x8000] = 0;
}

// Adds the fp16 code counts of a chunk to `local`.
void count_codes(const float* x, int64_t n, std::vector<uint32_t>& local) {
  uint16_t codes[kConvert];
  for (int64_t s = 0; s < n; s += kConvert) {
    const int64_t m = std::min(kConvert, n - s);
    float_to_fp16_bits(x + s, codes, m);
    for (int64_t i = 0; i < m; ++i) ++local[codes[i]];
  }
}

void add_counts(std::vector<int64_t>& total, const std::vector<uint32_t>& local, std::mutex& lock) {
  std::lock_guard<std::mutex> guard(lock);
  for (size_t i = 0; i < local.size(); ++i) total[i] += local[i];
}

// numpy.histogram bin of x in K bins over [lo, hi] (hi > lo): floor((x - lo) * K / (hi - lo)),
// corrected against the bin edges lo + i * (hi - lo) / K, max into the last bin.
inline int64_t bin_of(double x, double lo, double hi, int64_t k) {
  const double width = (hi - lo) / double(k);
  int64_t i = static_cast<int64_t>((x - lo) * (double(k) / (hi - lo)));
  i = std::min(std::max(i, int64_t(0)), k - 1);
  if (i > 0 && x < lo + double(i) * width) --i;
  else if (i < k - 1 && x >= lo + double(i + 1) * width) ++i;
  return i;
}

}  // namespace

double count_entropy(const std::vector<int64_t>& counts) {
  int64_t total = 0;
  for (int64_t c : counts) total += c;
  if (total == 0) return 0.0;
  const double n = double(total);
  double h = 0.0;
  for (int64_t c : counts)
    if (c > 0) {
      const double p = double(c) / n;
      h -= p * std::log(p);
    }
  return h;
}

double mutual_information(const Fp16Counts& a, const Fp16Counts& b) {
  SHEARS_CHECK(a.size() == size_t(kCodes) && b.size() == size_t(kCodes), "mutual_information",
               "expected two fp16 count tables of 65536 entries, got ", a.size(), " and ", b.size());
  std::vector<int64_t> joint(a.size());
  for (size_t i = 0; i < a.size(); ++i) joint[i] = a[i] + b[i];
  return count_entropy(a) + count_entropy(b) - count_entropy(joint);
}

std::vector<double> mean_mutual_information(const std::vector<Fp16Counts>& counts) {
  const size_t L = counts.size();
  std::vector<double> mi(L, 0.0);
  if (L < 2) return mi;
  std::vector<std::vector<double>> pair(L, std::vector<double>(L, 0.0));
  parallel_for(int64_t(L * L), 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const size_t j = size_t(p) / L, k = size_t(p) % L;
      if (j < k) pair[j][k] = mutual_information(counts[j], counts[k]);
    }
  });
  for (size_t j = 0; j < L; ++j) {
    double s = 0.0;
    for (size_t k = 0; k < L; ++k)
      if (k != j) s += j < k ? pair[j][k] : pair[k][j];
    mi[j] = s / double(L - 1);
  }
  return mi;
}

std::vector<double> min_max_normalize(const std::vector<double>& values) {
  if (values.empty()) return {};
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  const double a = *lo, range = *hi - *lo;
  std::vector<double> out(values.size(), 0.0);
  if (range > 0)
    for (size_t i = 0; i < values.size(); ++i) out[i] = (values[i] - a) / range;
  return out;
}

std::vector<Fp16Counts> fp16_counts(const std::vector<BlockWeights>& blocks) {
  Work work = make_work(blocks);
  std::vector<Fp16Counts> counts(blocks.size(), Fp16Counts(kCodes, 0));
  std::vector<std::mutex> locks(blocks.size());
  parallel_for(int64_t(work.chunks.size()), 1, [&](int64_t begin, int64_t end) {
    std::vector<uint32_t> local(kCodes);
    for (int64_t c = begin; c < end; ++c) {
      const Chunk& ch = work.chunks[size_t(c)];
      std::fill(local.begin(), local.end(), 0u);
      count_codes(ch.data, ch.n, local);
      add_counts(counts[ch.block], local, locks[ch.block]);
    }
  });
  for (auto& c : counts) fold_negative_zero(c);
  return counts;
}

std::vector<BlockStats> block_statistics(const std::vector<BlockWeights>& blocks, const BlockStatsOptions& options) {
  SHEARS_CHECK(options.bins >= 0 && options.bins <= kMaxBins, "block_stats", "bins must be in 0..", kMaxBins,
               " (0: fp16 codes), got ", options.bins);
  const int64_t bins = options.bins;
  Work work = make_work(blocks);
  const size_t L = blocks.size(), C = work.chunks.size();
  std::vector<Fp16Counts> codes(L, Fp16Counts(kCodes, 0));
  std::vector<std::vector<int64_t>> binned(L, std::vector<int64_t>(size_t(bins), 0));
  std::vector<std::mutex> locks(L);

  // Pass 1: fp16 codes, sums, extremes.
  std::vector<Pass1> p1(C);
  parallel_for(int64_t(C), 1, [&](int64_t begin, int64_t end) {
    std::vector<uint32_t> local(kCodes);
    for (int64_t c = begin; c < end; ++c) {
      const Chunk& ch = work.chunks[size_t(c)];
      p1[size_t(c)] = pass1_sums(ch.data, ch.n);
      std::fill(local.begin(), local.end(), 0u);
      count_codes(ch.data, ch.n, local);
      add_counts(codes[ch.block], local, locks[ch.block]);
    }
  });

  std::vector<BlockStats> stats(L);
  std::vector<double> mean(L);
  std::vector<Pass1> total(L);
  for (size_t c = 0; c < C; ++c) {  // chunk order: deterministic sums
    const Pass1& r = p1[c];
    Pass1& t = total[work.chunks[c].block];
    t.sum += r.sum;
    t.sum_abs += r.sum_abs;
    t.sum_sq += r.sum_sq;
    t.sum_abs_log_abs += r.sum_abs_log_abs;
    t.min = std::min(t.min, r.min);
    t.max = std::max(t.max, r.max);
    t.non_finite += r.non_finite;
  }
  for (size_t b = 0; b < L; ++b) {
    SHEARS_CHECK(total[b].non_finite == 0, "block_stats", "block '", blocks[b].name, "' holds ", int64_t(total[b].non_finite),
                 " non-finite weights (NaN or inf); the statistics need finite weights");
    BlockStats& s = stats[b];
    s.count = blocks[b].count();
    const double n = double(s.count);
    s.min = total[b].min;
    s.max = total[b].max;
    s.l1 = total[b].sum_abs;
    s.l2 = std::sqrt(total[b].sum_sq);
    s.mean_abs = total[b].sum_abs / n;
    mean[b] = total[b].sum / n;
    // scipy.stats.entropy(|w|) = ln S - (1/S) sum |w| ln |w|, S = sum |w| (NaN when S = 0)
    s.value_entropy = s.l1 > 0 ? std::log(s.l1) - total[b].sum_abs_log_abs / s.l1
                               : std::numeric_limits<double>::quiet_NaN();
    fold_negative_zero(codes[b]);
  }

  // Pass 2: central moments and the K-bin histogram.
  std::vector<Pass2> p2(C);
  parallel_for(int64_t(C), 1, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> local(static_cast<size_t>(bins));
    for (int64_t c = begin; c < end; ++c) {
      const Chunk& ch = work.chunks[size_t(c)];
      const double mu = mean[ch.block], mu_abs = stats[ch.block].mean_abs;
      p2[size_t(c)] = pass2_moments(ch.data, ch.n, mu, mu_abs);
      if (bins > 0) {
        std::fill(local.begin(), local.end(), 0);
        const double lo = stats[ch.block].min, hi = stats[ch.block].max;
        if (hi > lo)
          for (int64_t i = 0; i < ch.n; ++i) ++local[size_t(bin_of(ch.data[i], lo, hi, bins))];
        else
          local[0] += ch.n;  // numpy widens an empty range to [lo - 0.5, hi + 0.5]: all values in one bin
        std::lock_guard<std::mutex> guard(locks[ch.block]);
        for (int64_t k = 0; k < bins; ++k) binned[ch.block][size_t(k)] += local[size_t(k)];
      }
    }
  });
  std::vector<Pass2> moments(L);
  for (size_t c = 0; c < C; ++c) {
    Pass2& t = moments[work.chunks[c].block];
    t.m2 += p2[c].m2;
    t.m4 += p2[c].m4;
    t.abs_m2 += p2[c].abs_m2;
  }

  const std::vector<double> mi = mean_mutual_information(codes);
  for (size_t b = 0; b < L; ++b) {
    BlockStats& s = stats[b];
    const double n = double(s.count);
    s.var_abs = moments[b].abs_m2 / n;
    s.std_abs = std::sqrt(s.var_abs);
    const double m2 = moments[b].m2 / n, m4 = moments[b].m4 / n;
    s.kurtosis = m2 > 0 ? m4 / (m2 * m2) - 3.0 : std::numeric_limits<double>::quiet_NaN();
    const std::vector<int64_t>& table = bins > 0 ? binned[b] : codes[b];
    s.entropy = count_entropy(table);
    s.distinct_values = std::count_if(table.begin(), table.end(), [](int64_t c) { return c > 0; });
    s.efficiency = s.count > 1 ? s.entropy / std::log(n) : 0.0;
    s.mutual_information = mi[b];
  }
  return stats;
}

}  // namespace shears::pruning
