// Transforms: every pruning method as one interface. A Transform is applied to a model in place
// with a PruneContext (calibration data, evaluator, seed, a surgery callback for optimizers) and
// returns the nn::PruneStep it did; apply_all runs a list in order and appends each step to the
// model's prune log. A transform = criterion (criterion.h) + selection (here) + surgery
// (surgery.h) or token pruning (token_pruning.h). parse_steps reads the step grammar of
// docs/transforms.md ("blocks:entropy:k=2,mlp:magnitude:keep=0.5,tokens:renyi:2@0.7").
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nn/parameter_slice.h"
#include "nn/prune_log.h"
#include "nn/vision_transformer.h"
#include "pruning/criterion.h"
#include "pruning/token_pruning.h"
#include "pruning/training_hooks.h"

namespace shears::pruning {

struct CalibrationBatch {
  Tensor inputs;  // (B, C, H, W) or clips, preprocessed (model.normalize applied)
  Tensor labels;  // (B,) i64
};

struct PruneContext {
  std::vector<CalibrationBatch> calibration;              // for data-driven criteria (Taylor, sensitivity)
  std::vector<CalibrationBatch> validation;               // fixed batches for searches (AMP: labels unused)
  std::function<double(nn::VisionTransformer&)> evaluate;  // held-out top-1, optional
  // Called after every surgery with the slices it made (optimizers follow with apply_slices).
  std::function<void(nn::VisionTransformer&, const std::vector<nn::ParameterSlice>&)> on_surgery;
  uint64_t seed = 0;  // for criteria named without a seed ("random")
  // Called by apply_all after each step is applied and logged (progress lines, snapshots, measurements);
  // `index` is 0-based. An exception from it stops apply_all.
  std::function<void(nn::VisionTransformer&, const nn::PruneStep&, size_t index)> after_step;
  // Trains the model with a transform's hooks (P3B's pruning run) on the caller's data; set by recipes
  // (recipes/common/p3b_training.h: training_runner). A transform that needs it throws when it is empty.
  std::function<void(nn::VisionTransformer&, TrainingHooks&)> train;
};

class Transform {
 public:
  virtual ~Transform() = default;
  virtual std::string name() const = 0;  // the canonical step text ("blocks:entropy:k=2")
  // Applies the transform in place and returns what it did (apply_all appends it to the log).
  virtual nn::PruneStep apply(nn::VisionTransformer& model, PruneContext& ctx) = 0;
};

// Applies the transforms in order, appending each step to model.prune_log, and returns the steps.
// An error names the step ("step 2 'blocks:l1:k=9': ..."); the steps before it stay applied and logged.
std::vector<nn::PruneStep> apply_all(nn::VisionTransformer& model, const std::vector<std::shared_ptr<Transform>>& steps,
                                     PruneContext& ctx);

// Removes the k blocks the criterion ranks for removal first (block_ranking.h's removal_order:
// lowest scores first, or highest for removes_highest_first(); ties: lower index first).
// Step: kind "drop_blocks", params {criterion, k, scores, removed}, kept {"blocks": kept indices}.
class BlockRemoval : public Transform {
 public:
  BlockRemoval(std::shared_ptr<BlockCriterion> criterion, int64_t k);  // k >= 0
  std::string name() const override;
  nn::PruneStep apply(nn::VisionTransformer& model, PruneContext& ctx) override;

 private:
  std::shared_ptr<BlockCriterion> criterion_;
  int64_t k_;
};

// Keeps, in every block, the highest-scoring MLP hidden neurons (ties: lower index first):
// either round(keep_ratio * H) of the block's H (half away from zero, at least 1), or the given
// per-block widths (one per block of the model at apply time; a width equal to H leaves the block).
// Step: kind "prune_mlp", params {criterion, keep_ratio | widths}, kept {"blocks.<b>.mlp": neurons}.
class MlpNeuronPruning : public Transform {
 public:
  MlpNeuronPruning(std::shared_ptr<NeuronCriterion> criterion, double keep_ratio);  // (0, 1]
  MlpNeuronPruning(std::shared_ptr<NeuronCriterion> criterion, std::vector<int64_t> widths);
  std::string name() const override;  // "mlp:<criterion>:keep=<ratio>" or "mlp:<criterion>:widths=a;b;c"
  nn::PruneStep apply(nn::VisionTransformer& model, PruneContext& ctx) override;

 private:
  std::shared_ptr<NeuronCriterion> criterion_;
  std::optional<double> keep_ratio_;
  std::vector<int64_t> widths_;
};

// Keeps the `heads` highest-scoring attention heads of every block (blocks with fewer heads are
// left as they are). Step: kind "prune_heads", params {criterion, heads}, kept {"blocks.<b>.attn.heads"}.
class HeadPruning : public Transform {
 public:
  HeadPruning(std::shared_ptr<HeadCriterion> criterion, int64_t heads);  // heads >= 1
  std::string name() const override;  // "heads:<criterion>:keep=<n>"
  nn::PruneStep apply(nn::VisionTransformer& model, PruneContext& ctx) override;

 private:
  std::shared_ptr<HeadCriterion> criterion_;
  int64_t heads_;
};

// Installs token pruning (install_token_pruning; an error when the model already has it).
// Step: kind "token_pruning", params = token_pruning_config_to_json of the installed config
// (fuse resolved, locations as installed).
class TokenPruningTransform : public Transform {
 public:
  explicit TokenPruningTransform(TokenPruningConfig cfg);
  std::string name() const override;  // "tokens:<policy>@<keep>[:locations=a;b][:fuse=0|1][:seed=n]"
  nn::PruneStep apply(nn::VisionTransformer& model, PruneContext& ctx) override;
  const TokenPruningConfig& config() const { return cfg_; }

 private:
  TokenPruningConfig cfg_;
};

// Parses comma-separated steps (spaces around steps ignored):
//   blocks:<block criterion>:k=<n>                 e.g. blocks:entropy:k=2, blocks:random:7:k=3
//   mlp:<neuron criterion>:keep=<ratio in (0, 1]>  e.g. mlp:magnitude:keep=0.5
//   heads:<head criterion>:keep=<n >= 1>           e.g. heads:magnitude:keep=4
//   mlp:amp:delta=<d >= 0>[:tau=<t>][:steps=<n>]   AMP (amp.h); needs calibration and validation batches
//   tokens:<policy>@<keep rate in (0, 1]>[:locations=<i;j;...>][:fuse=0|1][:seed=<n>]
//   p3b:ratio=<r in [0, 1)>[:epochs=<n>][:allocation=benefit|uniform][:reactivation=0|1][:interval=<n>]
//                                                 P3B (p3b_transform.h); needs PruneContext::train
// Criteria are made (and so checked) at parse time. Every error starts with the step number and
// text and says what was expected: "step 2 'blocks:foo:k=2': unknown block criterion 'foo'; known: ...".
std::vector<std::shared_ptr<Transform>> parse_steps(const std::string& text);
// One step without the "step N" prefix in errors (throws "'<text>': ...").
std::shared_ptr<Transform> parse_step(const std::string& text);

// Shortest decimal text that parses back to exactly `value` ("0.7", "2", "0.333...").
std::string format_number(double value);

}  // namespace shears::pruning
