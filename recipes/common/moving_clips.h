// The synthetic video setting shared by the VideoMAE pretraining and Gardener recipes:
// moving Fashion-MNIST clips (grey, one channel) and the small VideoMAE that reads them
// (8 frames of 32x32, tubelet 2x8x8 -> 64 tokens, width 64, 12 blocks), with the clip
// normalization, and the train / held-out splits (train images with one seed, test images
// with another).
#pragma once
#include <memory>
#include <string>

#include "data/datasets.h"
#include "nn/config.h"

namespace shears::recipes {

// The clip setting: model shape plus the one data option the recipes choose. 8 frames and
// width 64 keep a 12-block fine-tune near 80-100 clips/s on 2 cores (16 frames x width 96:
// 24-33 clips/s). No distractor by default: with a static item of another group in half the
// clips the label needs motion segmentation, and a 12-block ViT stayed near chance within
// the mini budget (measured in docs/DESIGN.md).
struct ClipModelShape {
  int64_t frames = 8, side = 32, patch = 8, tubelet = 2;
  int64_t dim = 64, depth = 12, heads = 2, mlp_hidden = 256;
  double distractor_prob = 0.0;
};

// Normalization measured over clips of this generator (mostly black background): mean 0.075,
// std 0.21 without distractors, 0.10 / 0.24 with distractor_prob 0.5; used as the model's
// normalization.
nn::ModelConfig clip_videomae_config(const ClipModelShape& shape, int64_t num_classes);

// train: Fashion-MNIST train images, seed `seed`; held-out: test images, seed `seed + 1000003`.
std::shared_ptr<data::MovingFashionMnist> moving_clips(const std::string& fashion_dir, bool train, int64_t clips,
                                                       const ClipModelShape& shape, uint64_t seed);

}  // namespace shears::recipes
