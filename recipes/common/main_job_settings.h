// The settings of the main job (shears_main): its flags' values, the --scale presets (quick / default),
// the checks that run before training, and what derives from them: the ViT config, the run config a
// training state stores for --resume, the pruning rows' short fine-tune and the "effective config" text
// (printed, first line of the log, stored in the checkpoint).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/finetune.h"
#include "nn/config.h"
#include "train/run_config.h"

namespace shears::recipes {

// The stacked row's default pipeline: the composition study's most accurate mini stack at about half the
// dense GFLOPs (measured 2026-11-29, docs/compose.md).
inline constexpr const char* kMainStackRow = "p3b:ratio=0.5:epochs=1,tokens:evit@0.7";

struct MainJobSettings {
  std::string data_dir, scale, out, resume;
  std::vector<std::string> resume_override;  // run-config flags allowed to differ from the saved state
  int64_t save_every = 0;                    // steps between training-state saves (0 = at epoch ends)
  double clip_grad = 0.0;
  bool pruning_rows = true;
  std::vector<std::string> token_policies;
  double token_keep_rate = 0.7;
  std::vector<int64_t> gardener_ks;
  int64_t gardener_finetune_epochs = 1;
  std::string stack_row;  // pipeline of the stacked row ("none" = no row)
  int64_t stop_after_steps = -1;
  int64_t epochs = 0, batch_size = 128, train_limit = 0, eval_limit = 0, patch = 7, dim = 128, depth = 6,
          heads = 4, mlp_hidden = 256, stem = 16, stem_depth = 1, log_every = 50;
  double base_lr = 1e-3, lr = 0, warmup_epochs = 1, min_lr = 1e-5, weight_decay = 0.05, smoothing = 0.1,
         mixup = 0.8, cutmix = 1.0, mix_prob = 0.5, erase = 0.25, drop_path = 0.0, crop_padding = 0;
  uint64_t seed = 0;
  int threads = 0;
  std::string device = "cpu";
  bool profile = false;
};

// Sets the values of `c.scale` (quick: 1 epoch on 2048 images, 1000 test images, a line every 4 steps;
// default: 14 epochs on all images); another scale fails naming `prog`.
void apply_main_job_scale(MainJobSettings& c, const char* prog);

// Every check of the flags' values that runs before training, in this order: --resume-override needs
// --resume, --save-every, --clip-grad, the --stack-row pipeline, --token-keep-rate, --token-policies,
// the model sizes (before anything divides by them), rates and counts. Errors name `prog` and the flag.
void check_main_job_settings(const MainJobSettings& c, const char* prog);

// The 10-class 28x28x1 ViT of the settings (patch, width, depth, heads, MLP, stem, DropPath), validated.
nn::ModelConfig main_job_model_config(const MainJobSettings& c);

// The effective settings that shape the training trajectory, stored in every training state and
// compared on --resume (--out, logging, evaluation and the pruning rows are not among them). `threads`
// is the effective thread count (the kernels' partial sums depend on it).
train::RunConfig main_job_run_config(const MainJobSettings& c, int threads);

// The short fine-tune of the pruning rows (Gardener, stacked): half the training lr, warm-up 0.1 epoch, cosine.
FinetuneOptions main_job_row_finetune(const MainJobSettings& c);

// The one-line effective configuration: model shape with its size (`params`, `gflops` per image), the
// schedule (`warmup_epochs` as the trainer uses it), augmentation (mixing prob 0 when `mixing` is off),
// seed and `threads`.
std::string main_job_effective_config(const MainJobSettings& c, int64_t params, double gflops, double warmup_epochs,
                                      bool mixing, int threads);

}  // namespace shears::recipes
