// Model checkpoints: a safetensors file holding the weights and, in __metadata__, the
// model's own configuration ("shears.config": ModelConfig JSON, per-block widths
// included), so any model, pruned ones too, reloads from the file alone with the
// preprocessing (mean/std, input size) it was trained with.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "nn/vision_transformer.h"

namespace shears::nn {

// Writes weights + config atomically (temp file + rename). `extra` metadata is kept.
void save_model(const std::string& path, const VisionTransformer& model,
                const std::map<std::string, std::string>& extra = {});

// Rebuilds the model from the file's config and loads its weights strictly.
std::shared_ptr<VisionTransformer> load_model(const std::string& path);

// The config stored in a checkpoint (throws naming the file when there is none).
ModelConfig read_model_config(const std::string& path);

}  // namespace shears::nn
