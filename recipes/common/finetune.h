// Fine-tuning a model in place with train::Trainer: AdamW, linear warm-up + cosine stepped per
// iteration, label smoothing or Mixup/CutMix soft targets, optional training-time controllers and
// a custom loss (distillation), for whole epochs of a data set (a fraction of an epoch is a smaller
// data set). The one fine-tune loop and option struct recipes share when they adapt a model to a
// change (token pruning installed, blocks removed) or to a new data set.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/mixup.h"
#include "nn/vision_transformer.h"
#include "train/controller.h"
#include "train/trainer.h"

namespace shears::recipes {

// The Trainer's options (lr, schedule, weight decay, label smoothing, clipping, logging) with
// fine-tune defaults, plus what the fine-tune builds around the Trainer: the loader, mixing,
// controllers and the loss. lr is the peak used as is (scale by batch size before).
struct FinetuneOptions : train::TrainerOptions {
  FinetuneOptions() {
    epochs = 1;
    warmup_epochs = 0.1;  // clamped to epochs
    lr = 1e-4;
    warmup_lr = 1e-6;
    min_lr = 1e-6;
    weight_decay = 0.05;
    label_smoothing = 0.1;  // without Mixup/CutMix (with them it is mix.label_smoothing)
    log_every = 0;          // Trainer progress lines (0 = quiet)
  }
  int64_t batch_size = 64;
  // seed (inherited from TrainerOptions): loader shuffling, per-sample transforms and DropPath draws
  bool mixing = false;    // Mixup/CutMix as set in `mix` (num_classes filled in from the data)
  data::MixupOptions mix;
  std::vector<std::shared_ptr<train::TrainingController>> controllers;  // run in this order
  train::LossFunction loss;  // empty = train::classification_loss
};

// Fine-tunes `model` on `train` (per-sample `transform`, shuffled, drop_last). Returns the mean
// loss of the last epoch. Throws when the data set holds less than one batch.
double finetune(nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> train, data::Transform transform,
                const FinetuneOptions& options);

}  // namespace shears::recipes
