// MaePretrainer: the VideoMAE masked-pretraining loop (engine_for_pretraining.py). Per step:
// a tube mask and the DropPath draws keyed by (mask_seed, step) (so a run is a pure function of
// its seeds and a resume is exact), normalized-pixel MSE on the masked tubelets, AdamW (beta2 0.95 by default),
// warm-up + cosine lr stepped per iteration, optional gradient clipping, and a progress
// line with clips/s and ETA. evaluate() reports the loss next to the predict-the-mean
// baseline on held-out clips.
#pragma once
#include <memory>
#include <string>

#include "data/data_loader.h"
#include "nn/videomae_pretrain.h"
#include "train/adamw.h"
#include "train/schedule.h"

namespace shears::train {

struct MaePretrainOptions {
  int64_t epochs = 10;
  double lr = 1.5e-4;          // peak lr actually used (VideoMAE: 1.5e-4 x batch / 256)
  double warmup_lr = 1e-6;
  double min_lr = 1e-5;
  double warmup_epochs = 1.0;
  double weight_decay = 0.05;  // not on biases, norms or mask_token
  double beta1 = 0.9, beta2 = 0.95;
  double clip_grad = 0.0;      // 0 = no clipping
  // Masks of step s come from Generator(mask_seed ^ mask mix, s); during a step every encoder and
  // decoder block's DropPath draws from Generator(mask_seed ^ kDropPathSeedMix, s) (as the
  // Trainer's, docs/DESIGN.md "Stochastic layers"), not from the process generator.
  uint64_t mask_seed = 0;
  int64_t log_every = 20;      // steps between progress lines (0 = none)
  std::string log_path;        // JSONL ("" = none)
  bool quiet = false;
};

// Masked reconstruction on held-out clips. With normalized-pixel targets each tubelet's
// target has zero mean (per channel), so "predict the tubelet's mean" means predicting 0 and
// its MSE is the mean squared target: mean_baseline. It is about 1 for textured tubelets
// ((n-1)/n with the unbiased std) and 0 for constant ones (an all-black tubelet normalizes
// to 0), so it is measured, not assumed.
struct MaeEvalResult {
  double loss = 0;           // MSE of the predictions on masked tubelets
  double mean_baseline = 0;  // MSE of predicting 0 (each tubelet's own mean)
  int64_t clips = 0;
  int64_t masked_tubelets = 0;
  double seconds = 0;
};

class MaePretrainer {
 public:
  MaePretrainer(nn::VideoMAEPretrain& model, MaePretrainOptions options, int64_t steps_per_epoch);

  // One optimizer step on normalized clips (B, C, T, H, W); returns the loss before the step.
  double train_step(const Tensor& clips);
  // One epoch over `loader` (started at `epoch` by the caller); returns the mean loss.
  double train_epoch(data::DataLoader& loader, int64_t epoch);
  // Loss and baseline over the whole loader, masks from Generator(mask_seed, batch index),
  // independent of the training masks. No gradients, model in eval mode.
  MaeEvalResult evaluate(data::DataLoader& loader, uint64_t mask_seed);

  // The tube masks of a batch: (B, N) bool from Generator(seed, stream) with the model's ratio.
  static Tensor masks(const nn::VideoMAEPretrain& model, int64_t batch, uint64_t seed, uint64_t stream);

  AdamW& optimizer() { return *optimizer_; }
  const CosineSchedule& schedule() const { return schedule_; }
  int64_t step() const { return step_; }
  // Continues a run at `step` (after the caller restored the weights and the optimizer state):
  // the lr, masks and DropPath draws of the following steps are those of an uninterrupted run.
  void set_step(int64_t step);
  double last_clips_per_second() const { return last_cps_; }

 private:
  nn::VideoMAEPretrain& model_;
  MaePretrainOptions opts_;
  std::unique_ptr<AdamW> optimizer_;
  CosineSchedule schedule_;
  int64_t steps_per_epoch_;
  int64_t step_ = 0;
  double last_cps_ = 0;
  Generator drop_path_gen_;  // re-keyed to (mask_seed, step) before every step's forward
};

}  // namespace shears::train
