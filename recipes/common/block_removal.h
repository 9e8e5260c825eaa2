// Block-removal experiments shared by the Gardener recipe and the main job: remove a set of
// blocks from a base model (pruning::drop_blocks on a copy; the Gardener recipe's base is the
// pretrained model), measure accuracy right after removal (optional) and after a fine-tune,
// with results cached by (set of removed blocks, fine-tune seed) (many criteria remove the same
// set), plus "Gardener rows": the k lowest-entropy blocks removed for each k, with and without
// the short fine-tune, and their GFLOPs.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/evaluate.h"
#include "common/finetune.h"
#include "common/report.h"
#include "data/dataset.h"
#include "nn/vision_transformer.h"
#include "pruning/transform.h"

namespace shears::recipes {

struct RemovalResult {
  std::vector<int64_t> removed;  // 0-based, ascending
  int64_t params = 0;
  double gflops = 0;             // fvcore convention, per sample
  double acc_removed = 0;        // top-1 (WAR) right after removal, no fine-tune
  double acc_finetuned = 0;      // after the short fine-tune (NaN when not run)
  double uar_finetuned = 0;
  uint64_t seed = 0;             // the fine-tune's seed (FinetuneOptions::seed)
  double seconds = 0;
};


class BlockRemovalRunner {
 public:
  // `finetune_for(k)` gives the short fine-tune for k removed blocks (return epochs <= 0 to skip it).
  BlockRemovalRunner(const nn::VisionTransformer& base, std::shared_ptr<const data::Dataset> train,
                     std::shared_ptr<const data::Dataset> test, data::Transform train_transform,
                     data::Transform test_transform, std::function<FinetuneOptions(int64_t k)> finetune_for);

  // Runs (or returns the cached result of) removing `removed` (any order; sorted for the key)
  // with the fine-tune of finetune_for(k). An empty set is the dense control (same fine-tune).
  const RemovalResult& run(std::vector<int64_t> removed);
  // The same with the fine-tune's seed replaced by `seed` (repeated runs for seed averages);
  // results are cached by (set, seed).
  const RemovalResult& run(std::vector<int64_t> removed, uint64_t seed);
  // Removal by any block-removal transform (e.g. pruning::BlockRemoval with a registry criterion), applied
  // to a copy of the base through pruning::apply_all; cached by the set it removed and the seed. Every run,
  // explicit sets included ("order:<i;j>" criterion), goes through the transform API, so the pruned copy
  // carries its prune log.
  const RemovalResult& run_transform(std::shared_ptr<pruning::Transform> removal, uint64_t seed);
  bool cached(std::vector<int64_t> removed) const;
  bool cached(std::vector<int64_t> removed, uint64_t seed) const;
  // Measure accuracy right after removal, before the fine-tune (false: acc_removed is NaN;
  // pointless when the base has an untrained head, as a pretrained encoder does).
  bool evaluate_removed = true;
  // Called on the copy after removal, before the fine-tune, with the run's seed (e.g. to draw
  // a fresh classifier head per seed). Optional.
  std::function<void(nn::VisionTransformer&, uint64_t seed)> before_finetune;
  int64_t runs() const { return runs_; }
  int64_t hits() const { return hits_; }
  // Called after every run that was not cached (progress lines).
  std::function<void(const RemovalResult&)> on_result;

 private:
  const nn::VisionTransformer& base_;
  std::shared_ptr<const data::Dataset> train_, test_;
  data::Transform train_tf_, test_tf_;
  const RemovalResult& finish(std::shared_ptr<nn::VisionTransformer> model, std::vector<int64_t> removed,
                              uint64_t seed, double t0);
  std::function<FinetuneOptions(int64_t)> finetune_for_;
  std::map<std::pair<std::vector<int64_t>, uint64_t>, RemovalResult> cache_;
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
                                       const FinetuneOptions& finetune);

// The rows as a Table (name "gardener_rows"): k | Removed blocks (1-based) | Params (M) |
// GFLOPs | Acc. removed (%) | Acc. fine-tuned (%), with the unpruned model as the first row.
Table gardener_rows_table(const std::vector<GardenerRow>& rows, const nn::VisionTransformer& model,
                          double base_accuracy);

// "{3, 10, 12}" from 0-based indices (printed 1-based, as in the paper).
std::string blocks_str(const std::vector<int64_t>& removed);

}  // namespace shears::recipes
