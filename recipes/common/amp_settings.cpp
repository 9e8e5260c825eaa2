// Presets, --deltas parsing and checks of the AMP study (see amp_settings.h).
#include "common/amp_settings.h"

#include <cmath>

#include "common/recipe_main.h"
#include "tensor/error.h"

namespace shears::recipes {

void apply_amp_scale(AmpSettings& s, const char* prog) {
  s.distill.epochs = 1;
  s.distill.warmup_epochs = 0.1;
  s.distill.batch_size = 64;
  s.distill.lr = 1e-4;
  s.distill.min_lr = 1e-6;
  if (s.scale == "smoke") {
    s.score_images = 256, s.score_batch = 64, s.val_images = 256, s.val_batch = 64, s.eval_limit = 500;
    s.distill_images = 512, s.distill.batch_size = 32, s.distill.lr = 5e-4;
    s.throughput_batch = 64, s.throughput_time = 0.05;
  } else if (s.scale == "mini") {
    s.checkpoint = "runs/main/vit_fmnist.safetensors";
    s.distill_images = 0, s.distill.epochs = 2, s.distill.lr = 2e-4;
  } else if (s.scale == "paper") {
    s.score_images = 10240, s.val_images = 5120, s.distill_images = 0;
    s.distill.epochs = 5, s.distill.warmup_epochs = 1, s.distill.lr = 2e-5, s.distill.min_lr = 1e-7;
    s.throughput_batch = 64, s.throughput_time = 1.5;
  } else {
    fail(prog, "--scale must be 'smoke', 'mini' or 'paper', got '", s.scale, "'");
  }
}

std::vector<double> parse_amp_deltas(const std::string& text, const char* prog) {
  std::vector<double> out;
  for (const std::string& item : split_list(text)) {
    const double v = parse_list_number(item);
    SHEARS_CHECK(std::isfinite(v) && v > 0, prog, "--deltas: '", item,
                 "' is not an entropy threshold > 0 (e.g. 1e-3,3e-3,1e-2)");
    out.push_back(v);
  }
  SHEARS_CHECK(!out.empty(), prog, "--deltas is empty; give e.g. 1e-3,3e-3,1e-2");
  return out;
}

void check_amp_settings(const AmpSettings& s, const char* prog) {
  SHEARS_CHECK(s.temp_inv > 0 && std::isfinite(s.temp_inv), prog, "--tau-inv must be > 0, got ", s.temp_inv);
  SHEARS_CHECK(s.search_steps >= 1 && s.search_steps <= 20, prog, "--search-steps must be in [1, 20], got ",
               s.search_steps);
  SHEARS_CHECK(s.random_seeds >= 1, prog, "--random-seeds must be >= 1, got ", s.random_seeds);
  SHEARS_CHECK(s.distill.epochs >= 0, prog, "--distill-epochs must be >= 0, got ", s.distill.epochs);
  SHEARS_CHECK(s.distill_images >= 0, prog, "--distill-images must be >= 0, got ", s.distill_images);
  SHEARS_CHECK(s.distill.lr > 0 && std::isfinite(s.distill.lr), prog, "--distill-lr must be > 0, got ", s.distill.lr);
  SHEARS_CHECK(s.distill.batch_size >= 2, prog, "--distill-batch must be >= 2, got ", s.distill.batch_size);
  SHEARS_CHECK(s.distill.warmup_epochs >= 0, prog, "--distill-warmup must be >= 0");
  SHEARS_CHECK(s.distill_loss.feature_weight >= 0 && s.distill_loss.output_weight >= 0 &&
                   s.distill_loss.feature_weight + s.distill_loss.output_weight > 0,
               prog, "--feature-weight and --output-weight must be >= 0 and not both 0");
  SHEARS_CHECK(s.throughput_batch >= 1 && s.throughput_time >= 0, prog,
               "--throughput-batch must be >= 1 and --throughput-time >= 0");
  check_threads_flag(s.threads, prog);
  check_non_negative_flag(s.distill.weight_decay, "weight-decay", prog);
}

StudyBaseOptions amp_study_base_options(const AmpSettings& s) {
  StudyBaseOptions o;
  o.scale = s.scale, o.out = s.out, o.data_dir = s.data_dir, o.checkpoint = s.checkpoint;
  o.train_dir = s.train_dir, o.val_dir = s.val_dir, o.heads = s.heads, o.eval_limit = s.eval_limit;
  o.score_images = s.score_images, o.score_batch = s.score_batch, o.val_images = s.val_images;
  o.val_batch = s.val_batch, o.throughput_batch = s.throughput_batch, o.retrain_base = s.retrain_base;
  o.seed = s.seed, o.smoke = s.smoke;
  return o;
}

}  // namespace shears::recipes
