// recipes::evaluate_accuracy on hand-made models and data whose accuracy is known: a head that
// always predicts one class (top-1 = that class's share, UAR = 1 / classes), and labels set from
// each sample's own prediction (top-1 = the share of samples labelled so), over batches that do
// not divide the data set.
#include <catch2/catch.hpp>

#include <vector>

#include "autograd/ops.h"
#include "common/evaluate.h"
#include "test_util.h"
#include "tiny_vit_task.h"

using namespace shears;

namespace {

// The inputs of `base` with the labels given.
class Relabelled : public data::Dataset {
 public:
  Relabelled(std::shared_ptr<const data::Dataset> base, std::vector<int64_t> labels)
      : base_(std::move(base)), labels_(std::move(labels)) {}
  int64_t size() const override { return int64_t(labels_.size()); }
  int64_t num_classes() const override { return base_->num_classes(); }
  data::Sample get(int64_t index) const override {
    data::Sample s = base_->get(index);
    s.label = labels_[size_t(index)];
    return s;
  }

 private:
  std::shared_ptr<const data::Dataset> base_;
  std::vector<int64_t> labels_;
};

}  // namespace

TEST_CASE("evaluate_accuracy of a model that always predicts one class", "[recipes_common][evaluate]") {
  const nn::ModelConfig cfg = test::tiny_vit_config(3);
  nn::VisionTransformer model(cfg, 1);
  {
    NoGradGuard no_grad;
    kernels::copy_(model.head->weight, mul_scalar(model.head->weight, 0.0));
    kernels::copy_(model.head->bias, test::tensor_of({0.0, 5.0, 0.0}, {3}, DType::F32));
  }
  // 10 samples, labels i % 3: class 1 holds 3 of them (1, 4, 7); batches of 4 leave a last batch of 2
  auto data = std::make_shared<test::QuadrantDataset>(10, 3);
  const recipes::Accuracy a = recipes::evaluate_accuracy(model, data, test::normalize_for(cfg), 4);
  CHECK(a.top1 == Approx(0.3).epsilon(1e-12));
  CHECK(a.uar == Approx(1.0 / 3.0).epsilon(1e-12));
  CHECK(model.is_training());  // left in train mode for the fine-tune that usually follows
}

TEST_CASE("evaluate_accuracy counts every sample once, whatever the batch size", "[recipes_common][evaluate]") {
  const nn::ModelConfig cfg = test::tiny_vit_config(3);
  nn::VisionTransformer model(cfg, 5);
  {
    NoGradGuard no_grad;  // spread the logits so no prediction sits on a near-tie
    kernels::copy_(model.head->weight, mul_scalar(model.head->weight, 50.0));
  }
  auto base = std::make_shared<test::QuadrantDataset>(20, 3);
  const data::Transform tf = test::normalize_for(cfg);
  // each sample's prediction, one forward per sample
  std::vector<int64_t> predicted;
  {
    model.eval();
    NoGradGuard no_grad;
    Generator gen(0);
    for (int64_t i = 0; i < base->size(); ++i) {
      Tensor x = unsqueeze(tf(base->get(i).input, gen), 0);
      predicted.push_back(argmax(model.forward(x), 1).item<int64_t>());
    }
    model.train();
  }
  // the first 13 labelled with their prediction, the other 7 with another class
  std::vector<int64_t> labels = predicted;
  for (size_t i = 13; i < labels.size(); ++i) labels[i] = (labels[i] + 1) % 3;
  auto data = std::make_shared<Relabelled>(base, labels);
  for (int64_t batch : {1, 3, 7, 20, 64}) {
    INFO("batch " << batch);
    CHECK(recipes::evaluate_accuracy(model, data, tf, batch).top1 == Approx(13.0 / 20.0).epsilon(1e-12));
  }
}

TEST_CASE("evaluate_accuracy refuses an empty data set and a bad batch size", "[recipes_common][evaluate]") {
  const nn::ModelConfig cfg = test::tiny_vit_config(3);
  nn::VisionTransformer model(cfg, 1);
  CHECK_THROWS_WITH(recipes::evaluate_accuracy(model, std::make_shared<test::QuadrantDataset>(0, 3),
                                               test::normalize_for(cfg)),
                    Catch::Contains("evaluate_accuracy") && Catch::Contains("empty"));
  CHECK_THROWS_WITH(recipes::evaluate_accuracy(model, std::make_shared<test::QuadrantDataset>(4, 3),
                                               test::normalize_for(cfg), 0),
                    Catch::Contains("batch_size must be >= 1, got 0"));
}
