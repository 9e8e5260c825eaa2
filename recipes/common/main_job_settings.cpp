// Presets, checks and derived configs of the main job (see main_job_settings.h).
#include "common/main_job_settings.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/recipe_main.h"
#include "data/fashion_mnist.h"
#include "pruning/token_policy.h"
#include "pruning/transform.h"
#include "tensor/error.h"

namespace shears::recipes {

void apply_main_job_scale(MainJobSettings& c, const char* prog) {
  if (c.scale == "quick") {
    c.epochs = 1, c.train_limit = 2048, c.eval_limit = 1000, c.log_every = 4;
  } else if (c.scale == "default") {
    c.epochs = 14, c.train_limit = 0, c.eval_limit = 0;
  } else {
    fail(prog, "--scale must be 'quick' or 'default', got '", c.scale, "'");
  }
}

void check_main_job_settings(const MainJobSettings& c, const char* prog) {
  SHEARS_CHECK(c.resume_override.empty() || !c.resume.empty(), prog,
               "--resume-override needs --resume (it lists what may change against the resumed state)");
  SHEARS_CHECK(c.save_every >= 0, prog, "--save-every must be >= 0, got ", c.save_every);
  SHEARS_CHECK(c.clip_grad >= 0 && std::isfinite(c.clip_grad), prog, "--clip-grad must be >= 0, got ",
               c.clip_grad);
  if (c.stack_row != "none") {  // a bad step fails now, before training
    try {
      pruning::parse_steps(c.stack_row);
    } catch (const std::exception& e) {
      fail(prog, "--stack-row: ", e.what());
    }
  }
  SHEARS_CHECK(c.token_keep_rate > 0 && c.token_keep_rate <= 1, prog, "--token-keep-rate must be in (0, 1], got ",
               c.token_keep_rate);
  for (const std::string& p : c.token_policies) {  // before training, not after it
    try {
      pruning::parse_token_policy(p);
    } catch (const Error& e) {
      fail(prog, "--token-policies: ", e.what());
    }
  }
  // model sizes first, before anything divides by them (--heads 0 used to die with SIGFPE)
  check_size_flag(c.patch, "patch", data::kFashionMnistSide, prog);
  SHEARS_CHECK(data::kFashionMnistSide % c.patch == 0, prog, "--patch must divide the image side ",
               data::kFashionMnistSide, ", got ", c.patch);
  check_size_flag(c.dim, "dim", nn::kMaxModelDim, prog);
  check_size_flag(c.depth, "depth", nn::kMaxDepth, prog);
  check_size_flag(c.heads, "heads", std::min(c.dim, nn::kMaxHeads), prog);
  check_size_flag(c.mlp_hidden, "mlp", nn::kMaxMlpHidden, prog);
  SHEARS_CHECK(c.stem >= 0 && c.stem <= nn::kMaxInChans, prog, "--stem must be in [0, ", nn::kMaxInChans,
               "] (0 = no stem), got ", c.stem);
  SHEARS_CHECK(c.stem_depth >= 1 && c.stem_depth <= nn::kMaxStemDepth, prog, "--stem-depth must be in [1, ",
               nn::kMaxStemDepth, "], got ", c.stem_depth);
  SHEARS_CHECK(c.stem_depth == 1 || c.stem > 0, prog, "--stem-depth ", c.stem_depth, " needs a stem (--stem > 0)");
  SHEARS_CHECK(c.dim % c.heads == 0, prog, "--dim ", c.dim, " is not divisible by --heads ", c.heads);
  check_threads_flag(c.threads, prog);
  check_non_negative_flag(c.min_lr, "min-lr", prog);
  check_non_negative_flag(c.weight_decay, "weight-decay", prog);
  check_non_negative_flag(c.warmup_epochs, "warmup-epochs", prog);
  check_non_negative_flag(c.mixup, "mixup", prog);
  check_non_negative_flag(c.cutmix, "cutmix", prog);
  check_non_negative_flag(c.crop_padding, "crop-padding", prog);
  SHEARS_CHECK(c.smoothing >= 0 && c.smoothing < 1, prog, "--smoothing must be in [0, 1), got ", c.smoothing);
  SHEARS_CHECK(c.drop_path >= 0 && c.drop_path < 1, prog, "--drop-path must be in [0, 1), got ", c.drop_path);
  for (int64_t k : c.gardener_ks)
    SHEARS_CHECK(k >= 1 && k < c.depth, prog, "--gardener-ks: ", k, " blocks cannot be removed from a model of depth ",
                 c.depth);
  SHEARS_CHECK(c.gardener_finetune_epochs >= 0, prog, "--gardener-finetune-epochs must be >= 0, got ",
               c.gardener_finetune_epochs);
  SHEARS_CHECK(c.epochs >= 1, prog, "--epochs must be >= 1, got ", c.epochs);
  SHEARS_CHECK(c.batch_size >= 2, prog, "--batch-size must be >= 2, got ", c.batch_size);
  SHEARS_CHECK(c.base_lr > 0 && std::isfinite(c.base_lr), prog, "--lr must be positive, got ", c.base_lr);
  SHEARS_CHECK(c.mix_prob >= 0 && c.mix_prob <= 1, prog, "--mix-prob must be in [0, 1], got ", c.mix_prob);
  SHEARS_CHECK(c.erase >= 0 && c.erase <= 1, prog, "--erase must be in [0, 1], got ", c.erase);
}

nn::ModelConfig main_job_model_config(const MainJobSettings& c) {
  nn::ModelConfig m = nn::vit_tiny_patch4_28(10);
  m.patch_size = c.patch;
  m.dim = c.dim;
  m.blocks = nn::uniform_blocks(c.depth, c.heads, c.dim / c.heads, c.mlp_hidden);
  m.stem_channels = c.stem;
  m.stem_depth = c.stem_depth;
  m.drop_path = c.drop_path;
  m.validate();
  return m;
}

train::RunConfig main_job_run_config(const MainJobSettings& c, int threads) {
  using train::config_value;
  train::RunConfig rc = {{"seed", config_value(c.seed)},
          {"epochs", config_value(c.epochs)},
          {"batch-size", config_value(c.batch_size)},
          {"lr", config_value(c.base_lr)},
          {"warmup-epochs", config_value(c.warmup_epochs)},
          {"min-lr", config_value(c.min_lr)},
          {"weight-decay", config_value(c.weight_decay)},
          {"clip-grad", config_value(c.clip_grad)},
          {"smoothing", config_value(c.smoothing)},
          {"mixup", config_value(c.mixup)},
          {"cutmix", config_value(c.cutmix)},
          {"mix-prob", config_value(c.mix_prob)},
          {"erase", config_value(c.erase)},
          {"crop-padding", config_value(c.crop_padding)},
          {"drop-path", config_value(c.drop_path)},
          {"patch", config_value(c.patch)},
          {"dim", config_value(c.dim)},
          {"depth", config_value(c.depth)},
          {"heads", config_value(c.heads)},
          {"mlp", config_value(c.mlp_hidden)},
          {"train-limit", config_value(c.train_limit)},
          {"threads", config_value(int64_t(threads))}};  // effective: the kernels' partial sums
  if (c.stem > 0) rc["stem"] = config_value(c.stem);
  if (c.stem_depth > 1) rc["stem-depth"] = config_value(c.stem_depth);  // recorded when set: states saved before --stem existed resume
  return rc;
}

FinetuneOptions main_job_row_finetune(const MainJobSettings& c) {
  FinetuneOptions ft;
  ft.epochs = c.gardener_finetune_epochs;
  ft.lr = c.lr * 0.5;
  ft.min_lr = c.min_lr;
  ft.warmup_epochs = 0.1;
  ft.weight_decay = c.weight_decay;
  ft.label_smoothing = c.smoothing;
  ft.batch_size = c.batch_size;
  ft.seed = c.seed;
  return ft;
}

std::string main_job_effective_config(const MainJobSettings& c, int64_t params, double gflops, double warmup_epochs,
                                      bool mixing, int threads) {
  char eff[1024];
  std::snprintf(eff, sizeof eff,
                "model patch %ld dim %ld depth %ld heads %ld mlp %ld stem %ld x%ld (%.2f M params, %.1f MFLOPs/img); epochs %ld, "
                "batch %ld, lr %.3g (= %.3g x %ld / 512), warm-up %.3g epochs, min lr %.1e, weight decay %.3g; "
                "label smoothing %.3g, mixup %.3g / cutmix %.3g with prob %.3g (switch 0.5), random crop pad %.0f, "
                "flip 0.5, erasing %.3g; drop path %.3g; seed %lu, %d threads",
                long(c.patch), long(c.dim), long(c.depth), long(c.heads), long(c.mlp_hidden), long(c.stem),
                long(c.stem_depth), params / 1e6, gflops * 1e3, long(c.epochs), long(c.batch_size), c.lr, c.base_lr,
                long(c.batch_size), warmup_epochs, c.min_lr, c.weight_decay, c.smoothing, c.mixup, c.cutmix,
                mixing ? c.mix_prob : 0.0, c.crop_padding, c.erase, c.drop_path, (unsigned long)c.seed, threads);
  return eff;
}

}  // namespace shears::recipes
