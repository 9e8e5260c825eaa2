// Fine-tuning a model in place with train::Trainer: AdamW, linear warm-up + cosine stepped per
// iteration, label smoothing or Mixup/CutMix soft targets, for whole epochs of a data set (a
// fraction of an epoch is a smaller data set). The loop recipes share when they adapt a model to
// a change (token pruning installed, blocks removed) or to a new data set.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "data/dataset.h"
#include "data/mixup.h"
#include "nn/vision_transformer.h"

namespace shears::recipes {

struct FinetuneOptions {
  int64_t epochs = 1;
  double warmup_epochs = 0.1;
  double lr = 1e-4;            // peak lr used as is (scale by batch size before)
  double warmup_lr = 1e-6;
  double min_lr = 1e-6;
  double weight_decay = 0.05;
  double label_smoothing = 0.1;  // without Mixup/CutMix (with them it is mix.label_smoothing)
  int64_t batch_size = 64;
  uint64_t seed = 0;
  bool mixing = false;           // Mixup/CutMix as set in `mix` (num_classes filled in from the data)
  data::MixupOptions mix;
  int64_t log_every = 0;         // Trainer progress lines (0 = quiet)
  std::string log_path;          // Trainer JSONL log ("" = none)
};

// Fine-tunes `model` on `train` (per-sample `transform`, shuffled, drop_last). Returns the mean
// loss of the last epoch. Throws when the data set holds less than one batch.
double finetune(nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> train, data::Transform transform,
                const FinetuneOptions& options);

}  // namespace shears::recipes
