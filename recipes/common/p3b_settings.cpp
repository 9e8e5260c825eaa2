// Presets, flag parsing and checks of the P3B study (see p3b_settings.h).
#include "common/p3b_settings.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "common/recipe_main.h"
#include "tensor/error.h"

namespace shears::recipes {

nn::ModelConfig P3bBaseSpec::config(int64_t classes) const {
  nn::ModelConfig c = nn::vit_tiny_patch4_28(classes);
  c.patch_size = patch;
  c.dim = dim;
  c.blocks = nn::uniform_blocks(depth, heads, dim / heads, mlp);
  c.validate();
  return c;
}

void apply_p3b_scale(P3bSettings& s, const char* prog) {
  SHEARS_CHECK(s.scale == "smoke" || s.scale == "mini" || s.scale == "paper", prog,
               "--scale must be 'smoke', 'mini' or 'paper', got '", s.scale, "'");
  const bool smoke = s.scale == "smoke", mini = s.scale == "mini";
  s.target_images = smoke ? 512 : mini ? 5000 : 0;
  s.eval_limit = smoke ? 256 : 0;
  s.seeds = 1;
  s.prune_epochs = smoke || mini ? 2 : 50;
  s.finetune_epochs = smoke ? 1 : mini ? 2 : 100;
  s.batch = smoke ? 64 : 128;
  s.update_interval = smoke ? 2 : mini ? 5 : 100;
  s.drop_path = smoke || mini ? 0.0 : 0.1;
  s.throughput_batch = mini ? 256 : 64;
  s.throughput_time = smoke ? 0.05 : 0.3;
  s.base.epochs = smoke ? 2 : mini ? 5 : 0;
  if (smoke) s.base = P3bBaseSpec{32, 2, 2, 64, 7, s.base.epochs, 64, 3e-3};
  s.p3b.heads.patch_width = smoke ? 8 : mini ? 16 : 0;
}

std::vector<double> parse_p3b_ratios(const std::string& text, const char* prog) {
  std::vector<double> out;
  for (const std::string& item : split_list(text)) {
    const double v = parse_list_number(item);
    SHEARS_CHECK(std::isfinite(v) && v > 0 && v < 1, prog, "--ratios: '", item,
                 "' is not a pruning ratio in (0, 1) (fraction of parameters removed, e.g. 0.5,0.7,0.75)");
    out.push_back(v);
  }
  SHEARS_CHECK(!out.empty(), prog, "--ratios is empty; give e.g. 0.5,0.7,0.75");
  return out;
}

std::vector<std::string> parse_p3b_methods(const std::string& text, const char* prog) {
  std::vector<std::string> out;
  for (const std::string& m : split_list(text)) {
    SHEARS_CHECK(m == "p3b" || m == "uniform" || m == "no-react", prog, "--methods: unknown method '", m,
                 "'; known: p3b, uniform, no-react (the dense fine-tune always runs)");
    out.push_back(m);
  }
  SHEARS_CHECK(!out.empty(), prog, "--methods is empty; give e.g. p3b,uniform,no-react");
  return out;
}

void check_p3b_settings(const P3bSettings& s, const char* prog) {
  check_size_flag(s.batch, "batch", 1 << 16, prog);
  check_size_flag(s.prune_epochs, "prune-epochs", 100000, prog);
  check_size_flag(s.finetune_epochs, "finetune-epochs", 100000, prog);
  check_size_flag(s.seeds, "seeds", 1000, prog);
  check_size_flag(s.update_interval, "update-interval", 1 << 30, prog);
  check_size_flag(s.throughput_batch, "throughput-batch", 1 << 16, prog);
  SHEARS_CHECK(s.p3b.heads.patch_width >= 0, prog, "--patch-width must be >= 0 (0 = model width)");
  check_size_flag(s.p3b.heads.patch_layers, "patch-layers", 16, prog);
  pruning::P3bOptions probe = s.p3b;
  probe.finalize = 1;
  probe.validate();  // --gamma, --alpha, --tau-*, --imp-scale errors before anything runs
  if (s.scale == "paper") {
    SHEARS_CHECK(!s.checkpoint.empty(), prog, "--scale paper needs --checkpoint <timm DeiT .safetensors>");
    SHEARS_CHECK(!s.train_dir.empty() && !s.val_dir.empty(), prog,
                 "--scale paper needs --train-dir and --val-dir (ImageFolder root/<class>/<images>)");
  } else {
    SHEARS_CHECK(s.checkpoint.empty() && s.train_dir.empty() && s.val_dir.empty(), prog,
                 "--checkpoint, --train-dir and --val-dir belong to --scale paper");
    for (int64_t c : s.source_classes)
      SHEARS_CHECK(std::find(s.target_classes.begin(), s.target_classes.end(), c) == s.target_classes.end(), prog,
                   "class ", c, " is in both --source-classes and --target-classes; the transfer needs disjoint tasks");
  }
}

FinetuneOptions p3b_finetune_options(const P3bSettings& s, uint64_t seed, int64_t epochs, double lr) {
  FinetuneOptions ft;
  ft.epochs = epochs;
  ft.batch_size = s.batch;
  ft.lr = lr;
  ft.warmup_epochs = 0;  // the authors' fine-tune: --warmup-epochs default 0
  ft.warmup_lr = lr;
  ft.min_lr = std::min(s.min_lr, lr);
  ft.weight_decay = s.weight_decay;
  ft.label_smoothing = s.label_smoothing;
  ft.seed = seed;
  return ft;
}

std::string p3b_model_path(const std::string& out, const std::string& method, double ratio, uint64_t seed) {
  std::ostringstream p;
  p << method;
  if (method != "dense") p << "_pr" << std::lround(100 * ratio);
  p << "_seed" << seed << ".safetensors";
  return (std::filesystem::path(out) / "models" / p.str()).string();
}

}  // namespace shears::recipes
