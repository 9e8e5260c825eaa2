// Optimizer state that follows model surgery: given the ParameterSlices a surgery returned,
// renames, slices (same kept indices along the same dim) or drops each parameter's state
// tensors and rebinds the parameter handles to the model's current tensors by name. Shared by
// AdamW::apply_slices and SGD::apply_slices.
#pragma once
#include <vector>

#include "nn/module.h"
#include "nn/parameter_slice.h"
#include "train/adamw.h"

namespace shears::train {

// `groups` must carry parameter names (ParamGroup::names, filled by decay_groups and
// layer_decay_groups). `states[k][g][i]` is the k-th state tensor (AdamW: m, v; SGD: momentum)
// of parameter i of group g, shaped like the parameter. Slices are applied in order; a run of
// slices with distinct old names acts at once (so drop_blocks' renames blocks.3 -> blocks.2 and
// blocks.2 -> removed compose), and slices of several surgeries may be concatenated. Slices of
// parameters the optimizer does not hold are ignored. Throws naming `op` when a group has no
// names, a held parameter is missing from the model without a slice that removes it, two
// parameters would share a name, or a state no longer matches its parameter's shape; nothing
// is changed on error.
void follow_slices(const nn::Module& model, const std::vector<nn::ParameterSlice>& slices,
                   std::vector<ParamGroup>& groups, const std::vector<std::vector<std::vector<Tensor>>*>& states,
                   const char* op);

}  // namespace shears::train
