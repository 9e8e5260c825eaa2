// Training-state bookkeeping of a resumable recipe run (the main job): the position after k optimizer
// steps (epoch, step, batch within the epoch, run config), atomic saves at epoch ends, on a stop and
// every N steps, the newest state known good (loaded or saved), and the error that points at it when
// training diverges.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "data/data_loader.h"
#include "nn/vision_transformer.h"
#include "train/controller.h"
#include "train/adamw.h"
#include "train/run_config.h"
#include "train/train_state.h"
#include "train/trainer.h"

namespace shears::recipes {

class TrainingStateKeeper {
 public:
  // `writer`: whether this process writes files (rank 0 under MPI; the others only track positions).
  TrainingStateKeeper(std::string state_path, const nn::VisionTransformer& model, const train::AdamW& optimizer,
                      const data::DataLoader& loader, train::RunConfig run_config, bool writer);
  // The run continues from `s`, loaded from `path` (the newest good state until this run saves one).
  void resumed_from(const std::string& path, const train::TrainState& s);
  void set_epoch(int64_t epoch) { epoch_ = epoch; }
  // Where training stands after `steps_done` optimizer steps of the epoch in progress.
  train::TrainState after(int64_t steps_done) const;
  // Writes after(steps_done) to the state path (temp file + rename; refused when a tensor is NaN/inf).
  void save_after(int64_t steps_done);
  // The epoch-end save, skipped when a periodic save has just written this very step.
  void save_at_epoch_end(int64_t steps_done);
  // A controller that saves every `every` optimizer steps, after the update.
  std::shared_ptr<train::TrainingController> periodic_saver(int64_t every);
  // The error for a diverged run: names the last good state (if any) and the flags that resume from it
  // with a tenth of the base lr or with gradient clipping.
  Error diverged(const train::NonFiniteError& e, double base_lr) const;
  const std::string& state_path() const { return state_path_; }

 private:
  std::string state_path_;
  const nn::VisionTransformer& model_;
  const train::AdamW& optimizer_;
  const data::DataLoader& loader_;
  train::RunConfig run_config_;
  bool writer_;
  int64_t epoch_ = 0;
  std::string last_good_path_;  // empty until a state is loaded or saved
  train::TrainState last_good_;
};

}  // namespace shears::recipes
