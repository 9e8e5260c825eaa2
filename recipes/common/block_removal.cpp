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
#include "pruning/provenance.h"
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
  std::string order;
  for (int64_t b : removed) order += (order.empty() ? "" : ";") + std::to_string(b);
  if (removed.empty()) return finish(pruning::clone_model(base_), removed, seed, now_s());  // the dense control
  return run_transform(std::make_shared<pruning::BlockRemoval>(pruning::make_block_criterion("order:" + order),
                                                     int64_t(removed.size())),
             seed);
}

const RemovalResult& BlockRemovalRunner::run_transform(std::shared_ptr<pruning::Transform> removal, uint64_t seed) {
  const double t0 = now_s();
  auto model = pruning::clone_model(base_);
  pruning::PruneContext ctx;
  ctx.seed = seed;
  const std::vector<nn::PruneStep> steps = pruning::apply_all(*model, {removal}, ctx);
  SHEARS_CHECK(steps.size() == 1 && steps[0].kept.count("blocks"), "BlockRemovalRunner", "step '", removal->name(),
               "' is not a block removal (its record has no kept blocks)");
  std::vector<int64_t> removed;
  const std::vector<int64_t>& kept = steps[0].kept.at("blocks");
  for (int64_t b = 0; b < int64_t(base_.blocks->size()); ++b)
    if (!std::binary_search(kept.begin(), kept.end(), b)) removed.push_back(b);
  auto it = cache_.find({removed, seed});
  if (it != cache_.end()) {
    ++hits_;
    return it->second;
  }
  return finish(model, removed, seed, t0);
}

const RemovalResult& BlockRemovalRunner::finish(std::shared_ptr<nn::VisionTransformer> model,
                                                std::vector<int64_t> removed, uint64_t seed, double t0) {
  RemovalResult r;
  r.removed = removed;
  r.seed = seed;
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
  BlockRemovalRunner runner(model, train, test, train_transform, test_transform,
                            [finetune](int64_t) { return finetune; });
  std::vector<GardenerRow> rows;
  for (int64_t k : ks)
    rows.push_back(
        {k, runner.run_transform(std::make_shared<pruning::BlockRemoval>(pruning::make_block_criterion("entropy"), k), finetune.seed)});
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
