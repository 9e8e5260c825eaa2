// Fashion-MNIST for recipes that start from the main job's model: the train/test splits (with
// optional limits) and the transforms the main job trains and evaluates with (random crop with
// zero padding + horizontal flip + the model's normalization; normalization only for testing).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "data/dataset.h"
#include "nn/config.h"

namespace shears::recipes {

struct FashionMnistSplits {
  std::shared_ptr<const data::Dataset> train, test;
};

// Loads both splits from `dir`; a limit > 0 keeps the first `limit` samples of that split.
// Errors name the folder and say how to get the files (Debian's dataset-fashion-mnist).
FashionMnistSplits load_fashion_mnist_splits(const std::string& dir, int64_t train_limit = 0, int64_t test_limit = 0);

// The main job's training augmentation for a model trained on 28x28 Fashion-MNIST:
// random_crop(image_size, crop_padding) (none when 0), flip 0.5, normalize(cfg.mean, cfg.std).
data::Transform fashion_mnist_train_transform(const nn::ModelConfig& cfg, int64_t crop_padding = 2);
// A 10-class ViT for 28x28x1 Fashion-MNIST (the preset vit_tiny_patch4_28's normalisation and CLS
// token) with `depth` uniform blocks of `heads` heads (head width dim / heads) and MLP width `mlp`;
// validated. The small bases recipes train themselves (smoke bases, the token-pruning base).
nn::ModelConfig fashion_mnist_vit(int64_t patch, int64_t dim, int64_t depth, int64_t heads, int64_t mlp);
// Test-time preprocessing: normalize(cfg.mean, cfg.std).
data::Transform fashion_mnist_test_transform(const nn::ModelConfig& cfg);

}  // namespace shears::recipes
