// MaePretrainer (see mae_pretrainer.h).
#include "train/mae_pretrainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <utility>
#include <vector>

#include "autograd/ops.h"
#include "train/progress.h"
#include "train/trainer.h"

namespace shears::train {

namespace {
// Keeps mask streams apart from other users of the same seed.
constexpr uint64_t kMaskSeedMix = 0x6d61736b5f747562ull;  // "mask_tub"

// Points the DropPath of every encoder and decoder block at `gen` for the scope and restores the
// previous generators on exit (also on an exception).
class DropPathGeneratorScope {
 public:
  DropPathGeneratorScope(nn::VideoMAEPretrain& model, Generator* gen) {
    for (const auto* list : {&model.encoder->blocks->items, &model.decoder->blocks->items})
      for (const auto& block : *list) {
        previous_.emplace_back(block, block->drop_path_gen);
        block->drop_path_gen = gen;
      }
  }
  ~DropPathGeneratorScope() {
    for (auto it = previous_.rbegin(); it != previous_.rend(); ++it) it->first->drop_path_gen = it->second;
  }
  DropPathGeneratorScope(const DropPathGeneratorScope&) = delete;
  DropPathGeneratorScope& operator=(const DropPathGeneratorScope&) = delete;

 private:
  std::vector<std::pair<std::shared_ptr<nn::Block>, Generator*>> previous_;
};
}  // namespace

MaePretrainer::MaePretrainer(nn::VideoMAEPretrain& model, MaePretrainOptions options, int64_t steps_per_epoch)
    : model_(model), opts_(options), steps_per_epoch_(steps_per_epoch) {
  SHEARS_CHECK(steps_per_epoch > 0, "mae_pretrainer", "an epoch needs at least one batch, got ", steps_per_epoch,
               " (data set smaller than one batch with drop_last?)");
  SHEARS_CHECK(opts_.epochs >= 1, "mae_pretrainer", "epochs must be >= 1, got ", opts_.epochs);
  SHEARS_CHECK(opts_.lr > 0 && std::isfinite(opts_.lr), "mae_pretrainer", "lr must be positive, got ", opts_.lr);
  AdamWOptions o;
  o.lr = opts_.lr;
  o.beta1 = opts_.beta1;
  o.beta2 = opts_.beta2;
  optimizer_ = std::make_unique<AdamW>(decay_groups(model_, opts_.weight_decay), o);
  schedule_ = CosineSchedule::from_epochs(opts_.lr, opts_.warmup_lr, opts_.min_lr,
                                          std::min(opts_.warmup_epochs, double(opts_.epochs)), double(opts_.epochs),
                                          steps_per_epoch_);
}

Tensor MaePretrainer::masks(const nn::VideoMAEPretrain& model, int64_t batch, uint64_t seed, uint64_t stream) {
  Generator gen(seed ^ kMaskSeedMix, stream);
  return nn::tube_mask(batch, model.cfg.encoder, model.cfg.mask_ratio, gen);
}

double MaePretrainer::train_step(const Tensor& clips) {
  model_.train();
  optimizer_->set_lr(schedule_.at(step_));
  optimizer_->zero_grad();
  Tensor mask = masks(model_, clips.size(0), opts_.mask_seed, uint64_t(step_));
  drop_path_gen_ = Generator(opts_.mask_seed ^ kDropPathSeedMix, uint64_t(step_));
  Tensor loss;
  {
    DropPathGeneratorScope drop_path_scope(model_, &drop_path_gen_);
    loss = model_.forward(clips, mask).loss;
  }
  const double lv = loss.item<double>();
  if (!std::isfinite(lv))
    fail("mae_pretrainer", "non-finite loss ", lv, " at step ", step_, "; lower the learning rate (now ",
         optimizer_->lr(), ") or set a gradient clip");
  backward(loss);
  if (opts_.clip_grad > 0) clip_grad_norm(model_.parameters(), opts_.clip_grad);
  optimizer_->step();
  ++step_;
  return lv;
}

void MaePretrainer::set_step(int64_t step) {
  SHEARS_CHECK(step >= 0, "mae_pretrainer", "set_step needs a step >= 0, got ", step);
  step_ = step;
}

double MaePretrainer::train_epoch(data::DataLoader& loader, int64_t epoch) {
  data::Batch batch;
  double loss_sum = 0, window_loss = 0;
  int64_t n_steps = 0, window_steps = 0, window_clips = 0;
  const double t_epoch = now_s();
  double t_window = t_epoch;
  const int64_t total_steps = steps_per_epoch_ * opts_.epochs;
  const int64_t first_step = step_;
  while (loader.next(batch)) {
    const double lv = train_step(batch.inputs);
    loss_sum += lv;
    window_loss += lv;
    ++n_steps;
    ++window_steps;
    window_clips += batch.size();
    const bool end = loader.next_batch_index() == steps_per_epoch_;
    if (opts_.log_every > 0 && (n_steps % opts_.log_every == 0 || end)) {
      const double t = now_s();
      last_cps_ = window_clips / std::max(1e-9, t - t_window);
      const double eta = double(total_steps - step_) * (t - t_epoch) / double(step_ - first_step);
      if (!opts_.quiet) {
        std::printf("pretrain epoch %ld/%ld  step %ld/%ld  masked mse %.4f  lr %.2e  %.1f clips/s  eta %s\n",
                    long(epoch + 1), long(opts_.epochs), long(loader.next_batch_index()), long(steps_per_epoch_),
                    window_loss / double(window_steps), optimizer_->lr(), last_cps_, format_eta(eta).c_str());
        std::fflush(stdout);
      }
      if (!opts_.log_path.empty()) {
        std::ofstream f(opts_.log_path, std::ios::app);
        char buf[256];
        std::snprintf(buf, sizeof buf,
                      "{\"kind\":\"pretrain\",\"epoch\":%ld,\"step\":%ld,\"loss\":%.9g,\"lr\":%.9g,"
                      "\"clips_per_s\":%.2f}",
                      long(epoch), long(step_), window_loss / double(window_steps), optimizer_->lr(), last_cps_);
        f << buf << "\n";
      }
      window_loss = 0;
      window_steps = 0;
      window_clips = 0;
      t_window = t;
    }
  }
  SHEARS_CHECK(n_steps > 0, "mae_pretrainer", "the loader produced no batch in epoch ", epoch);
  return loss_sum / double(n_steps);
}

MaeEvalResult MaePretrainer::evaluate(data::DataLoader& loader, uint64_t mask_seed) {
  model_.eval();
  NoGradGuard no_grad;
  MaeEvalResult r;
  const double t0 = now_s();
  data::Batch batch;
  double sq_err = 0, sq_target = 0, elements = 0;
  for (uint64_t b = 0; loader.next(batch); ++b) {
    Tensor mask = masks(model_, batch.size(), mask_seed, b);
    nn::VideoMAEPretrain::Output out = model_.forward(batch.inputs, mask);
    const double n = double(out.target.numel());
    sq_err += out.loss.item<double>() * n;
    sq_target += mean(out.target * out.target).item<double>() * n;
    elements += n;
    r.clips += batch.size();
    r.masked_tubelets += out.target.size(0) * out.target.size(1);
  }
  SHEARS_CHECK(r.clips > 0, "mae_pretrainer", "the evaluation loader produced no batch");
  r.loss = sq_err / elements;
  r.mean_baseline = sq_target / elements;
  r.seconds = now_s() - t0;
  model_.train();
  return r;
}

}  // namespace shears::train
