// Figures of token pruning for one image: per-patch attention entropy of every block as heatmaps
// (head-mean Rényi/Shannon entropy of each patch's query row, pruning/entropy.h, read through
// Block::keep_attention on the dense model) and the patches each pruning block keeps under a
// policy applied through the transform API to a clone (TokenPruning::last_records()), pruned
// patches darkened. Pictures are data::Image8 grids
// ready for data::write_png; every cell is the input image's size times `scale`.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/image_write.h"
#include "nn/vision_transformer.h"
#include "pruning/token_pruning.h"

namespace shears::recipes {

// An image (C, H, W) f32 with values in [0, 1] (C = 1 or 3) as an RGB picture enlarged `scale` times.
data::Image8 picture_of(const Tensor& image, int64_t scale);

// Per block of `model`, the head-mean attention entropy of each patch token's query row (CLS left
// out), for one preprocessed input (1, C, H, W): depth x num_patches values in raster order. The
// model runs dense (its token hooks are set aside during the forward and restored, as is its
// train/eval mode).
std::vector<std::vector<float>> patch_entropy_per_block(nn::VisionTransformer& model, const Tensor& input,
                                                        const pruning::AttentionEntropyOptions& options);

// The patches a token policy keeps for one input, per pruning block.
struct KeptPatches {
  std::vector<int64_t> blocks;              // 0-based indices of the pruning blocks
  bool fused = false;                       // the pruned tokens were fused into one extra token
  std::vector<std::vector<int64_t>> kept;   // per pruning block: original patch indices (raster order)
                                            // kept after it, fused token left out
};

// Applies `config` as a pruning::TokenPruningTransform to a clone of `model` (any token pruning
// the model has is removed from the clone first; `model` is not changed) and runs one preprocessed
// input (1, C, H, W) through it. Fusion: config.fuse, or the policy's default when unset.
KeptPatches kept_patches_per_pruning_block(const nn::VisionTransformer& model, const Tensor& input,
                                           const pruning::TokenPruningConfig& config);

// Grid of 2 rows x (1 + depth) cells: row 1 the picture then one entropy heatmap per block (viridis,
// each block on its own min-max scale: low entropy dark, high bright); row 2 the picture then each
// heatmap blended over the picture. `grid` patches per side.
data::Image8 entropy_figure(const data::Image8& picture, const std::vector<std::vector<float>>& entropies,
                            int64_t grid, int64_t gap = 4);

// The picture with the patches not in `kept` darkened to a quarter of their brightness and tinted red.
data::Image8 kept_patch_picture(const data::Image8& picture, int64_t grid, const std::vector<int64_t>& kept);

// One row per policy: the picture, then the kept patches after each pruning block.
data::Image8 kept_patches_figure(const data::Image8& picture, int64_t grid,
                                 const std::vector<std::vector<std::vector<int64_t>>>& kept_per_policy,
                                 int64_t gap = 4);

}  // namespace shears::recipes
