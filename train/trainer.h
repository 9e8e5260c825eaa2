// Trainer: the fine-tuning loop every recipe uses. One optimizer step per batch (AdamW,
// cosine schedule with warm-up stepped per iteration, optional gradient clipping), soft-
// target cross-entropy whenever the batch carries soft targets (Mixup/CutMix) and label-
// smoothed cross-entropy otherwise (or a custom loss), training-time controllers
// (train/controller.h), DropPath draws keyed by (seed, step), a stop naming the step when
// the run diverges (NonFiniteError), a progress line with images/s, data-wait share and ETA,
// JSONL logs, and evaluation (top-1/top-5).
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
  // Seed of the stochastic layers' draws: during train_epoch every block's DropPath draws from
  // Generator(seed ^ kDropPathSeedMix, step) (replacing Block::drop_path_gen for the epoch), so
  // the masks of step s depend only on (seed, s) and a resumed run draws exactly what an
  // uninterrupted one would, with no generator state to save.
  uint64_t seed = 0;
  // Data-parallel sharding (dist/data_parallel.h sets these; the defaults train on the whole
  // batch and change nothing). The loader yields the GLOBAL batch (the one-process run's); this
  // process trains on rows [B * shard_rank / shard_count, B * (shard_rank + 1) / shard_count) of
  // it with the loss scaled by rows / B, so the gradients summed over the processes (by a
  // controller's after_backward) equal the one-process mean gradient, and DropPath keeps its rows
  // of the global batch's masks. Logged images/s count the global batch; the logged loss is
  // this process's rows' (unscaled) loss.
  int64_t shard_rank = 0, shard_count = 1;
};

// The key mix of the DropPath generator (distinct from the data pipeline's streams).
constexpr uint64_t kDropPathSeedMix = 0xD509A7C4E1F2B3A5ull;

// Thrown by Trainer::train_epoch when the loss or, after an update, a weight is NaN/inf: the
// run diverged at `step` (the 0-based global step index; messages say "step <step + 1>", as in
// "stopped after N steps") of `epoch` (0-based). The weights of the model may
// already be poisoned; the caller's last saved state is what to resume from.
class NonFiniteError : public Error {
 public:
  NonFiniteError(const std::string& what, int64_t epoch, int64_t step) : Error(what), epoch(epoch), step(step) {}
  int64_t epoch, step;
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
  // or until options.stop_at_step. Returns the mean training loss of the steps taken. Throws
  // NonFiniteError naming the step when the loss or (checked after every update, one pass over
  // the parameters) a weight becomes NaN/inf.
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
  void to_model_device(data::Batch& batch) const;
  nn::VisionTransformer& model_;
  TrainerOptions opts_;
  std::unique_ptr<AdamW> optimizer_;
  CosineSchedule schedule_;
  int64_t steps_per_epoch_;
  int64_t step_ = 0;
  double last_ips_ = 0, last_wait_ = 0;
  std::vector<std::shared_ptr<TrainingController>> controllers_;
  LossFunction loss_;
  Generator drop_path_gen_;  // re-keyed to (seed, step) before every step's forward
};

}  // namespace shears::train
