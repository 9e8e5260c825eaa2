// The settings of the token-pruning study (shears_token_pruning): its --scale presets (methods, keep
// rates, data sizes, fine-tune schedule, patch-4 base) that explicit flags override, and the parsing of
// --policies, --keep-rates and --fuse.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/finetune.h"
#include "common/token_pruning_base.h"
#include "pruning/token_policy.h"

namespace shears::recipes {

enum class FuseMode { Auto, On, Off };

struct TokenPruningSettings {
  std::string scale, out, data_dir, base_checkpoint, checkpoint, train_dir, val_dir;
  std::vector<pruning::TokenPolicySpec> policies;
  std::vector<double> keep_rates;
  int64_t train_limit = 0, eval_limit = 0, throughput_batch = 256;
  double throughput_time = 0.2;
  FuseMode fuse = FuseMode::Auto;
  bool exclude_cls_key = false, finetune_dense = true, retrain_base = false;
  TokenPruningBase base;
  FinetuneOptions ft;
  double base_lr = 0;          // lr per 256 images (paper) or as given (smoke/mini)
  double drop_path = 0.1;      // paper: max DropPath rate of the fine-tuned model
  double dense_bound = 0.3;    // points the dense control may move from the base
  int threads = 0;
};

// The defaults of --scale smoke | mini | paper: `settings` (scale set, every other field at the scale's
// value) and the --policies / --keep-rates text. Another scale fails naming `prog`.
struct TokenPruningPreset {
  TokenPruningSettings settings;
  std::string policies, keep_rates;
};
TokenPruningPreset token_pruning_preset(const std::string& scale, const char* prog);

// --policies: comma-separated evit, shannon, renyi:<alpha>, random; at least one.
std::vector<pruning::TokenPolicySpec> parse_token_policies(const std::string& text, const char* prog);
// --keep-rates: comma-separated values in (0, 1); at least one.
std::vector<double> parse_keep_rates(const std::string& text, const char* prog);
// --fuse: auto | on | off.
FuseMode parse_fuse_mode(const std::string& text, const char* prog);
const char* fuse_mode_name(FuseMode m);
// The fusion a policy runs with: --fuse on/off for every policy, auto = the policy's own default
// (pruning::default_fuse: EViT fuses, the entropy and random policies propagate only the kept tokens).
bool fuse_of(FuseMode mode, const pruning::TokenPolicySpec& policy);

// The paper's DeiT augmentation (METHODS.md §7) on `ft`: Mixup 0.8 / CutMix 1.0 on every batch,
// ft.label_smoothing in the targets, warm-up from 1e-6.
void use_deit_mixing(FinetuneOptions& ft);

}  // namespace shears::recipes
