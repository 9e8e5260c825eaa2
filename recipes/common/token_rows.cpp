// Token-pruning rows of the main job's summary (see token_rows.h).
#include "common/token_rows.h"

#include <algorithm>
#include <chrono>

#include "autograd/node.h"
#include "data/data_loader.h"
#include "nn/flop_count.h"
#include "pruning/token_pruning.h"
#include "train/metrics.h"

namespace shears::recipes {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// One timed pass over the test set: top-1, images/s, and the token counts of the last batch.
struct Pass {
  double top1 = 0, images_per_s = 0;
};

Pass timed_pass(nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> test, const data::Transform& tf,
                int64_t batch_size) {
  data::LoaderOptions eo;
  eo.batch_size = batch_size;
  eo.shuffle = false;
  eo.drop_last = false;
  data::DataLoader loader(test, eo, tf);
  loader.start_epoch(0);
  NoGradGuard no_grad;
  train::ConfusionStats stats(test->num_classes());
  data::Batch batch;
  double model_s = 0;
  while (loader.next(batch)) {  // only the forward is timed: decoding is not the model's cost
    const double t0 = now_s();
    Tensor logits = model.forward(batch.inputs);
    model_s += now_s() - t0;
    stats.add(logits, batch.labels);
  }
  return {stats.top1(), double(stats.total()) / std::max(model_s, 1e-9)};
}

Pass median_pass(nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> test, const data::Transform& tf,
                 int64_t batch_size, int repeats) {
  std::vector<Pass> passes;
  for (int i = 0; i < std::max(repeats, 1); ++i) passes.push_back(timed_pass(model, test, tf, batch_size));
  std::sort(passes.begin(), passes.end(), [](const Pass& a, const Pass& b) { return a.images_per_s < b.images_per_s; });
  return passes[passes.size() / 2];
}

}  // namespace

std::vector<TokenRow> token_pruning_rows(nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> test,
                                         data::Transform transform, const std::vector<std::string>& policies,
                                         double keep_rate, int64_t batch_size, int repeats) {
  model.eval();
  std::vector<TokenRow> rows;
  const nn::ModelConfig cfg = model.config();
  Pass dense = median_pass(model, test, transform, batch_size, repeats);
  rows.push_back({"dense", 1.0, dense.top1, nn::count_flops(cfg).total / 1e9, dense.images_per_s});
  for (const std::string& name : policies) {
    pruning::TokenPruningConfig pc;
    pc.policy = pruning::parse_token_policy(name);
    pc.keep_rate = keep_rate;
    pc.fuse = true;
    auto pruner = pruning::install_token_pruning(model, pc);
    Pass p = median_pass(model, test, transform, batch_size, repeats);
    // GFLOPs per image from the counts the policy produced (every image gets the same counts).
    const double gflops = nn::count_flops(cfg, pruner->last_token_counts()).total / 1e9;
    pruning::remove_token_pruning(model);
    rows.push_back({pc.policy.name(), keep_rate, p.top1, gflops, p.images_per_s});
  }
  model.train();
  return rows;
}

Table token_rows_table(const std::vector<TokenRow>& rows) {
  Table t;
  t.name = "token_rows";
  t.title = "Token pruning without fine-tuning (fusion on, default pruning blocks)";
  t.columns = {"Method", "Keep rate", "Test top-1 (%)", "GFLOPs", "Images/s", "Speed-up"};
  const double base = rows.empty() ? 1.0 : rows.front().images_per_s;
  for (const TokenRow& r : rows)
    t.add_row({r.method, fmt(r.keep_rate, 2), fmt_percent(r.top1), fmt(r.gflops, 4), fmt(r.images_per_s, 0),
               fmt(r.images_per_s / base, 2) + "x"});
  t.notes.push_back("Images/s: model forward only, median of timed passes over the test set.");
  return t;
}

}  // namespace shears::recipes
