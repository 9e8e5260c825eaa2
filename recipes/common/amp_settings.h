// The settings of the AMP study (shears_amp): its --scale presets (scoring / validation / test sizes,
// the distillation recovery, timing) that explicit flags override, the parsing of --deltas, the checks
// of the flags' values, and the options of the shared study base (study_base.h) they select.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/distillation.h"
#include "common/finetune.h"
#include "common/study_base.h"

namespace shears::recipes {

struct AmpSettings {
  std::string scale, out, data_dir, checkpoint, train_dir, val_dir;
  std::vector<double> deltas;
  double temp_inv = 15;
  int64_t search_steps = 6, heads = 0;
  int64_t score_images = 5120, score_batch = 128, val_images = 2048, val_batch = 128, eval_limit = 0;
  int64_t random_seeds = 3, throughput_batch = 256;
  double throughput_time = 0.3;
  FinetuneOptions distill;  // epochs 0 = no recovery
  int64_t distill_images = 20000;
  DistillationOptions distill_loss;
  bool retrain_base = false;
  SmokeBaseSpec smoke;
  uint64_t seed = 0;
  int threads = 0;
};

// Sets the values of `s.scale` (smoke | mini | paper) in `s` (the distillation schedule included);
// another scale fails naming `prog`.
void apply_amp_scale(AmpSettings& s, const char* prog);

// --deltas: comma-separated entropy thresholds > 0; at least one.
std::vector<double> parse_amp_deltas(const std::string& text, const char* prog);

// The checks after the flags are read: --tau-inv, --search-steps, --random-seeds, the distillation
// flags, the loss weights, the timing flags, --threads and --weight-decay. Errors name `prog` and the flag.
void check_amp_settings(const AmpSettings& s, const char* prog);

// The options of the shared study base (model, data, scoring / validation / timing batches).
StudyBaseOptions amp_study_base_options(const AmpSettings& s);

}  // namespace shears::recipes
