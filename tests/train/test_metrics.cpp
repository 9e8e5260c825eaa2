// Top-k counts with stable ties, WAR/UAR on a hand confusion matrix, and per-video
// aggregation by the mean of clip softmax scores.
#include <catch2/catch.hpp>

#include <cmath>

#include "autograd/ops.h"
#include "train/metrics.h"

using namespace shears;

namespace {
Tensor logits_of(const std::vector<std::vector<double>>& rows) {
  std::vector<float> v;
  for (auto& r : rows)
    for (double x : r) v.push_back(float(x));
  return from_vector(v, {int64_t(rows.size()), int64_t(rows[0].size())});
}
Tensor labels_of(const std::vector<int64_t>& y) { return from_vector(y); }
}  // namespace

TEST_CASE("top-k counts on hand logits, ties to the lower index", "[train][metrics]") {
  Tensor logits = logits_of({{0.1, 0.5, 0.2, 0.5},    // label 3 ties with 1; 1 ranks first -> rank 1
                             {2.0, 1.0, 0.0, -1.0},   // label 0 -> rank 0
                             {0.0, 0.0, 0.0, 0.0}});  // label 2 -> rank 2
  Tensor labels = labels_of({3, 0, 2});
  auto hits = train::topk_correct(logits, labels, {1, 2, 3, 5});
  CHECK(hits == std::vector<int64_t>{1, 2, 3, 3});  // k = 5 is clamped to C = 4

  double row[4] = {0.1, 0.5, 0.2, 0.5};
  CHECK(train::label_rank(row, 4, 1) == 0);
  CHECK(train::label_rank(row, 4, 3) == 1);
  CHECK(train::label_rank(row, 4, 0) == 3);
  CHECK_THROWS(train::topk_correct(logits, labels_of({3, 0, 4}), {1}));
}

TEST_CASE("top-5 over 10 classes", "[train][metrics]") {
  std::vector<double> r = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
  Tensor logits = logits_of({r, r, r});
  auto hits = train::topk_correct(logits, labels_of({0, 4, 5}), {1, 5});
  CHECK(hits == std::vector<int64_t>{1, 2});
}

TEST_CASE("ConfusionStats: top-1 = WAR and UAR skips classes without samples", "[train][metrics]") {
  // 3 classes; class 0: 4 samples, 3 right (one called 1); class 1: 2 samples, 1 right
  // (one called 2); class 2: no samples (but predicted once).
  train::ConfusionStats cs(3);
  auto onehot = [](int64_t c) {
    std::vector<double> r(3, 0.0);
    r[size_t(c)] = 1.0;
    return r;
  };
  cs.add(logits_of({onehot(0), onehot(0), onehot(0), onehot(1)}), labels_of({0, 0, 0, 0}));
  cs.add(logits_of({onehot(1), onehot(2)}), labels_of({1, 1}));
  CHECK(cs.total() == 6);
  CHECK(cs.correct() == 4);
  CHECK(cs.count(0, 1) == 1);
  CHECK(cs.count(1, 2) == 1);
  CHECK(cs.class_totals() == std::vector<int64_t>{4, 2, 0});
  auto rec = cs.per_class_recall();
  CHECK(rec[0] == Approx(0.75));
  CHECK(rec[1] == Approx(0.5));
  CHECK(std::isnan(rec[2]));
  CHECK(cs.top1() == Approx(4.0 / 6.0));
  CHECK(cs.war() == Approx(4.0 / 6.0));
  CHECK(cs.uar() == Approx((0.75 + 0.5) / 2.0));
  CHECK(cs.top5() == 1.0);  // k clamped to 3 classes

  train::ConfusionStats other(3);
  other.add(2, 2, 0);
  cs.merge(other);
  CHECK(cs.uar() == Approx((0.75 + 0.5 + 1.0) / 3.0));
  cs.reset();
  CHECK(cs.total() == 0);
  CHECK(cs.uar() == 0.0);
}

TEST_CASE("VideoAggregator averages clip softmax scores per video", "[train][metrics]") {
  train::VideoAggregator agg(3);
  // video 3 (label 2): two views weakly for class 0, one strongly for class 2. A vote
  // says 0; the mean softmax says 2.
  // video 7 (label 0): views [2,0,0] and [0,3,0]; mean softmax picks 1 (wrong), 0 second.
  agg.add(logits_of({{0.1, 0, 0}, {2, 0, 0}, {0.1, 0, 0}}), {3, 7, 3}, labels_of({2, 0, 2}));
  agg.add(logits_of({{0, 0, 5}, {0, 3, 0}}), {3, 7}, labels_of({2, 0}));
  auto softmax = [](std::vector<double> x) {
    double z = 0;
    for (double v : x) z += std::exp(v);
    for (double& v : x) v = std::exp(v) / z;
    return x;
  };
  // reference for video 7
  auto a = softmax({2, 0, 0}), b = softmax({0, 3, 0});
  CHECK((a[1] + b[1]) / 2 > (a[0] + b[0]) / 2);
  auto r = agg.result();
  CHECK(r.videos == 2);
  CHECK(r.views == 5);
  CHECK(r.top1 == Approx(0.5));
  CHECK(r.top5 == Approx(1.0));
  CHECK(r.per_video.count(2, 2) == 1);  // video 3 right
  CHECK(r.per_video.count(0, 1) == 1);  // video 7 called 1
  CHECK(r.per_video.uar() == Approx(0.5));
  // every view of a video must carry its label
  CHECK_THROWS(agg.add(logits_of({{0, 0, 1}}), {3}, labels_of({1})));
  agg.reset();
  CHECK(agg.result().videos == 0);
}
