// TrainingStateKeeper (see training_state_keeper.h).
#include "common/training_state_keeper.h"

#include <utility>

#include "tensor/error.h"

namespace shears::recipes {

namespace {

// Saves every `every` optimizer steps, after the update.
class PeriodicStateSave : public train::TrainingController {
 public:
  PeriodicStateSave(int64_t every, TrainingStateKeeper& keeper) : every_(every), keeper_(keeper) {}
  void after_step(nn::VisionTransformer&, int64_t step) override {
    if ((step + 1) % every_ == 0) keeper_.save_after(step + 1);
  }

 private:
  int64_t every_;
  TrainingStateKeeper& keeper_;
};

}  // namespace

TrainingStateKeeper::TrainingStateKeeper(std::string state_path, const nn::VisionTransformer& model,
                                         const train::AdamW& optimizer, const data::DataLoader& loader,
                                         train::RunConfig run_config, bool writer)
    : state_path_(std::move(state_path)), model_(model), optimizer_(optimizer), loader_(loader),
      run_config_(std::move(run_config)), writer_(writer) {}

void TrainingStateKeeper::resumed_from(const std::string& path, const train::TrainState& s) {
  last_good_path_ = path;
  last_good_ = s;
  epoch_ = s.epoch;
}

train::TrainState TrainingStateKeeper::after(int64_t steps_done) const {
  train::TrainState s;
  s.epoch = epoch_;
  s.step = steps_done;
  s.next_batch = loader_.next_batch_index();
  if (s.next_batch >= loader_.batches_per_epoch()) s.epoch += 1, s.next_batch = 0;
  s.run_config = run_config_;
  return s;
}

void TrainingStateKeeper::save_after(int64_t steps_done) {
  const train::TrainState s = after(steps_done);
  if (writer_) train::save_train_state(state_path_, model_, optimizer_, s);  // atomic: temp file + rename
  last_good_path_ = state_path_;
  last_good_ = s;
}

void TrainingStateKeeper::save_at_epoch_end(int64_t steps_done) {
  if (last_good_path_ != state_path_ || last_good_.step != steps_done) save_after(steps_done);
}

std::shared_ptr<train::TrainingController> TrainingStateKeeper::periodic_saver(int64_t every) {
  return std::make_shared<PeriodicStateSave>(every, *this);
}

Error TrainingStateKeeper::diverged(const train::NonFiniteError& e, double base_lr) const {
  const std::string lower_lr = train::config_value(base_lr / 10);
  return Error(str_cat(
      e.what(), "\n  ",
      last_good_path_.empty()
          ? str_cat("no training state had been saved before step ", e.step + 1,
                    " (--save-every N saves one every N steps); start again with a lower --lr (e.g. --lr ", lower_lr,
                    ") or with --clip-grad 1")
          : str_cat("the last good training state ", last_good_path_, " (after step ", last_good_.step,
                    ") is kept and loadable; resume from it with a lower learning rate (--resume ", last_good_path_,
                    " --resume-override lr --lr ", lower_lr, ") or with gradient clipping (--resume ",
                    last_good_path_, " --resume-override clip-grad --clip-grad 1)")));
}

}  // namespace shears::recipes
