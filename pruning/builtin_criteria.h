// The built-in criteria, as (name, takes_argument, factory) lists the registries of criterion.cpp
// start from. Internal to pruning/: user code registers its own with register_*_criterion.
#pragma once
#include <string>
#include <vector>

#include "pruning/criterion.h"

namespace shears::pruning::detail {

template <typename Factory>
struct BuiltinCriterion {
  std::string name;
  bool takes_argument = false;
  Factory factory;  // called with "" when takes_argument is false
};

std::vector<BuiltinCriterion<BlockCriterionFactoryWithArgument>> builtin_block_criteria();    // block_criteria.cpp
std::vector<BuiltinCriterion<NeuronCriterionFactoryWithArgument>> builtin_neuron_criteria();  // neuron_criteria.cpp
std::vector<BuiltinCriterion<HeadCriterionFactoryWithArgument>> builtin_head_criteria();      // neuron_criteria.cpp
// Gradient-driven criteria (taylor_criteria.cpp), listed by builtin_neuron_criteria / builtin_head_criteria.
BuiltinCriterion<NeuronCriterionFactoryWithArgument> taylor_neuron_criterion();
BuiltinCriterion<HeadCriterionFactoryWithArgument> taylor_head_criterion();
// AMP's per-sample Taylor scores (amp_criterion.cpp), listed by builtin_neuron_criteria.
BuiltinCriterion<NeuronCriterionFactoryWithArgument> entropy_taylor_neuron_criterion();
BuiltinCriterion<NeuronCriterionFactoryWithArgument> ce_taylor_neuron_criterion();

}  // namespace shears::pruning::detail
