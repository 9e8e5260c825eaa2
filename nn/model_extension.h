// ModelExtension: runtime state attached to a model that is not a weight (token pruning hooks)
// but is part of what the model computes. The model keeps its extensions; save_model writes each
// one's kind and JSON state ("shears.extensions") and load_model hands them to an
// ExtensionRestorer that re-creates them on the loaded model (pruning::load_model knows them all).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace shears::nn {

class VisionTransformer;

class ModelExtension {
 public:
  virtual ~ModelExtension() = default;
  virtual std::string kind() const = 0;     // e.g. "token_pruning"
  // A JSON object with everything needed to re-create the extension on the model as it is now.
  // Throws shears::Error when the state cannot be serialised (e.g. a custom token policy).
  virtual std::string to_json() const = 0;
};

// Re-creates the extension `kind` from its JSON on a loaded model; returns false when it does
// not know `kind` (load_model then fails naming the file and the kind).
using ExtensionRestorer =
    std::function<bool(VisionTransformer& model, const std::string& kind, const std::string& json)>;

// One saved extension.
struct SavedExtension {
  std::string kind;
  std::string json;  // a JSON object
};

// JSON array of {"kind": ..., "state": {...}}. Throws naming the kind when an extension's
// to_json() fails or is not a JSON object.
std::string extensions_to_json(const std::vector<std::shared_ptr<ModelExtension>>& extensions);
// Parses extensions_to_json's output; throws starting with `where` when it is malformed.
std::vector<SavedExtension> extensions_from_json(const std::string& json, const std::string& where);

}  // namespace shears::nn
