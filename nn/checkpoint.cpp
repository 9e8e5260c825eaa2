// Model checkpoints (see checkpoint.h).
#include "nn/checkpoint.h"

#include "nn/io/safetensors.h"
#include "nn/io/state_dict.h"

namespace shears::nn {

namespace {
const char* kConfigKey = "shears.config";
}

void save_model(const std::string& path, const VisionTransformer& model,
                const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> meta = extra;
  meta[kConfigKey] = model.config().to_json();
  meta["format"] = "pt";  // tensors use PyTorch names and layouts
  write_safetensors(path, state_dict(model), meta);
}

ModelConfig read_model_config(const std::string& path) {
  auto meta = read_safetensors_metadata(path);
  auto it = meta.find(kConfigKey);
  if (it == meta.end())
    fail("checkpoint", path, ": no '", kConfigKey,
         "' entry in the safetensors metadata; this file was not written by shears. Build the model from a "
         "preset and load the weights with load_safetensors instead");
  try {
    return ModelConfig::from_json(it->second);
  } catch (const Error& e) {
    fail("checkpoint", path, ": bad model config: ", e.what());
  }
}

std::shared_ptr<VisionTransformer> load_model(const std::string& path) {
  auto model = std::make_shared<VisionTransformer>(read_model_config(path));
  load_safetensors(*model, path, /*strict=*/true);
  return model;
}

}  // namespace shears::nn
