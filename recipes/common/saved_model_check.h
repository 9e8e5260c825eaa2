// Saving a pruned model and proving the file alone rebuilds it: pruning::load_model must give the
// same per-block MLP widths, the same prune log and bitwise the same logits on a fixed batch.
#pragma once
#include <map>
#include <string>

#include "nn/vision_transformer.h"
#include "tensor/tensor.h"

namespace shears::recipes {

// Saves `model` to `path` with `extra` metadata, reloads it and checks it; failures name `prog` and the file.
// images: (B, C, H, W) preprocessed.
void save_and_check_reload(nn::VisionTransformer& model, const std::string& path, const Tensor& images,
                           const std::map<std::string, std::string>& extra, const char* prog);

}  // namespace shears::recipes
