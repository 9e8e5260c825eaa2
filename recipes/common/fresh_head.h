// A copy of a model for a new label set: the same backbone weights, a freshly initialised
// classifier head for `num_classes` (transfer to a new task: P3B's target classes).
#pragma once
#include <cstdint>
#include <memory>

#include "nn/vision_transformer.h"

namespace shears::recipes {

// Builds the model's current config with `num_classes`, copies every parameter except head.*
// by name, and initialises the head from `seed`. The prune log is copied; extensions are not
// (a model with token pruning installed is refused).
std::shared_ptr<nn::VisionTransformer> with_fresh_head(const nn::VisionTransformer& model, int64_t num_classes,
                                                       uint64_t seed);

}  // namespace shears::recipes
