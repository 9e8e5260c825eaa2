// "Token-pruning rows" of the main job's summary: a trained ViT evaluated with a token policy
// installed (no fine-tuning) at one keep rate, with its GFLOPs (from the token counts the policy
// actually produced) and measured inference images/s, next to the dense model.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "common/report.h"
#include "data/dataset.h"
#include "nn/vision_transformer.h"

namespace shears::recipes {

struct TokenRow {
  std::string method;       // "dense", or a policy name ("EViT", "Renyi(a=2)", ...)
  double keep_rate = 1.0;
  double top1 = 0;          // test top-1 without fine-tuning
  double gflops = 0;        // fvcore convention, per image
  double images_per_s = 0;  // inference over the whole test set (median of `repeats` passes)
};

// Evaluates `model` dense, then with each policy (pruning/token_policy.h names: "evit",
// "shannon", "renyi:2", ...) installed at `keep_rate` on the default locations with fusion.
// The model is left as it was (each policy runs on a copy). Throughput: one fixed batch of
// `batch_size` test images, medians of `repeats` interleaved samples (recipes/common/throughput.h).
std::vector<TokenRow> token_pruning_rows(nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> test,
                                         data::Transform transform, const std::vector<std::string>& policies,
                                         double keep_rate, int64_t batch_size = 250, int repeats = 3);

// Table "token_rows": Method | Keep rate | Test top-1 (%) | GFLOPs | Images/s | Speed-up.
Table token_rows_table(const std::vector<TokenRow>& rows);

}  // namespace shears::recipes
