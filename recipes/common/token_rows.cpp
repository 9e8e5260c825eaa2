// Token-pruning rows of the main job's summary (see token_rows.h).
#include "common/token_rows.h"

#include <algorithm>

#include "common/evaluate.h"
#include "common/model_cost.h"
#include "common/throughput.h"
#include "pruning/provenance.h"
#include "pruning/token_pruning.h"
#include "pruning/transform.h"

namespace shears::recipes {

std::vector<TokenRow> token_pruning_rows(nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> test,
                                         data::Transform transform, const std::vector<std::string>& policies,
                                         double keep_rate, int64_t batch_size, int repeats) {
  SHEARS_CHECK(!pruning::find_token_pruning(model), "token_pruning_rows",
               "the model already has token pruning installed; the rows compare policies on a model without it");
  const Tensor images = first_inputs(test, transform, model.config(), batch_size);
  std::vector<TokenRow> rows;
  rows.push_back({"dense", 1.0, false, evaluate_accuracy(model, test, transform, batch_size).top1,
                  model_cost(model, images).gflops, 0});
  // One clone of the model per policy, so the throughput samples of all variants can interleave.
  std::vector<std::shared_ptr<nn::VisionTransformer>> pruned;
  for (const std::string& name : policies) {
    pruning::TokenPruningConfig pc;
    pc.policy = pruning::parse_token_policy(name);
    pc.keep_rate = keep_rate;  // fuse unset: the policy's default
    pruned.push_back(pruning::clone_model(model));
    nn::VisionTransformer& m = *pruned.back();
    pruning::PruneContext ctx;
    pruning::apply_all(m, {std::make_shared<pruning::TokenPruningTransform>(pc)}, ctx);
    const double top1 = evaluate_accuracy(m, test, transform, batch_size).top1;
    rows.push_back({pc.policy.name(), keep_rate, pruning::find_token_pruning(m)->fuse(), top1,
                    model_cost(m, images).gflops, 0});
  }
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
  std::string fused, unfused;
  for (const TokenRow& r : rows) {
    if (r.method == "dense") continue;
    std::string& list = r.fused ? fused : unfused;
    list += (list.empty() ? "" : ", ") + r.method;
  }
  std::string fusion;
  if (!fused.empty()) fusion += "fused: " + fused;
  if (!unfused.empty()) fusion += (fusion.empty() ? "" : "; ") + std::string("unfused: ") + unfused;
  Table t;
  t.name = "token_rows";
  t.title = "Token pruning without fine-tuning (default pruning blocks, fusion per policy" +
            (fusion.empty() ? std::string() : " - " + fusion) + ")";
  t.columns = {"Method", "Keep rate", "Test top-1 (%)", "GFLOPs", "Images/s", "Speed-up"};
  const double base = rows.empty() ? 1.0 : rows.front().images_per_s;
  for (const TokenRow& r : rows)
    t.add_row({r.method, fmt(r.keep_rate, 2), fmt_percent(r.top1), fmt(r.gflops, 4), fmt(r.images_per_s, 0),
               fmt(r.images_per_s / base, 2) + "x"});
  t.notes.push_back("Fusion: each policy's default (Rényi paper): EViT fuses the pruned tokens into one extra "
                    "token, the entropy and random policies propagate only the kept tokens; GFLOPs count the "
                    "tokens each row actually ran on.");
  t.notes.push_back("Images/s: no-grad forward of one batch of test images, medians of interleaved samples "
                    "(dense and pruned alternate, so machine load hits them alike).");
  return t;
}

}  // namespace shears::recipes
