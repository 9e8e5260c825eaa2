// The patch-4 Fashion-MNIST base model of the token-pruning study (shears_token_pruning smoke/mini):
// its recipe (the cache key of the model cached under --out) and its training, the main job's recipe
// on a 49-patch ViT so that keep rates move tens of tokens as the paper's 196 do.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "data/dataset.h"
#include "nn/config.h"
#include "nn/vision_transformer.h"

namespace shears::recipes {

// Trained once and cached under --out unless --base-checkpoint names a model: AdamW, warm-up + cosine,
// Mixup/CutMix on a fraction of the batches, label smoothing, random crop + flip, RandomErasing.
struct TokenPruningBase {
  int64_t patch = 4, dim = 64, depth = 6, heads = 4, mlp = 128;
  int64_t epochs = 3, batch_size = 128, train_images = 0;  // 0 = the whole training split
  double lr = 1.5e-3;  // twice the main job's 3e-3 per 512 images (7.5e-4 at 128): 3 epochs, not 14
  double warmup_epochs = 0.5, min_lr = 1e-5, weight_decay = 0.05, smoothing = 0.1;
  double mixup = 0.8, cutmix = 1.0, mix_prob = 0.15, erase = 0.1;
  int64_t crop_padding = 2;
  uint64_t seed = 0;

  nn::ModelConfig model_config() const;
  // Every setting that changes the weights (the cache key).
  std::string describe(int64_t images) const;
};

// Trains the base with the main job's recipe on `train` (recipes::finetune = train::Trainer); progress
// lines every `log_every` steps (0 = one line per run).
std::shared_ptr<nn::VisionTransformer> train_token_pruning_base(const TokenPruningBase& b,
                                                                std::shared_ptr<const data::Dataset> train,
                                                                int64_t log_every);

}  // namespace shears::recipes
