// Exact-resume training checkpoints: ONE safetensors file with the model weights
// ("model.<name>"), the optimizer's state tensors ("optim.<i>"), and in __metadata__ what
// nn::save_model writes about the model (nn::model_metadata: "shears.config", so
// nn::read_model_config rebuilds the model, and a pruned model's "shears.prune_log" and
// "shears.extensions"), the counters, RNG offsets and optimizer step/lr ("shears.train_state"),
// the run config checked on resume ("shears.train_config") and free-form JSON ("shears.extra").
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "nn/vision_transformer.h"
#include "train/adamw.h"
#include "train/sgd.h"

namespace shears::train {

// The counters a resumed run continues from.
struct TrainState {
  int64_t epoch = 0;       // the epoch in progress
  int64_t step = 0;        // optimizer steps taken so far (the lr schedule's position)
  int64_t next_batch = 0;  // index within `epoch` of the next batch to train on
  std::map<std::string, uint64_t> rng;  // named generator offsets (and seeds, see save_generator)
  std::string extra_json;  // anything else (EMA decay, keep-rate schedule, best acc); stored verbatim
  // The effective settings that shape the trajectory (flag -> value text, train/run_config.h),
  // compared on resume; stored as a JSON object under "shears.train_config" when non-empty.
  std::map<std::string, std::string> run_config;
};

// What a checkpoint needs of an optimizer. `tensors` are live handles (AdamW::state(),
// SGD::state()): loading copies the file's values into them.
struct OptimizerState {
  std::string kind;  // "adamw" / "sgd"; checked against the file on load when both are set
  TensorList tensors;
  int64_t steps = 0;
  double lr = 0.0;
};
OptimizerState optimizer_state(const AdamW& opt);
OptimizerState optimizer_state(const SGD& opt);

// Writes model + optimizer + counters atomically (write_safetensors: temp file, fsync,
// rename), so an interrupted or failed write leaves the previous checkpoint at `path` intact.
// Refuses (throws before writing, naming the first bad tensor, "model.<name>" or "optim.<i>")
// when a weight or optimizer tensor holds NaN/inf: a diverged run never overwrites the last good
// state.
void save_train_state(const std::string& path, const nn::VisionTransformer& model, const OptimizerState& optimizer,
                      const TrainState& state);
void save_train_state(const std::string& path, const nn::VisionTransformer& model, const AdamW& optimizer,
                      const TrainState& state);
void save_train_state(const std::string& path, const nn::VisionTransformer& model, const SGD& optimizer,
                      const TrainState& state);

// Restores the model weights and the optimizer tensors in place and returns the counters;
// optimizer.steps and optimizer.lr receive the saved values; a prune log in the file replaces
// model.prune_log. Everything is validated before anything is copied (the optimizer kind,
// tensor count and shapes, the prune log, the extensions, and a strict model load listing every
// missing/unexpected/mis-shaped key), so a failed load leaves model and optimizer untouched.
// Extensions are not re-created here (train/ does not know them): the model must already carry
// the kinds the file was saved with, as many of each, and no others, or the load fails naming the
// file and the kind. Their state (e.g. a token keep rate a schedule sets) is the caller's.
// Errors are "[train_state] <path>: <problem>".
TrainState load_train_state(const std::string& path, nn::VisionTransformer& model, OptimizerState& optimizer);
// The same, also restoring the optimizer's step count (set_steps) and lr (set_lr).
TrainState load_train_state(const std::string& path, nn::VisionTransformer& model, AdamW& optimizer);
TrainState load_train_state(const std::string& path, nn::VisionTransformer& model, SGD& optimizer);

// Only the counters (reads just the header), e.g. to decide whether to resume.
TrainState read_train_state(const std::string& path);

// state.rng[name] = gen.offset() and state.rng[name + ".seed"] = gen.seed().
void save_generator(TrainState& state, const std::string& name, const Generator& gen);
// gen.set_offset(state.rng[name]); throws when the entry is missing or the saved seed
// differs from gen.seed() (a resumed run must use the seeds it started with).
void restore_generator(const TrainState& state, const std::string& name, Generator& gen);

}  // namespace shears::train
