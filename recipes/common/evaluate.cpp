// Held-out accuracy (see evaluate.h).
#include "common/evaluate.h"

#include "autograd/ops.h"
#include "data/data_loader.h"
#include "train/metrics.h"

namespace shears::recipes {

Accuracy evaluate_accuracy(nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> test,
                           data::Transform transform, int64_t batch_size) {
  SHEARS_CHECK(batch_size >= 1, "evaluate_accuracy", "batch_size must be >= 1, got ", batch_size);
  SHEARS_CHECK(test->size() > 0, "evaluate_accuracy", "the test set (", test->describe(), ") is empty");
  data::LoaderOptions eo;
  eo.batch_size = batch_size;
  eo.shuffle = false;
  eo.drop_last = false;
  data::DataLoader loader(test, eo, transform);
  loader.start_epoch(0);
  model.eval();
  NoGradGuard no_grad;
  train::ConfusionStats stats(test->num_classes());
  data::Batch batch;
  const Device device = model.device();  // batches are made on the host; a model on a GPU gets them copied
  while (loader.next(batch)) stats.add(model.forward(batch.inputs.to(device)), batch.labels);
  SHEARS_CHECK(stats.total() == test->size(), "evaluate_accuracy", "evaluated ", stats.total(), " of ",
               test->size(), " samples");
  model.train();
  return {stats.top1(), stats.uar()};
}

Accuracy evaluate_accuracy(nn::VisionTransformer& model, const std::vector<pruning::CalibrationBatch>& batches,
                           int64_t num_classes) {
  SHEARS_CHECK(!batches.empty(), "evaluate_accuracy", "no batches to evaluate on");
  model.eval();
  NoGradGuard no_grad;
  train::ConfusionStats stats(num_classes);
  const Device device = model.device();
  for (const auto& b : batches) stats.add(model.forward(b.inputs.to(device)), b.labels);
  model.train();
  return {stats.top1(), stats.uar()};
}

}  // namespace shears::recipes
