// Trainer (see trainer.h).
#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "autograd/ops.h"
#include "nn/io/non_finite.h"
#include "train/metrics.h"
#include "train/progress.h"

namespace shears::train {

Trainer::Trainer(nn::VisionTransformer& model, TrainerOptions options, int64_t steps_per_epoch)
    : model_(model), opts_(options), steps_per_epoch_(steps_per_epoch) {
  SHEARS_CHECK(steps_per_epoch > 0, "trainer", "an epoch needs at least one batch, got ", steps_per_epoch,
               " (data set smaller than one batch with drop_last?)");
  AdamWOptions o;
  o.lr = opts_.lr;
  o.beta1 = opts_.beta1;
  o.beta2 = opts_.beta2;
  SHEARS_CHECK(opts_.shard_count >= 1 && opts_.shard_rank >= 0 && opts_.shard_rank < opts_.shard_count, "trainer",
               "shard_rank must be in [0, shard_count), got ", opts_.shard_rank, " of ", opts_.shard_count);
  optimizer_ = std::make_unique<AdamW>(decay_groups(model_, opts_.weight_decay), o);
  schedule_ = CosineSchedule::from_epochs(opts_.lr, opts_.warmup_lr, opts_.min_lr, opts_.warmup_epochs,
                                          double(opts_.epochs), steps_per_epoch_);
}

Tensor classification_loss(const Tensor& logits, const data::Batch& batch, double label_smoothing) {
  return batch.targets.defined() ? soft_cross_entropy(logits, batch.targets)
                                 : cross_entropy(logits, batch.labels, label_smoothing);
}

void Trainer::add_controller(std::shared_ptr<TrainingController> controller) {
  SHEARS_CHECK(controller != nullptr, "trainer", "add_controller got a null controller");
  controllers_.push_back(std::move(controller));
}

namespace {
// Points every block's DropPath at one generator for the scope, restoring the previous pointers
// on exit (also on an exception), so no block is left pointing at the Trainer's member.
class DropPathGeneratorScope {
 public:
  // `shard`: the rows of the global batch this process holds (data parallel; {} = all of it).
  void install(nn::VisionTransformer& model, Generator* gen, nn::SampleShard shard = {}) {
    for (auto& block : model.blocks->items)
      if (block->drop_path_gen != gen || block->drop_path_shard.first != shard.first ||
          block->drop_path_shard.global != shard.global) {
        previous_.push_back({block, block->drop_path_gen, block->drop_path_shard});
        block->drop_path_gen = gen;
        block->drop_path_shard = shard;
      }
  }
  ~DropPathGeneratorScope() {
    for (auto it = previous_.rbegin(); it != previous_.rend(); ++it) {
      it->block->drop_path_gen = it->gen;
      it->block->drop_path_shard = it->shard;
    }
  }

 private:
  struct Previous {
    std::shared_ptr<nn::Block> block;
    Generator* gen;
    nn::SampleShard shard;
  };
  std::vector<Previous> previous_;
};

// Rows [first, first + count) of a batch (data-parallel sharding).
data::Batch batch_rows(const data::Batch& batch, int64_t first, int64_t count) {
  data::Batch out;
  out.inputs = kernels::contiguous(kernels::narrow(batch.inputs, 0, first, count));
  out.labels = kernels::contiguous(kernels::narrow(batch.labels, 0, first, count));
  if (batch.targets.defined()) out.targets = kernels::contiguous(kernels::narrow(batch.targets, 0, first, count));
  auto rows = [&](const std::vector<int64_t>& v) {
    return v.size() == size_t(batch.size()) ? std::vector<int64_t>(v.begin() + first, v.begin() + first + count) : v;
  };
  out.indices = rows(batch.indices);
  out.groups = rows(batch.groups);
  return out;
}
}  // namespace

// Batches come from the host's loaders; a model on a device gets them copied over.
void Trainer::to_model_device(data::Batch& batch) const {
  const Device d = model_.device();
  if (d.is_cpu()) return;
  batch.inputs = batch.inputs.to(d);
  batch.labels = batch.labels.to(d);
  if (batch.targets.defined()) batch.targets = batch.targets.to(d);
}

void Trainer::log_json(const std::string& line) const {
  if (opts_.log_path.empty()) return;
  std::ofstream f(opts_.log_path, std::ios::app);
  f << line << "\n";
}

double Trainer::train_epoch(data::DataLoader& loader, int64_t epoch) {
  model_.train();
  data::Batch batch;
  double loss_sum = 0, window_loss = 0;
  int64_t n_steps = 0, window_steps = 0, window_images = 0;
  const double t_epoch = now_s();
  double t_window = t_epoch;
  loader.take_wait_seconds();
  const int64_t total_steps = steps_per_epoch_ * opts_.epochs;
  DropPathGeneratorScope drop_path_scope;
  while ((opts_.stop_at_step < 0 || step_ < opts_.stop_at_step) && loader.next(batch)) {
    // Data parallel (TrainerOptions::shard_*): `batch` is the global batch; keep this process's rows.
    const int64_t global_batch = batch.size();
    nn::SampleShard shard;
    if (opts_.shard_count > 1) {
      SHEARS_CHECK(global_batch >= opts_.shard_count, "trainer", "a batch of ", global_batch,
                   " samples cannot be split over ", opts_.shard_count, " processes (data parallel)");
      shard = {global_batch * opts_.shard_rank / opts_.shard_count, global_batch};
      batch = batch_rows(batch, shard.first, global_batch * (opts_.shard_rank + 1) / opts_.shard_count - shard.first);
    }
    to_model_device(batch);
    const double lr = schedule_.at(step_);
    optimizer_->set_lr(lr);
    optimizer_->zero_grad();
    drop_path_gen_ = Generator(opts_.seed ^ kDropPathSeedMix, uint64_t(step_));
    drop_path_scope.install(model_, &drop_path_gen_, shard);  // every step: blocks may change between steps
    Tensor logits = model_.forward(batch.inputs);
    Tensor loss = loss_ ? loss_(model_, batch, logits, step_) : classification_loss(logits, batch, opts_.label_smoothing);
    if (loss_)
      SHEARS_CHECK(loss.defined() && loss.numel() == 1, "trainer", "the custom loss must return a scalar, got shape ",
                   loss.defined() ? shape_str(loss.shape()) : std::string("undefined"));
    for (const auto& controller : controllers_) {
      Tensor extra = controller->extra_loss(model_, batch, step_);
      if (!extra.defined()) continue;
      SHEARS_CHECK(extra.numel() == 1, "trainer", "a controller's extra_loss must be a scalar, got shape ",
                   shape_str(extra.shape()));
      loss = add(loss, reshape(extra, loss.shape()));
    }
    const double lv = loss.item<double>();
    if (!std::isfinite(lv))
      throw NonFiniteError(str_cat("[trainer] the run diverged: non-finite loss ", nn::value_text(lv), " at step ",
                                   step_ + 1, " (index ", step_, ", epoch ", epoch + 1, ", lr ", lr,
                                   "); the weights were not updated at this step. Lower the learning rate or "
                                   "clip the gradient norm (TrainerOptions::clip_grad)"),
                           epoch, step_);
    // Data parallel: rows / global of this process's mean loss, so the summed gradients are the global mean's.
    if (opts_.shard_count > 1) loss = mul_scalar(loss, double(batch.size()) / double(global_batch));
    backward(loss);
    for (const auto& controller : controllers_) controller->after_backward(model_, step_);
    if (opts_.clip_grad > 0) clip_grad_norm(model_.parameters(), opts_.clip_grad);
    optimizer_->step();
    if (const auto bad = nn::first_non_finite(model_.named_parameters()))
      throw NonFiniteError(str_cat("[trainer] the run diverged: the update of step ", step_ + 1, " (index ", step_,
                                   ", epoch ", epoch + 1, ", lr ", lr, ", loss ", lv, ") made weight '",
                                   bad->tensor, "' ", nn::value_text(bad->value), " at element ", bad->index,
                                   ". Lower the learning rate or clip the gradient norm (TrainerOptions::clip_grad)"),
                           epoch, step_);
    for (const auto& controller : controllers_) controller->after_step(model_, step_);
    ++step_;
    loss_sum += lv;
    window_loss += lv;
    ++n_steps;
    ++window_steps;
    window_images += global_batch;
    const bool end = loader.next_batch_index() == steps_per_epoch_ || step_ == opts_.stop_at_step;
    if (opts_.log_every > 0 && (n_steps % opts_.log_every == 0 || end)) {
      const double t = now_s();
      const double wait = loader.take_wait_seconds();
      last_ips_ = window_images / std::max(1e-9, t - t_window);
      last_wait_ = wait / std::max(1e-9, t - t_window);
      const double eta = double(total_steps - step_) * (t - t_epoch) / double(n_steps);
      const int64_t shown = loader.next_batch_index();
      if (!opts_.quiet)
        std::printf("epoch %ld/%ld  step %ld/%ld  loss %.4f  lr %.2e  %.0f img/s  data wait %.0f%%  eta %s\n",
                    long(epoch + 1), long(opts_.epochs), long(shown), long(steps_per_epoch_),
                    window_loss / double(window_steps), lr, last_ips_, 100 * last_wait_, format_eta(eta).c_str());
      std::fflush(stdout);
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    "{\"kind\":\"train\",\"epoch\":%ld,\"step\":%ld,\"loss\":%.9g,\"lr\":%.9g,\"img_per_s\":%.1f,"
                    "\"data_wait\":%.4f}",
                    long(epoch), long(step_), window_loss / double(window_steps), lr, last_ips_, last_wait_);
      log_json(buf);
      window_loss = 0;
      window_steps = 0;
      window_images = 0;
      t_window = t;
    }
  }
  SHEARS_CHECK(n_steps > 0 || step_ == opts_.stop_at_step, "trainer", "the loader produced no batch in epoch ",
               epoch);
  return n_steps > 0 ? loss_sum / double(n_steps) : 0.0;
}

EvalResult Trainer::evaluate(data::DataLoader& loader) {
  model_.eval();
  NoGradGuard no_grad;
  EvalResult r;
  const double t0 = now_s();
  data::Batch batch;
  double loss_sum = 0;
  ConfusionStats stats(loader.dataset().num_classes());
  while (loader.next(batch)) {
    to_model_device(batch);
    Tensor logits = model_.forward(batch.inputs);
    loss_sum += cross_entropy(logits, batch.labels, 0.0).item<double>() * double(batch.size());
    stats.add(logits, batch.labels);
  }
  SHEARS_CHECK(stats.total() > 0, "trainer", "the evaluation loader produced no batch");
  r.samples = stats.total();
  r.top1 = stats.top1();
  r.top5 = stats.top5();
  r.uar = stats.uar();
  r.loss = loss_sum / double(r.samples);
  r.seconds = now_s() - t0;
  return r;
}

}  // namespace shears::train
