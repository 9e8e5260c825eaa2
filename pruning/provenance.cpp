// Rebuilding pruned models from checkpoints (see provenance.h).
#include "pruning/provenance.h"

#include "pruning/token_pruning.h"
#include "tensor/kernels.h"

namespace shears::pruning {

bool restore_extension(nn::VisionTransformer& model, const std::string& kind, const std::string& json) {
  if (kind == "token_pruning") {
    const TokenPruningConfig cfg = token_pruning_config_from_json(json);
    // no locations left (surgery dropped every pruning block): nothing prunes; installing with
    // empty locations would mean the default ones
    if (!cfg.locations.empty()) install_token_pruning(model, cfg);
    return true;
  }
  return false;
}

std::shared_ptr<nn::VisionTransformer> load_model(const std::string& path) {
  return nn::load_model(path, restore_extension);
}

std::shared_ptr<nn::VisionTransformer> clone_model(const nn::VisionTransformer& model) {
  auto copy = std::make_shared<nn::VisionTransformer>(model.config());
  const auto params = model.named_parameters();
  SHEARS_CHECK(params.size() == copy->named_parameters().size(), "clone_model", "the model has ", params.size(),
               " parameters, a model built from its config has ", copy->named_parameters().size());
  for (const auto& [name, t] : params) {
    Tensor* slot = copy->find_parameter(name);
    SHEARS_CHECK(slot != nullptr && slot->shape() == t.shape(), "clone_model", "parameter '", name, "' of shape ",
                 shape_str(t.shape()), " has no slot of that shape in a model built from the config");
    *slot = kernels::clone(t);
    slot->set_requires_grad(t.requires_grad());
  }
  copy->prune_log = model.prune_log;
  for (const auto& ext : model.extensions) {
    std::string json;
    try {
      json = ext->to_json();
    } catch (const Error& e) {
      fail("clone_model", "cannot copy extension '", ext->kind(), "': ", e.what());
    }
    SHEARS_CHECK(restore_extension(*copy, ext->kind(), json), "clone_model", "no restorer for extension '",
                 ext->kind(), "'");
  }
  copy->train(model.is_training());
  return copy;
}

}  // namespace shears::pruning
