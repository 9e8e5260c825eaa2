// Token-pruning rows of the main job's summary (see token_rows.h).
#include "common/token_rows.h"

#include "common/block_removal.h"
#include "common/throughput.h"
#include "data/data_loader.h"
#include "nn/flop_count.h"
#include "pruning/token_pruning.h"

namespace shears::recipes {
namespace {

// The first `batch_size` test images, preprocessed: the fixed batch throughput is timed on.
Tensor first_batch(std::shared_ptr<const data::Dataset> test, const data::Transform& tf, int64_t batch_size) {
  data::LoaderOptions o;
  o.batch_size = batch_size;
  o.shuffle = false;
  o.drop_last = false;
  data::DataLoader loader(test, o, tf);
  loader.start_epoch(0);
  data::Batch batch;
  loader.next(batch);
  return batch.inputs;
}

}  // namespace

std::vector<TokenRow> token_pruning_rows(nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> test,
                                         data::Transform transform, const std::vector<std::string>& policies,
                                         double keep_rate, int64_t batch_size, int repeats) {
  const nn::ModelConfig cfg = model.config();
  std::vector<TokenRow> rows;
  rows.push_back({"dense", 1.0, evaluate_accuracy(model, test, transform, batch_size).top1,
                  nn::count_flops(cfg).total / 1e9, 0});
  // One copy of the model per policy, so the throughput samples of all variants can interleave.
  std::vector<std::shared_ptr<nn::VisionTransformer>> pruned;
  for (const std::string& name : policies) {
    pruning::TokenPruningConfig pc;
    pc.policy = pruning::parse_token_policy(name);
    pc.keep_rate = keep_rate;
    pc.fuse = true;
    pruned.push_back(copy_model(model));
    auto pruner = pruning::install_token_pruning(*pruned.back(), pc);
    const double top1 = evaluate_accuracy(*pruned.back(), test, transform, batch_size).top1;
    // GFLOPs per image from the counts the policy produced (every image gets the same counts).
    rows.push_back({pc.policy.name(), keep_rate, top1, nn::count_flops(cfg, pruner->last_token_counts()).total / 1e9, 0});
  }
  const Tensor images = first_batch(test, transform, batch_size);
  std::vector<std::function<void()>> variants{inference_forward(model, images)};
  for (auto& m : pruned) variants.push_back(inference_forward(*m, images));
  ThroughputOptions to;
  to.samples = std::max(repeats, 1);
  to.min_time = 0.3;
  const std::vector<double> ips = interleaved_images_per_second(variants, images.size(0), to);
  for (size_t i = 0; i < rows.size(); ++i) rows[i].images_per_s = ips[i];
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
  t.notes.push_back("Images/s: no-grad forward of one batch of test images, medians of interleaved samples "
                    "(dense and pruned alternate, so machine load hits them alike).");
  return t;
}

}  // namespace shears::recipes
