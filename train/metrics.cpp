// Top-k counts, confusion statistics (WAR/UAR) and per-video aggregation (see metrics.h).
#include "train/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/ops.h"

namespace shears::train {

namespace {
// logits (B, C) and labels (B,) checked; returns the scores as doubles, row-major.
std::vector<double> checked_scores(const char* op, const Tensor& logits, const Tensor& labels, int64_t C) {
  SHEARS_CHECK(logits.dim() == 2 && is_floating(logits.dtype()), op, "expected float logits (B, C), got ",
               shape_str(logits.shape()), " ", dtype_name(logits.dtype()));
  SHEARS_CHECK(C < 0 || logits.size(1) == C, op, "logits have ", logits.size(1), " classes, expected ", C);
  SHEARS_CHECK(labels.dim() == 1 && labels.dtype() == DType::I64 && labels.size(0) == logits.size(0), op,
               "expected i64 labels (", logits.size(0), "), got ", shape_str(labels.shape()), " ",
               dtype_name(labels.dtype()));
  return logits.to_vector<double>();
}

int64_t argmax_row(const double* s, int64_t C) {
  int64_t best = 0;
  for (int64_t c = 1; c < C; ++c)
    if (s[c] > s[best] || (std::isnan(s[best]) && !std::isnan(s[c]))) best = c;
  return best;
}
}  // namespace

int64_t label_rank(const double* scores, int64_t num_classes, int64_t label) {
  const double v = scores[label];
  int64_t rank = 0;
  for (int64_t c = 0; c < num_classes; ++c) {
    if (c == label || std::isnan(scores[c])) continue;
    if (std::isnan(v) || scores[c] > v || (scores[c] == v && c < label)) ++rank;
  }
  return rank;
}

std::vector<int64_t> topk_correct(const Tensor& logits, const Tensor& labels, const std::vector<int64_t>& ks) {
  const std::vector<double> s = checked_scores("topk_correct", logits, labels, -1);
  const int64_t B = logits.size(0), C = logits.size(1);
  const std::vector<int64_t> y = labels.to_vector<int64_t>();
  std::vector<int64_t> hits(ks.size(), 0);
  for (int64_t b = 0; b < B; ++b) {
    SHEARS_CHECK(y[size_t(b)] >= 0 && y[size_t(b)] < C, "topk_correct", "label ", y[size_t(b)], " of row ", b,
                 " is outside [0, ", C, ")");
    const int64_t r = label_rank(s.data() + b * C, C, y[size_t(b)]);
    for (size_t i = 0; i < ks.size(); ++i)
      if (r < std::min(ks[i], C)) ++hits[i];
  }
  return hits;
}

// ---------------- ConfusionStats ----------------

ConfusionStats::ConfusionStats(int64_t num_classes) : C_(num_classes) {
  SHEARS_CHECK(num_classes > 0, "confusion_stats", "num_classes must be > 0, got ", num_classes);
  m_.assign(size_t(C_ * C_), 0);
}

void ConfusionStats::add(int64_t label, int64_t prediction, int64_t rank) {
  SHEARS_CHECK(label >= 0 && label < C_ && prediction >= 0 && prediction < C_, "confusion_stats", "label ", label,
               " / prediction ", prediction, " outside [0, ", C_, ")");
  ++m_[size_t(label * C_ + prediction)];
  ++total_;
  if (rank < std::min<int64_t>(5, C_)) ++top5_;
}

void ConfusionStats::add(const Tensor& logits, const Tensor& labels) {
  const std::vector<double> s = checked_scores("confusion_stats", logits, labels, C_);
  const std::vector<int64_t> y = labels.to_vector<int64_t>();
  for (int64_t b = 0; b < logits.size(0); ++b) {
    const double* row = s.data() + b * C_;
    const int64_t label = y[size_t(b)];
    SHEARS_CHECK(label >= 0 && label < C_, "confusion_stats", "label ", label, " outside [0, ", C_, ")");
    add(label, argmax_row(row, C_), label_rank(row, C_, label));
  }
}

void ConfusionStats::merge(const ConfusionStats& o) {
  SHEARS_CHECK(o.C_ == C_, "confusion_stats", "cannot merge ", o.C_, " classes into ", C_);
  for (size_t i = 0; i < m_.size(); ++i) m_[i] += o.m_[i];
  total_ += o.total_;
  top5_ += o.top5_;
}

void ConfusionStats::reset() {
  std::fill(m_.begin(), m_.end(), 0);
  total_ = top5_ = 0;
}

int64_t ConfusionStats::correct() const {
  int64_t c = 0;
  for (int64_t k = 0; k < C_; ++k) c += count(k, k);
  return c;
}

std::vector<int64_t> ConfusionStats::class_totals() const {
  std::vector<int64_t> t(size_t(C_), 0);
  for (int64_t r = 0; r < C_; ++r)
    for (int64_t c = 0; c < C_; ++c) t[size_t(r)] += count(r, c);
  return t;
}

std::vector<double> ConfusionStats::per_class_recall() const {
  const std::vector<int64_t> t = class_totals();
  std::vector<double> r(size_t(C_), std::numeric_limits<double>::quiet_NaN());
  for (int64_t k = 0; k < C_; ++k)
    if (t[size_t(k)] > 0) r[size_t(k)] = double(count(k, k)) / double(t[size_t(k)]);
  return r;
}

double ConfusionStats::top1() const { return total_ ? double(correct()) / double(total_) : 0.0; }
double ConfusionStats::top5() const { return total_ ? double(top5_) / double(total_) : 0.0; }

double ConfusionStats::uar() const {
  double sum = 0.0;
  int64_t n = 0;
  for (double r : per_class_recall())
    if (!std::isnan(r)) {
      sum += r;
      ++n;
    }
  return n ? sum / double(n) : 0.0;
}

// ---------------- VideoAggregator ----------------

VideoAggregator::VideoAggregator(int64_t num_classes) : C_(num_classes) {
  SHEARS_CHECK(num_classes > 0, "video_aggregator", "num_classes must be > 0, got ", num_classes);
}

void VideoAggregator::add(const Tensor& logits, const std::vector<int64_t>& groups, const Tensor& labels) {
  const std::vector<double> s = checked_scores("video_aggregator", logits, labels, C_);
  const int64_t B = logits.size(0);
  SHEARS_CHECK(int64_t(groups.size()) == B, "video_aggregator", "got ", groups.size(), " group ids for ", B,
               " views");
  const std::vector<int64_t> y = labels.to_vector<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    const double* row = s.data() + b * C_;
    const int64_t label = y[size_t(b)];
    SHEARS_CHECK(label >= 0 && label < C_, "video_aggregator", "label ", label, " outside [0, ", C_, ")");
    Video& v = videos_[groups[size_t(b)]];
    if (v.views == 0) {
      v.label = label;
      v.score_sum.assign(size_t(C_), 0.0);
    }
    SHEARS_CHECK(v.label == label, "video_aggregator", "video ", groups[size_t(b)], " has views labelled ", v.label,
                 " and ", label);
    // softmax in double with the max subtracted
    double mx = row[0];
    for (int64_t c = 1; c < C_; ++c) mx = std::max(mx, row[c]);
    double z = 0.0;
    for (int64_t c = 0; c < C_; ++c) z += std::exp(row[c] - mx);
    for (int64_t c = 0; c < C_; ++c) v.score_sum[size_t(c)] += std::exp(row[c] - mx) / z;
    ++v.views;
    ++views_;
  }
}

void VideoAggregator::reset() {
  videos_.clear();
  views_ = 0;
}

VideoAggregator::Result VideoAggregator::result() const {
  Result r(C_);
  r.videos = int64_t(videos_.size());
  r.views = views_;
  std::vector<double> mean(static_cast<size_t>(C_), 0.0);
  for (const auto& [id, v] : videos_) {
    for (int64_t c = 0; c < C_; ++c) mean[size_t(c)] = v.score_sum[size_t(c)] / double(v.views);
    r.per_video.add(v.label, argmax_row(mean.data(), C_), label_rank(mean.data(), C_, v.label));
  }
  r.top1 = r.per_video.top1();
  r.top5 = r.per_video.top5();
  return r;
}

}  // namespace shears::train
