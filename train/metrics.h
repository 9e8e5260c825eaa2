// Evaluation metrics: top-k hit counts from logits (ties rank the lower class index first,
// like a stable torch.topk), a confusion matrix giving top-1, WAR and UAR, and per-video
// aggregation of multi-view (clips x crops) predictions. Accuracies are fractions in [0, 1].
#pragma once
#include <cstdint>
#include <map>
#include <vector>

#include "tensor/tensor.h"

namespace shears::train {

// Rank of class `label` in one row of scores: the number of classes scored higher, plus
// the lower-index classes scored equal (0 = top-1). NaN scores never outrank anything.
int64_t label_rank(const double* scores, int64_t num_classes, int64_t label);

// For each k, how many rows of logits (B, C) have their label (B,) i64 among the k best
// classes (k is clamped to C, as timm's accuracy does).
std::vector<int64_t> topk_correct(const Tensor& logits, const Tensor& labels, const std::vector<int64_t>& ks);

// Per-class counts over an evaluation: a C x C confusion matrix (rows = true class,
// columns = top-1 prediction) plus top-5 hits.
//   top1 = WAR (weighted average recall) = correct / total;
//   UAR  = mean over classes WITH samples of (correct in class / samples in class).
class ConfusionStats {
 public:
  explicit ConfusionStats(int64_t num_classes);
  // logits (B, C) any float dtype / strides, labels (B,) i64
  void add(const Tensor& logits, const Tensor& labels);
  // One sample whose scores are known: its true class and its rank of that class.
  void add(int64_t label, int64_t prediction, int64_t label_rank);
  void merge(const ConfusionStats& other);
  void reset();

  int64_t num_classes() const { return C_; }
  int64_t total() const { return total_; }
  int64_t correct() const;
  int64_t count(int64_t label, int64_t prediction) const { return m_[size_t(label * C_ + prediction)]; }
  std::vector<int64_t> class_totals() const;
  std::vector<double> per_class_recall() const;  // NaN for classes without samples
  double top1() const;
  double top5() const;
  double war() const { return top1(); }
  double uar() const;

 private:
  int64_t C_;
  std::vector<int64_t> m_;
  int64_t total_ = 0, top5_ = 0;
};

// Multi-view video evaluation. Rule: a video's scores are the MEAN of the softmax
// probabilities of all its views (clips x crops), as VideoMAE's merge() does; its top-1 /
// top-5 come from those mean scores (ties: lower class index). Views are keyed by a group
// id (the video); every view of a video must carry the same label.
class VideoAggregator {
 public:
  explicit VideoAggregator(int64_t num_classes);
  // logits (B, C) of B views, the video id and label of each
  void add(const Tensor& logits, const std::vector<int64_t>& groups, const Tensor& labels);
  void reset();

  struct Result {
    int64_t videos = 0, views = 0;
    double top1 = 0.0, top5 = 0.0;
    ConfusionStats per_video;  // video-level confusion (WAR / UAR)
    explicit Result(int64_t C) : per_video(C) {}
  };
  Result result() const;
  int64_t views() const { return views_; }
  int64_t videos() const { return int64_t(videos_.size()); }

 private:
  struct Video {
    std::vector<double> score_sum;
    int64_t label = -1, views = 0;
  };
  int64_t C_;
  std::map<int64_t, Video> videos_;  // ordered by id: results do not depend on hash order
  int64_t views_ = 0;
};

}  // namespace shears::train
