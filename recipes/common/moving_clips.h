// The synthetic video setting shared by the VideoMAE pretraining and Gardener recipes:
// moving Fashion-MNIST clips (grey, one channel) and the small VideoMAE that reads them
// (16 frames of 32x32, tubelet 2x8x8 -> 128 tokens), with the clip normalization, and the
// train / held-out splits (train images with one seed, test images with another).
#pragma once
#include <memory>
#include <string>

#include "data/datasets.h"
#include "nn/config.h"

namespace shears::recipes {

struct ClipModelShape {
  int64_t frames = 16, side = 32, patch = 8, tubelet = 2;
  int64_t dim = 96, depth = 12, heads = 3, mlp_hidden = 384;
};

// Moving-Fashion-MNIST clips have a mostly black background: mean 0.1, std 0.25 (measured
// over clips of this generator; used as the model's normalization).
nn::ModelConfig clip_videomae_config(const ClipModelShape& shape, int64_t num_classes);

// train: Fashion-MNIST train images, seed `seed`; held-out: test images, seed `seed + 1000003`.
std::shared_ptr<data::MovingFashionMnist> moving_clips(const std::string& fashion_dir, bool train, int64_t clips,
                                                       const ClipModelShape& shape, uint64_t seed);

}  // namespace shears::recipes
