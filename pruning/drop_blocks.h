// Block removal, the structural transform behind Gardener and its baselines: deletes whole
// transformer blocks from a VisionTransformer (the rest of the network is unchanged) and
// renumbers the survivors 0..k-1, so parameter names, config(), the FLOP/parameter counts and
// saved checkpoints all describe the shallower model.
#pragma once
#include <cstdint>
#include <vector>

#include "nn/vision_transformer.h"

namespace shears::pruning {

// Removes the blocks at the given 0-based indices (any order) in place. An empty list changes
// nothing. Throws shears::Error naming the index and the depth when an index is out of range or
// repeated, or when every block would be removed; the model is untouched on error.
void drop_blocks(nn::VisionTransformer& model, const std::vector<int64_t>& indices);

// The 0-based indices kept when `indices` are removed from a model of `depth` blocks (same
// validation as drop_blocks).
std::vector<int64_t> kept_blocks(int64_t depth, const std::vector<int64_t>& indices);

}  // namespace shears::pruning
