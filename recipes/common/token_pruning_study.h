// The base model, data and preprocessing of one scale of the token-pruning study: smoke/mini =
// Fashion-MNIST with a --base-checkpoint or the patch-4 base trained here once and cached under --out;
// paper = a timm DeiT-S/B checkpoint and ImageFolder train/val folders. Plus the fixed timing batch.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "common/token_pruning_settings.h"
#include "data/dataset.h"
#include "nn/vision_transformer.h"

namespace shears::recipes {

struct TokenPruningStudy {
  std::shared_ptr<nn::VisionTransformer> base;
  std::string base_desc;
  double base_train_seconds = 0;  // 0 when loaded
  std::shared_ptr<const data::Dataset> train, test;
  data::Transform train_tf, test_tf;
  Tensor timing_images;  // a fixed batch of preprocessed test images for the throughput columns
  std::string dataset_name;
};

// Loads (smoke/mini without --base-checkpoint: trains and caches as OUT/base_model.safetensors, printing
// "base: ..." lines) the base and the data of `s.scale`. Errors name `prog`. Under mpirun the recipe passes
// dist::root_first (rank 0 builds the cache, then the other ranks load it) and dist::is_root() (only rank
// 0 forces --retrain-base); recipes/common does not depend on dist/, the default runs the build directly.
using RootFirst = std::function<void(const std::function<void()>&)>;
TokenPruningStudy prepare_token_pruning_study(const TokenPruningSettings& s, const char* prog,
                                              const RootFirst& root_first = {}, bool is_root = true);

}  // namespace shears::recipes
