// Learning-rate and regularization schedules: cosine with linear warm-up (per step),
// layer-wise lr decay groups (BEiT/VideoMAE param_groups_lrd), the DropPath linspace
// over depth, and global-norm gradient clipping.
#pragma once
#include <cstdint>
#include <vector>

#include "nn/vision_transformer.h"
#include "train/adamw.h"

namespace shears::train {

// lr(step): linear warm-up from warmup_lr (step 0) to base_lr (step warmup_steps), then
//   lr = min_lr + 0.5 (base_lr - min_lr)(1 + cos(pi t / T)),  t = step - warmup_steps,
//   T = total_steps - warmup_steps; steps >= total_steps give min_lr.
// Granularity is one optimizer step (iteration). timm's CosineLRScheduler as DeiT uses it
// is stepped once per epoch; we step per iteration like VideoMAE/BEiT's cosine_scheduler,
// which gives a smooth curve with the same end points. For an epoch-based recipe, use
// from_epochs (warm-up and total measured in epochs * iterations per epoch).
struct CosineSchedule {
  double base_lr = 1e-3;
  double warmup_lr = 1e-6;
  double min_lr = 1e-5;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;

  double at(int64_t step) const;

  static CosineSchedule from_epochs(double base_lr, double warmup_lr, double min_lr, double warmup_epochs,
                                    double epochs, int64_t iters_per_epoch);
};

// Layer-wise lr decay scales: decay^(depth + 1 - i) for i = 0 (embeddings) .. depth + 1
// (final norm and head), so the head trains at the full lr (METHODS.md §6.3).
std::vector<double> layer_decay_scales(int64_t depth, double decay);

// The layer a ViT parameter belongs to for layer decay (BEiT's get_layer_id_for_vit):
// patch_embed.* / cls_token / pos_embed / mask_token -> 0, blocks.i.* -> i + 1,
// everything else (norm, fc_norm, head) -> depth + 1.
int64_t vit_layer_id(const std::string& name, int64_t depth);

// Parameter groups with layer-wise lr decay, like BEiT/VideoMAE's param_groups_lrd: one
// group per (layer, decay / no-decay) in layer order (decay first), lr_scale =
// layer_decay_scales(depth, layer_decay)[layer]. No weight decay on 1-d parameters
// (biases, norms) and on pos_embed / cls_token / mask_token. Empty groups are omitted.
std::vector<ParamGroup> layer_decay_groups(const nn::VisionTransformer& model, double weight_decay,
                                           double layer_decay);

// Stochastic depth rates as timm builds them: torch.linspace(0, max_rate, depth)
// (a single block gets 0, as linspace with one point returns its start).
std::vector<double> drop_path_rates(int64_t depth, double max_rate);

// Sets each block's Block::drop_path to drop_path_rates(depth, max_rate) and, when `gen`
// is given, the generator the blocks draw their masks from (a seeded stream for resume).
void apply_drop_path(nn::VisionTransformer& model, double max_rate, Generator* gen = nullptr);

// Global L2 norm over every defined gradient of `params` (computed in double, in a fixed
// order and fixed chunks, so the same bits on any thread count). When the norm exceeds
// max_norm, every gradient is scaled in place by max_norm / (norm + 1e-6) (PyTorch's
// clip_grad_norm_). Returns the norm before clipping; a non-finite norm is returned
// without scaling anything, so the caller can stop on it.
double clip_grad_norm(const TensorList& params, double max_norm);

}  // namespace shears::train
