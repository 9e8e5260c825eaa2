// Block-removal experiments shared by the Gardener recipe and the main job: remove a set of
// blocks from a trained model (pruning::drop_blocks on a copy), measure accuracy right after
// removal and after a short fine-tune, with results cached by the set of removed blocks (many
// criteria remove the same set), plus "Gardener rows": the k lowest-entropy blocks removed
// for each k, with and without the short fine-tune, and their GFLOPs.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/report.h"
#include "data/dataset.h"
#include "nn/vision_transformer.h"

namespace shears::recipes {

struct ShortFinetune {
  int64_t epochs = 1;
  double warmup_epochs = 0.1;
  double lr = 1e-3;              // peak, cosine to min_lr (Gardener: AdamW lr 1e-3, wd 0.05)
  double min_lr = 1e-6;
  double weight_decay = 0.05;
  double label_smoothing = 0.0;
  int64_t batch_size = 32;
  uint64_t seed = 0;
  int64_t log_every = 0;         // Trainer progress lines (0 = quiet)
};

struct RemovalResult {
  std::vector<int64_t> removed;  // 0-based, ascending
  int64_t params = 0;
  double gflops = 0;             // fvcore convention, per sample
  double acc_removed = 0;        // top-1 (WAR) right after removal, no fine-tune
  double acc_finetuned = 0;      // after the short fine-tune (NaN when not run)
  double uar_finetuned = 0;
  double seconds = 0;
};

// Top-1 / UAR of `model` on `test` (no gradients; batches of `batch_size`).
struct Accuracy {
  double top1 = 0, uar = 0;
};
Accuracy evaluate_accuracy(nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> test,
                           data::Transform transform, int64_t batch_size = 64);

// Fine-tunes `model` in place with AdamW + warm-up cosine (train::Trainer), no augmentation
// beyond `transform`. Returns the mean loss of the last epoch.
double short_finetune(nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> train,
                      data::Transform transform, const ShortFinetune& ft);

// A fresh copy of a model (same config, weights copied).
std::shared_ptr<nn::VisionTransformer> copy_model(const nn::VisionTransformer& model);

class BlockRemovalRunner {
 public:
  // `finetune_for(k)` gives the short fine-tune for k removed blocks (return epochs <= 0 to skip it).
  BlockRemovalRunner(const nn::VisionTransformer& base, std::shared_ptr<const data::Dataset> train,
                     std::shared_ptr<const data::Dataset> test, data::Transform train_transform,
                     data::Transform test_transform, std::function<ShortFinetune(int64_t k)> finetune_for);

  // Runs (or returns the cached result of) removing `removed` (any order; sorted for the key).
  const RemovalResult& run(std::vector<int64_t> removed);
  bool cached(std::vector<int64_t> removed) const;
  int64_t runs() const { return runs_; }
  int64_t hits() const { return hits_; }
  // Called after every run that was not cached (progress lines).
  std::function<void(const RemovalResult&)> on_result;

 private:
  const nn::VisionTransformer& base_;
  std::shared_ptr<const data::Dataset> train_, test_;
  data::Transform train_tf_, test_tf_;
  std::function<ShortFinetune(int64_t)> finetune_for_;
  std::map<std::vector<int64_t>, RemovalResult> cache_;
  int64_t runs_ = 0, hits_ = 0;
};

// One row per k: the k lowest-entropy blocks (Gardener, fp16 weight-number entropy, data-free)
// removed from `model`, accuracy without and with the short fine-tune, params and GFLOPs.
struct GardenerRow {
  int64_t k = 0;
  RemovalResult result;
};
std::vector<GardenerRow> gardener_rows(const nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> train,
                                       std::shared_ptr<const data::Dataset> test, data::Transform train_transform,
                                       data::Transform test_transform, const std::vector<int64_t>& ks,
                                       const ShortFinetune& finetune);

// The rows as a Table (name "gardener_rows"): k | Removed blocks (1-based) | Params (M) |
// GFLOPs | Acc. removed (%) | Acc. fine-tuned (%), with the unpruned model as the first row.
Table gardener_rows_table(const std::vector<GardenerRow>& rows, const nn::VisionTransformer& model,
                          double base_accuracy);

// "{3, 10, 12}" from 0-based indices (printed 1-based, as in the paper).
std::string blocks_str(const std::vector<int64_t>& removed);

}  // namespace shears::recipes
