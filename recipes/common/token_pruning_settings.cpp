// Presets and flag parsing of the token-pruning study (see token_pruning_settings.h).
#include "common/token_pruning_settings.h"

#include "common/recipe_main.h"
#include "pruning/token_pruning.h"
#include "tensor/error.h"

namespace shears::recipes {

TokenPruningPreset token_pruning_preset(const std::string& scale, const char* prog) {
  TokenPruningPreset p;
  TokenPruningSettings& s = p.settings;
  s.scale = scale;
  p.policies = "evit,shannon,renyi:0.5,renyi:2,renyi:inf,random", p.keep_rates = "0.9,0.7,0.5,0.4,0.3";
  s.ft.epochs = 1;
  s.ft.warmup_epochs = 0.1;
  s.ft.batch_size = 64;
  s.base_lr = 5e-5;
  if (s.scale == "smoke") {
    p.policies = "evit,shannon,renyi:2";
    p.keep_rates = "0.7,0.5";
    s.base_lr = 3e-4;
    s.train_limit = 512, s.eval_limit = 256, s.ft.batch_size = 32, s.throughput_batch = 64, s.throughput_time = 0.05;
    s.base.dim = 32, s.base.depth = 4, s.base.heads = 2, s.base.mlp = 64;
    s.base.train_images = 1024, s.base.batch_size = 32, s.base.lr = 2e-3, s.base.warmup_epochs = 0.2, s.base.epochs = 4;
  } else if (s.scale == "mini") {
    s.train_limit = 10000, s.eval_limit = 0;
  } else if (s.scale == "paper") {
    p.policies = "evit,shannon,renyi:0.5,renyi:2,renyi:3,renyi:inf", p.keep_rates = "0.9,0.8,0.7,0.6,0.5,0.4,0.3";
    s.ft.epochs = 100, s.ft.warmup_epochs = 5, s.ft.batch_size = 256, s.base_lr = 1e-4;
    s.throughput_batch = 64, s.throughput_time = 1.5;
  } else {
    fail(prog, "--scale must be 'smoke', 'mini' or 'paper', got '", s.scale, "'");
  }
  return p;
}

std::vector<pruning::TokenPolicySpec> parse_token_policies(const std::string& text, const char* prog) {
  std::vector<pruning::TokenPolicySpec> out;
  for (const std::string& p : split_list(text)) out.push_back(pruning::parse_token_policy(p));
  SHEARS_CHECK(!out.empty(), prog, "--policies is empty; give e.g. evit,shannon,renyi:2");
  return out;
}

std::vector<double> parse_keep_rates(const std::string& text, const char* prog) {
  std::vector<double> out;
  for (const std::string& item : split_list(text)) {
    const double v = parse_list_number(item);
    SHEARS_CHECK(v > 0 && v < 1, prog, "--keep-rates: '", item,
                 "' is not a keep rate in (0, 1) (the dense model, keep 1.0, is always reported)");
    out.push_back(v);
  }
  SHEARS_CHECK(!out.empty(), prog, "--keep-rates is empty; give e.g. 0.9,0.7,0.5");
  return out;
}

FuseMode parse_fuse_mode(const std::string& text, const char* prog) {
  if (text == "auto") return FuseMode::Auto;
  if (text == "on") return FuseMode::On;
  if (text == "off") return FuseMode::Off;
  fail(prog, "--fuse must be 'auto', 'on' or 'off', got '", text, "'");
}

const char* fuse_mode_name(FuseMode m) {
  switch (m) {
    case FuseMode::Auto: return "auto";
    case FuseMode::On: return "on";
    case FuseMode::Off: return "off";
  }
  return "?";
}

bool fuse_of(FuseMode mode, const pruning::TokenPolicySpec& policy) {
  if (mode == FuseMode::On) return true;
  if (mode == FuseMode::Off) return false;
  return pruning::default_fuse(policy);
}

void use_deit_mixing(FinetuneOptions& ft) {
  ft.mixing = true;
  ft.mix.mixup_alpha = 0.8;
  ft.mix.cutmix_alpha = 1.0;
  ft.mix.prob = 1.0;
  ft.mix.label_smoothing = ft.label_smoothing;
  ft.mix.num_classes = 0;  // from the data set
  ft.warmup_lr = 1e-6;
}

}  // namespace shears::recipes
