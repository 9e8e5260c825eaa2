// Keep-rate token pruning installed on blocks of a VisionTransformer through Block::token_hook
// (after the attention residual, before the MLP, as in EViT). In a pruning block with N tokens and
// keep rate rho < 1, left = ceil(rho * (N - 1)) non-CLS tokens are kept (nothing happens when
// left == N - 1), chosen by a TokenPolicy; the CLS token (index 0) always stays first, the kept
// tokens follow in decreasing priority, and with `fuse` the pruned ones are fused into one extra
// last token sum_j w_j x_j with w_j the head-averaged CLS attention of token j (raw, not
// renormalised; EViT). Tokens are gathered for real, so later blocks run on fewer tokens.
// Training: gradients flow through the gather and the fusion to the tokens, and through the
// fusion weights into the attention probabilities (as in EViT); the selection is not differentiated.
// The hooks belong to the blocks, not to indices: each reads its block's current index at call
// time, so after block surgery (drop_blocks) the surviving hooks keep working and locations()
// and last_token_counts() describe the model as it is now. An installation is a ModelExtension
// (kind "token_pruning") registered in model.extensions, so checkpoints save it and
// pruning::load_model (provenance.h) re-installs it.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nn/flop_count.h"
#include "nn/vision_transformer.h"
#include "pruning/token_policy.h"

namespace shears::pruning {

// Default pruning locations for a model of `depth` blocks: floor(depth * k / 4) for k = 1, 2, 3,
// duplicates removed. depth 12 gives {3, 6, 9} (EViT's drop_loc, 1-based blocks 4, 7, 10);
// 24 gives {6, 12, 18}, 6 gives {1, 3, 4}, 1 gives {0}.
std::vector<int64_t> default_pruning_locations(int64_t depth);

// The number of non-CLS tokens a pruning block keeps out of `non_cls` at keep rate rho (EViT:
// ceil(rho * non_cls), computed in double like math.ceil; rho >= 1 keeps all).
int64_t tokens_left(double keep_rate, int64_t non_cls);

struct TokenPruningConfig {
  TokenPolicySpec policy;               // evit, shannon, renyi:<a>, random (parse_token_policy)
  double keep_rate = 0.7;               // rho in (0, 1]; 1 never prunes
  std::vector<int64_t> locations;       // 0-based block indices; empty = default_pruning_locations
                                        // (moved past blocks without attention: install_token_pruning)
  // Fuse the pruned tokens into one extra token. Unset = default_fuse(policy): on for EViT, off
  // for the entropy and random policies (the Rényi paper propagates only the selected tokens).
  // Required with custom_policy.
  std::optional<bool> fuse;
  bool exclude_cls_key = false;         // entropy policies: drop key 0 and renormalise the rows
  HeadAggregation head_aggregation = HeadAggregation::MeanOfHeadEntropies;
  uint64_t seed = 0;                    // random policy
  std::shared_ptr<TokenPolicy> custom_policy;  // when set, used instead of `policy`; not serialisable
};

// The fusion a policy uses by default: true for EViT, false for shannon, renyi:<a> and random.
bool default_fuse(const TokenPolicySpec& policy);
// cfg.fuse when set, else default_fuse(cfg.policy); throws when a custom policy leaves it unset.
bool resolved_fuse(const TokenPruningConfig& cfg);

// Head aggregation names: "mean_of_head_entropies", "entropy_of_head_mean" (parse throws listing them).
const char* head_aggregation_name(HeadAggregation aggregation);
HeadAggregation parse_head_aggregation(const std::string& name);

// JSON object {"policy", "renyi_order" (entropy, finite), "keep_rate", "locations", "fuse" (resolved),
// "exclude_cls_key", "head_aggregation", "seed"}. Throws when cfg has a custom policy (it cannot be
// re-created from a file).
std::string token_pruning_config_to_json(const TokenPruningConfig& cfg);
// Parses token_pruning_config_to_json's output; throws naming the bad or missing key.
TokenPruningConfig token_pruning_config_from_json(const std::string& json);

// One pruning block's effect in the last forward.
struct PruningRecord {
  int64_t block = 0;       // 0-based block index
  int64_t tokens_in = 0;   // tokens entering the block (CLS included)
  int64_t tokens_out = 0;  // tokens after the pruning point (CLS and fused token included)
  // Per sample, the original patch index (0-based, raster order of the patch grid) of each non-CLS
  // token after this block, in token order; the fused token is -1. Tracked through every stage.
  std::vector<std::vector<int64_t>> kept_patches;
};

// The state shared by the hooks of one installation: policy, keep rate, the blocks it is
// installed on, forward counter and the records of the last forward.
class TokenPruning : public nn::ModelExtension {
 public:
  // `blocks`: the model's block list; `installed`: the blocks whose hooks call this state.
  TokenPruning(const TokenPruningConfig& cfg, std::shared_ptr<nn::BlockList> blocks,
               std::vector<std::shared_ptr<nn::Block>> installed);

  // The configuration with fuse resolved and locations = the current locations().
  TokenPruningConfig config() const;
  // 0-based indices of the installed blocks that are still in the model, as they are now (a block
  // dropped by surgery is gone; the others are renumbered with the model).
  std::vector<int64_t> locations() const;
  const TokenPolicy& policy() const { return *policy_; }

  double keep_rate() const { return cfg_.keep_rate; }
  void set_keep_rate(double keep_rate);  // (0, 1]; applies to every installed block
  bool fuse() const { return *cfg_.fuse; }

  // Forward counter: the step the next forward uses (the random policy's draws depend on it).
  // Each forward advances it by one; set_step fixes the next one (e.g. the trainer's iteration).
  // It is not saved: a reloaded model starts at 0.
  int64_t next_step() const { return next_step_; }
  void set_step(int64_t step) { next_step_ = step; }

  // Records of the last forward, one per pruning block in block order (empty before any forward).
  const std::vector<PruningRecord>& last_records() const { return records_; }
  // (N_in, N_out) per block of the model in the last forward (as nn::keep_rate_token_counts
  // gives them); empty before any forward. Throws when the model's depth changed since that
  // forward (run a forward after surgery first).
  nn::TokenCounts last_token_counts() const;

  // The hook body for the block now at index `block`: x (B, N, C), probs (B, H, N, N) -> (B, N', C).
  Tensor apply(int64_t block, const Tensor& x, const Tensor& probs);

  // ModelExtension: kind "token_pruning", to_json = token_pruning_config_to_json(config())
  // (throws for a custom policy).
  std::string kind() const override { return "token_pruning"; }
  std::string to_json() const override;

 private:
  int64_t current_depth() const;
  TokenPruningConfig cfg_;  // fuse resolved; locations as installed (see locations())
  std::weak_ptr<nn::BlockList> blocks_;
  std::vector<std::weak_ptr<nn::Block>> installed_;
  std::shared_ptr<TokenPolicy> policy_;
  int64_t next_step_ = 0;
  int64_t current_step_ = 0;
  int64_t forward_depth_ = 0;  // model depth during the last forward
  int64_t last_block_ = -1;  // block of the previous hook call; a call at or before it starts a new forward
  std::vector<std::vector<int64_t>> origin_;  // per sample: patch index of each current non-CLS token
  std::vector<PruningRecord> records_;
};

// Installs token pruning on cfg.locations (default: default_pruning_locations, each moved to the first
// block at or after it, and after the previous location, whose attention branch was not pruned away by
// P3B; a default with no such block left is dropped) of a model with a CLS token and registers it in
// model.extensions. Throws when a location is out of range or has no attention branch, the
// keep rate is not in (0, 1], the model has no CLS token, the model already has token pruning or a
// chosen block already has a token hook (remove_token_pruning first), or a custom policy comes
// without an explicit fuse.
std::shared_ptr<TokenPruning> install_token_pruning(nn::VisionTransformer& model, const TokenPruningConfig& cfg);
// Clears the token hook of every block of the model and removes its token pruning extensions.
void remove_token_pruning(nn::VisionTransformer& model);
// The token pruning installed on the model (nullptr when none).
std::shared_ptr<TokenPruning> find_token_pruning(const nn::VisionTransformer& model);

// The per-sample pruning step on its own (what a hook does, without records): x (B, N, C),
// probs (B, H, N, N), kept (B, left) i64 indices into the non-CLS tokens (0 = token 1).
// Returns concat(x[:, :1], kept tokens, [fused token]) of shape (B, 1 + left [+ 1], C).
Tensor gather_and_fuse_tokens(const Tensor& x, const Tensor& probs, const Tensor& kept, bool fuse);

}  // namespace shears::pruning
