// Criteria: what a structural transform ranks by, one small class each (Torch-Pruning's split of
// criterion / selection / surgery). A BlockCriterion scores whole blocks, a NeuronCriterion the MLP
// hidden neurons of every block, a HeadCriterion the attention heads of every block. Criteria are
// found by name in open registries: user code and tests add their own with register_* (no enum or
// switch in pruning/ to edit). A name may carry one argument after a colon ("random:7").
// Built-ins (registered by block_criteria.cpp / neuron_criteria.cpp):
//   block:  entropy, mean, variance, std, l1, l2, kurtosis, mi (Gardener's data-free statistics,
//           block_ranking.h; kurtosis and mi remove the highest first), random[:<seed>],
//           sensitivity (accuracy drop of each single-block removal, by PruneContext::evaluate)
//   neuron: magnitude (L2 norm of the neuron's fc1 row and fc2 column together), random[:<seed>]
//   head:   magnitude (L2 norm of the head's q, k, v rows and proj columns together), random[:<seed>]
//   neuron and head: taylor (taylor_criteria.cpp: mean over calibration batches of |sum g * dL/dg| over
//           the unit's gate entries; needs PruneContext::calibration)
// Data-driven criteria (Taylor, sensitivity) read PruneContext's calibration batches / evaluator.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nn/vision_transformer.h"

namespace shears::pruning {

struct PruneContext;  // pruning/transform.h

class BlockCriterion {
 public:
  virtual ~BlockCriterion() = default;
  virtual std::string name() const = 0;  // canonical, as make_block_criterion takes it
  // One score per block of the model as it is now.
  virtual std::vector<double> scores(const nn::VisionTransformer& model, PruneContext& ctx) const = 0;
  // false: the lowest-scoring block is removed first; true: the highest (kurtosis, mi).
  virtual bool removes_highest_first() const { return false; }
};

class NeuronCriterion {
 public:
  virtual ~NeuronCriterion() = default;
  virtual std::string name() const = 0;
  // Per block, one score per MLP hidden neuron; higher = more important (kept first).
  virtual std::vector<std::vector<double>> scores(const nn::VisionTransformer& model, PruneContext& ctx) const = 0;
};

class HeadCriterion {
 public:
  virtual ~HeadCriterion() = default;
  virtual std::string name() const = 0;
  // Per block, one score per attention head; higher = more important (kept first).
  virtual std::vector<std::vector<double>> scores(const nn::VisionTransformer& model, PruneContext& ctx) const = 0;
};

// Factories: without an argument, or taking the text after the colon ("random:7" -> "7"; "" when
// the name has no colon). Names are lower case [a-z0-9_]; registering a taken name throws.
using BlockCriterionFactory = std::function<std::shared_ptr<BlockCriterion>()>;
using BlockCriterionFactoryWithArgument = std::function<std::shared_ptr<BlockCriterion>(const std::string& argument)>;
using NeuronCriterionFactory = std::function<std::shared_ptr<NeuronCriterion>()>;
using NeuronCriterionFactoryWithArgument =
    std::function<std::shared_ptr<NeuronCriterion>(const std::string& argument)>;
using HeadCriterionFactory = std::function<std::shared_ptr<HeadCriterion>()>;
using HeadCriterionFactoryWithArgument = std::function<std::shared_ptr<HeadCriterion>(const std::string& argument)>;

void register_block_criterion(const std::string& name, BlockCriterionFactory factory);
void register_block_criterion_with_argument(const std::string& name, BlockCriterionFactoryWithArgument factory);
void register_neuron_criterion(const std::string& name, NeuronCriterionFactory factory);
void register_neuron_criterion_with_argument(const std::string& name, NeuronCriterionFactoryWithArgument factory);
void register_head_criterion(const std::string& name, HeadCriterionFactory factory);
void register_head_criterion_with_argument(const std::string& name, HeadCriterionFactoryWithArgument factory);

// The criterion a name gives ("entropy", "random:7"; case-insensitive). Throws shears::Error
// "unknown block criterion 'foo'; known: ..." listing the registered names, or naming the bad
// argument ("criterion 'l1' takes no argument").
std::shared_ptr<BlockCriterion> make_block_criterion(const std::string& name);
std::shared_ptr<NeuronCriterion> make_neuron_criterion(const std::string& name);
std::shared_ptr<HeadCriterion> make_head_criterion(const std::string& name);

// Registered names, sorted (arguments shown as "random[:<arg>]").
std::vector<std::string> block_criterion_names();
std::vector<std::string> neuron_criterion_names();
std::vector<std::string> head_criterion_names();

// The seed of a "random:<seed>" argument: a non-negative integer; "" gives nullopt (the criterion
// then uses PruneContext::seed). Throws naming `criterion` when the argument is not a number.
std::optional<uint64_t> parse_criterion_seed(const std::string& criterion, const std::string& argument);

}  // namespace shears::pruning
