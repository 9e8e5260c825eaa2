// Provenance: a pruned checkpoint rebuilds the pruned model from the file alone. nn::load_model
// restores the shapes (config), weights and prune log; pruning::load_model also re-installs the
// model extensions that pruning/ writes (token pruning: policy, keep rate, current locations,
// fusion, seed), so a token-pruned, fine-tuned model reloads token-pruned.
#pragma once
#include <memory>
#include <string>

#include "nn/checkpoint.h"
#include "nn/vision_transformer.h"

namespace shears::pruning {

// The ExtensionRestorer for every extension kind pruning/ defines ("token_pruning"); returns
// false for other kinds. Throws when the JSON is malformed or does not fit the model.
bool restore_extension(nn::VisionTransformer& model, const std::string& kind, const std::string& json);

// nn::load_model(path, restore_extension): the pruned model exactly as it was saved (the random
// token policy's forward counter restarts at 0). Throws naming the file on any problem.
std::shared_ptr<nn::VisionTransformer> load_model(const std::string& path);

// An independent deep copy by the same route as save + load, without a file: a model built from
// model.config(), every parameter cloned by name (requires_grad kept), the prune log copied and the
// extensions re-created from their JSON (restore_extension), train/eval mode kept. Throws when a
// parameter has no slot in the rebuilt model or an extension cannot be serialised (custom policy).
std::shared_ptr<nn::VisionTransformer> clone_model(const nn::VisionTransformer& model);

}  // namespace shears::pruning
