// Model checkpoints (see checkpoint.h).
#include "nn/checkpoint.h"

#include "nn/io/safetensors.h"
#include "nn/io/state_dict.h"

namespace shears::nn {

namespace {

const char* kConfigKey = "shears.config";
const char* kPruneLogKey = "shears.prune_log";
const char* kExtensionsKey = "shears.extensions";

std::string key_where(const std::string& path, const char* key) {
  return str_cat(path, ": metadata '", key, "'");
}

}  // namespace

std::vector<PruneStep> prune_log_in(const std::map<std::string, std::string>& meta, const std::string& path) {
  auto it = meta.find(kPruneLogKey);
  if (it == meta.end()) return {};
  return prune_log_from_json(it->second, key_where(path, kPruneLogKey));
}

std::vector<SavedExtension> extensions_in(const std::map<std::string, std::string>& meta, const std::string& path) {
  auto it = meta.find(kExtensionsKey);
  if (it == meta.end()) return {};
  return extensions_from_json(it->second, key_where(path, kExtensionsKey));
}

std::map<std::string, std::string> model_metadata(const VisionTransformer& model, const std::string& path) {
  std::map<std::string, std::string> meta;
  meta[kConfigKey] = model.config().to_json();
  if (!model.prune_log.empty()) meta[kPruneLogKey] = prune_log_to_json(model.prune_log);
  if (!model.extensions.empty()) {
    try {
      meta[kExtensionsKey] = extensions_to_json(model.extensions);
    } catch (const Error& e) {
      fail("save_model", path, ": cannot save the model's extensions: ", e.what());
    }
  }
  return meta;
}

void save_model(const std::string& path, const VisionTransformer& model,
                const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> meta = extra;
  for (auto& [key, value] : model_metadata(model, path)) meta[key] = value;
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

std::vector<PruneStep> read_prune_log(const std::string& path) {
  return prune_log_in(read_safetensors_metadata(path), path);
}

std::shared_ptr<VisionTransformer> load_model(const std::string& path, const ExtensionRestorer& restorer) {
  const auto meta = read_safetensors_metadata(path);
  // parse everything before building, so a bad file fails fast
  std::vector<PruneStep> log = prune_log_in(meta, path);
  std::vector<SavedExtension> saved = extensions_in(meta, path);
  for (const auto& ext : saved)
    SHEARS_CHECK(restorer, "load_model", path, ": the model carries extension '", ext.kind,
                 "', which nn::load_model cannot restore; load it with pruning::load_model (pruning/provenance.h) "
                 "so it does not silently run without it");

  auto model = std::make_shared<VisionTransformer>(read_model_config(path));
  load_safetensors(*model, path, /*strict=*/true);
  model->prune_log = std::move(log);
  for (const auto& ext : saved) {
    bool restored = false;
    try {
      restored = restorer(*model, ext.kind, ext.json);
    } catch (const Error& e) {
      fail("load_model", path, ": cannot restore extension '", ext.kind, "': ", e.what());
    }
    SHEARS_CHECK(restored, "load_model", path, ": no restorer for extension '", ext.kind,
                 "'; load it with pruning::load_model (pruning/provenance.h), which knows every extension shears "
                 "writes");
  }
  return model;
}

}  // namespace shears::nn
