// "Token-pruning rows" of the main job's summary: a trained ViT evaluated with a token policy
// installed through the transform API (pruning::TokenPruningTransform on a clone, so the clone's
// prune log records it; no fine-tuning) at one keep rate, with its GFLOPs (recipes::model_cost:
// the token counts the policy actually produced) and measured inference images/s, next to the
// dense model. Fusion follows each policy's default (pruning::default_fuse).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "common/report.h"
#include "data/dataset.h"
#include "nn/vision_transformer.h"

namespace shears::recipes {

struct TokenRow {
  std::string method;       // "dense", or a policy name ("evit", "renyi:2", ...)
  double keep_rate = 1.0;
  bool fused = false;       // pruned tokens fused into one extra token (false for dense)
  double top1 = 0;          // test top-1 without fine-tuning
  double gflops = 0;        // fvcore convention, per image
  double images_per_s = 0;  // inference over one fixed batch of test images (median of `repeats` samples)
};

// Evaluates `model` dense, then with each policy (pruning/token_policy.h names: "evit",
// "shannon", "renyi:2", ...) applied as "tokens:<policy>@<keep_rate>" on the default locations with
// the policy's default fusion (EViT fused; entropy and random unfused), each on a clone
// (pruning::clone_model). `model` itself is left as it was; it must not carry token pruning
// already. Throughput: one fixed batch of `batch_size` test images (recipes::first_inputs),
// medians of `repeats` interleaved samples (recipes/common/throughput.h).
std::vector<TokenRow> token_pruning_rows(nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> test,
                                         data::Transform transform, const std::vector<std::string>& policies,
                                         double keep_rate, int64_t batch_size = 250, int repeats = 3);

// Table "token_rows": Method | Keep rate | Test top-1 (%) | GFLOPs | Images/s | Speed-up; the
// title and a note say which rows fuse the pruned tokens.
Table token_rows_table(const std::vector<TokenRow>& rows);

}  // namespace shears::recipes
