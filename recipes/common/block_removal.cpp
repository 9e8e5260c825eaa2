// Block-removal experiments and Gardener rows (see block_removal.h).
#include "common/block_removal.h"

#include "common/finetune.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "autograd/ops.h"
#include "data/data_loader.h"
#include "nn/flop_count.h"
#include "nn/io/state_dict.h"
#include "pruning/block_ranking.h"
#include "pruning/block_stats.h"
#include "pruning/block_weights.h"
#include "pruning/surgery.h"
#include "train/metrics.h"
#include "train/trainer.h"
#include "train/progress.h"

namespace shears::recipes {

namespace {
using train::now_s;
}  // namespace

std::string blocks_str(const std::vector<int64_t>& removed) {
  std::string s = "{";
  for (size_t i = 0; i < removed.size(); ++i) s += (i ? ", " : "") + std::to_string(removed[i] + 1);
  return s + "}";
}

std::shared_ptr<nn::VisionTransformer> copy_model(const nn::VisionTransformer& model) {
  auto copy = std::make_shared<nn::VisionTransformer>(model.config());
  nn::load_state_dict(*copy, nn::state_dict(model), /*strict=*/true);
  return copy;
}

BlockRemovalRunner::BlockRemovalRunner(const nn::VisionTransformer& base, std::shared_ptr<const data::Dataset> train,
                                       std::shared_ptr<const data::Dataset> test, data::Transform train_transform,
                                       data::Transform test_transform,
                                       std::function<FinetuneOptions(int64_t k)> finetune_for)
    : base_(base), train_(std::move(train)), test_(std::move(test)), train_tf_(std::move(train_transform)),
      test_tf_(std::move(test_transform)), finetune_for_(std::move(finetune_for)) {}

bool BlockRemovalRunner::cached(std::vector<int64_t> removed) const {
  const uint64_t seed = finetune_for_(int64_t(removed.size())).seed;
  return cached(std::move(removed), seed);
}

bool BlockRemovalRunner::cached(std::vector<int64_t> removed, uint64_t seed) const {
  std::sort(removed.begin(), removed.end());
  return cache_.count({removed, seed}) > 0;
}

const RemovalResult& BlockRemovalRunner::run(std::vector<int64_t> removed) {
  const uint64_t seed = finetune_for_(int64_t(removed.size())).seed;
  return run(std::move(removed), seed);
}

const RemovalResult& BlockRemovalRunner::run(std::vector<int64_t> removed, uint64_t seed) {
  std::sort(removed.begin(), removed.end());
  auto it = cache_.find({removed, seed});
  if (it != cache_.end()) {
    ++hits_;
    return it->second;
  }
  const double t0 = now_s();
  RemovalResult r;
  r.removed = removed;
  r.seed = seed;
  auto model = copy_model(base_);
  pruning::drop_blocks(*model, removed);
  const nn::ModelConfig cfg = model->config();
  r.params = nn::count_parameters(cfg);
  r.gflops = nn::count_flops(cfg).total / 1e9;
  r.acc_removed = evaluate_removed ? evaluate_accuracy(*model, test_, test_tf_).top1 : std::nan("");
  FinetuneOptions ft = finetune_for_(int64_t(removed.size()));
  ft.seed = seed;
  if (before_finetune) before_finetune(*model, seed);
  if (ft.epochs > 0) {
    finetune(*model, train_, train_tf_, ft);
    Accuracy a = evaluate_accuracy(*model, test_, test_tf_);
    r.acc_finetuned = a.top1;
    r.uar_finetuned = a.uar;
  } else {
    r.acc_finetuned = r.uar_finetuned = std::nan("");
  }
  r.seconds = now_s() - t0;
  ++runs_;
  const RemovalResult& stored = cache_.emplace(std::make_pair(removed, seed), r).first->second;
  if (on_result) on_result(stored);
  return stored;
}

std::vector<GardenerRow> gardener_rows(const nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> train,
                                       std::shared_ptr<const data::Dataset> test, data::Transform train_transform,
                                       data::Transform test_transform, const std::vector<int64_t>& ks,
                                       const FinetuneOptions& finetune) {
  const auto stats = pruning::block_statistics(pruning::block_weights(model));
  const auto order = pruning::removal_order(stats, pruning::Criterion::Entropy);
  BlockRemovalRunner runner(model, train, test, train_transform, test_transform,
                            [finetune](int64_t) { return finetune; });
  std::vector<GardenerRow> rows;
  for (int64_t k : ks) rows.push_back({k, runner.run(pruning::blocks_to_remove(order, k))});
  return rows;
}

Table gardener_rows_table(const std::vector<GardenerRow>& rows, const nn::VisionTransformer& model,
                          double base_accuracy) {
  Table t;
  t.name = "gardener_rows";
  t.title = "Gardener: remove the k lowest-entropy blocks (data-free), accuracy without and with a short fine-tune";
  t.columns = {"k", "Removed blocks", "Params (M)", "GFLOPs", "Acc. removed (%)", "Acc. fine-tuned (%)"};
  const nn::ModelConfig cfg = model.config();
  t.add_row({"0", "-", fmt(nn::count_parameters(cfg) / 1e6, 3), fmt(nn::count_flops(cfg).total / 1e9, 4),
             fmt_percent(base_accuracy), fmt_percent(base_accuracy)});
  for (const auto& r : rows)
    t.add_row({std::to_string(r.k), blocks_str(r.result.removed), fmt(r.result.params / 1e6, 3),
               fmt(r.result.gflops, 4), fmt_percent(r.result.acc_removed),
               std::isnan(r.result.acc_finetuned) ? "-" : fmt_percent(r.result.acc_finetuned)});
  t.notes.push_back("Blocks are numbered from 1; entropy = weight-number entropy over the fp16 codes of each block's "
                    "qkv/proj/fc1/fc2 weights (lowest removed first).");
  return t;
}

}  // namespace shears::recipes
