// The settings of the Gardener study (shears_gardener): its --scale presets (model and clip counts,
// seeds, the paper's fine-tune recipe), the checks of the paper inputs, and the one fine-tune a row
// with k removed blocks gets (the paper's epochs and warm-up by k).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/finetune.h"
#include "common/mae_pretraining.h"

namespace shears::recipes {

struct GardenerSettings {
  using Schedule = std::pair<int64_t, double>;  // (epochs, warm-up epochs) of one fine-tune
  std::string scale, out, data_dir, pretrained, hf_checkpoint, ucf_train, ucf_test;
  MaePretrainStudy pretrain;            // mini / smoke
  // train_clips: the one fine-tune every row gets (dense control, oracle drops, removals)
  int64_t train_clips = 4096, test_clips = 1024, batch_size = 32, random_draws = 2, oracle_seeds = 6;
  int64_t bootstrap_resamples = 10000;
  double lr = 2e-3, weight_decay = 0.05;
  double head_init_scale = 0.001;       // VideoMAE's init_scale for the fresh classifier head
  Schedule finetune{1, 0.2};            // every row, unless `by_k` names k (paper)
  std::map<int64_t, Schedule> by_k;     // paper: the authors' epochs (warm-up) by removed blocks; 0 = dense
  std::vector<int64_t> ks = {1, 2, 3, 4, 5};
  uint64_t seed = 0;
  int threads = 0;
};

// Sets the values of `s.scale` (smoke | mini | paper) in `s` and `s.pretrain`; another scale fails naming `prog`.
void apply_gardener_scale(GardenerSettings& s, const char* prog);

// The inputs that belong to one scale: paper needs --hf-checkpoint (a file) and --ucf-train/--ucf-test
// (folders) and refuses --pretrained; smoke/mini refuse the paper's flags; --pretrained must be a file.
void check_gardener_inputs(const GardenerSettings& s, const char* prog);

// The fine-tune of a row with `k` removed blocks (k = 0: the dense control): s.finetune, or with a by-k
// table the entry of k (an unlisted k takes the next listed one, past the last the last); AdamW with
// s.lr, warm-up from 1e-6, cosine to 1e-6, no label smoothing, seed s.seed.
FinetuneOptions gardener_finetune(const GardenerSettings& s, int64_t k);

}  // namespace shears::recipes
