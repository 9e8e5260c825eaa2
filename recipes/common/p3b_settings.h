// The settings of the P3B study (shears_p3b): the source model of smoke/mini, the --scale presets
// (data sizes, epochs, batch, mask-update interval, DropPath, timing, BPI patch-head width) that
// explicit flags override, the parsing of --ratios and --methods, the checks that run before anything
// is loaded, the fine-tunes (dense control and after slicing) and where each model is saved.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/finetune.h"
#include "nn/config.h"
#include "pruning/p3b.h"

namespace shears::recipes {

// The source-task model of smoke/mini: a ViT trained here on the source classes, cached under --out.
struct P3bBaseSpec {
  int64_t dim = 96, depth = 8, heads = 3, mlp = 384, patch = 4, epochs = 6, batch = 128;
  double lr = 1e-3;
  nn::ModelConfig config(int64_t classes) const;
};

struct P3bSettings {
  std::string scale, out, data_dir, checkpoint, train_dir, val_dir;
  int64_t heads = 0;  // paper: heads per block (timm files do not store it)
  std::vector<double> ratios;
  std::vector<std::string> methods;
  std::vector<int64_t> source_classes, target_classes;
  int64_t source_images = 0, target_images = 0, eval_limit = 0, seeds = 1;
  int64_t prune_epochs = 3, finetune_epochs = 2, batch = 128, update_interval = 10;
  double lr = 0, finetune_lr = 0, head_lr = 5e-4, min_lr = 1e-5, weight_decay = 0.05, label_smoothing = 0.1;
  double start_fraction = 0.2, sparse_fraction = 0.5, drop_path = 0.0;
  pruning::P3bOptions p3b;  // keep, factors, tau, heads, block_params_only
  int64_t throughput_batch = 256;
  double throughput_time = 0.3;
  bool retrain_base = false;
  P3bBaseSpec base;
  uint64_t seed = 0;
  int threads = 0;
};

// Sets the values of `s.scale` (smoke | mini | paper) in `s`; another scale fails naming `prog`.
void apply_p3b_scale(P3bSettings& s, const char* prog);

// --ratios: comma-separated fractions of the parameters removed, each in (0, 1); at least one.
std::vector<double> parse_p3b_ratios(const std::string& text, const char* prog);
// --methods: comma-separated p3b, uniform, no-react; at least one.
std::vector<std::string> parse_p3b_methods(const std::string& text, const char* prog);

// The checks after the flags are read (--threads is checked before it is narrowed to int): sizes and
// counts in range, --patch-width, the P3B options (--gamma, --alpha, --tau-*, --imp-scale), the inputs
// of the scale (paper: --checkpoint, --train-dir, --val-dir; smoke/mini: none of them, disjoint classes).
void check_p3b_settings(const P3bSettings& s, const char* prog);

// A fine-tune of the study: `epochs` at peak `lr`, cosine, no warm-up (the authors' default), AdamW
// with the settings' weight decay and label smoothing, final lr min(--min-lr, lr).
FinetuneOptions p3b_finetune_options(const P3bSettings& s, uint64_t seed, int64_t epochs, double lr);

// Where a trained model is saved: <out>/models/<method>[_pr<100 ratio>]_seed<seed>.safetensors.
std::string p3b_model_path(const std::string& out, const std::string& method, double ratio, uint64_t seed);

}  // namespace shears::recipes
