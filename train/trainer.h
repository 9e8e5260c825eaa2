// Trainer: the fine-tuning loop every recipe uses. One optimizer step per batch (AdamW,
// cosine schedule with warm-up stepped per iteration, optional gradient clipping), soft-
// target cross-entropy whenever the batch carries soft targets (Mixup/CutMix) and label-
// smoothed cross-entropy otherwise (or a custom loss), training-time controllers
// (train/controller.h), a progress line with images/s, data-wait share and ETA, JSONL logs,
// and evaluation (top-1/top-5).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/data_loader.h"
#include "nn/vision_transformer.h"
#include "train/adamw.h"
#include "train/controller.h"
#include "train/schedule.h"

namespace shears::train {

struct TrainerOptions {
  int64_t epochs = 10;
  double lr = 5e-4;            // peak lr actually used (after any batch-size scaling)
  double warmup_lr = 1e-6;
  double min_lr = 1e-5;
  double warmup_epochs = 1.0;
  double weight_decay = 0.05;
  double beta1 = 0.9, beta2 = 0.999;
  double label_smoothing = 0.1;  // used when a batch has no soft targets
  double clip_grad = 0.0;        // 0 = no clipping
  int64_t log_every = 50;        // steps between progress lines (0 = none)
  std::string log_path;          // JSONL, one object per progress line and per epoch ("" = none)
  bool quiet = false;
  int64_t stop_at_step = -1;     // stop the epoch once this many steps are done (-1 = never)
};

// The built-in training loss: soft-target cross-entropy when batch.targets is defined
// (Mixup/CutMix), else cross-entropy on batch.labels with `label_smoothing`. logits (B, classes).
Tensor classification_loss(const Tensor& logits, const data::Batch& batch, double label_smoothing);

struct EvalResult {
  double top1 = 0, top5 = 0, loss = 0;
  double uar = 0;  // unweighted mean of per-class recall (top1 is the WAR)
  int64_t samples = 0;
  double seconds = 0;
};

class Trainer {
 public:
  Trainer(nn::VisionTransformer& model, TrainerOptions options, int64_t steps_per_epoch);

  // One epoch over `loader` (which must have been started at the right epoch/batch),
  // or until options.stop_at_step. Returns the mean training loss of the steps taken.
  double train_epoch(data::DataLoader& loader, int64_t epoch);
  EvalResult evaluate(data::DataLoader& loader);

  AdamW& optimizer() { return *optimizer_; }
  const CosineSchedule& schedule() const { return schedule_; }
  int64_t step() const { return step_; }
  void set_step(int64_t step) { step_ = step; }
  // Controllers run in the order added, every step of train_epoch (see train/controller.h).
  void add_controller(std::shared_ptr<TrainingController> controller);
  // Replaces classification_loss for the following steps (an empty function restores it).
  void set_loss(LossFunction loss) { loss_ = std::move(loss); }
  double last_images_per_second() const { return last_ips_; }
  double last_data_wait_fraction() const { return last_wait_; }

 private:
  void log_json(const std::string& line) const;
  nn::VisionTransformer& model_;
  TrainerOptions opts_;
  std::unique_ptr<AdamW> optimizer_;
  CosineSchedule schedule_;
  int64_t steps_per_epoch_;
  int64_t step_ = 0;
  double last_ips_ = 0, last_wait_ = 0;
  std::vector<std::shared_ptr<TrainingController>> controllers_;
  LossFunction loss_;
};

}  // namespace shears::train
