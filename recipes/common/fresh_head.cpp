// Backbone copy with a fresh classifier head (see fresh_head.h).
#include "common/fresh_head.h"

#include "tensor/kernels.h"

namespace shears::recipes {

std::shared_ptr<nn::VisionTransformer> with_fresh_head(const nn::VisionTransformer& model, int64_t num_classes,
                                                       uint64_t seed) {
  SHEARS_CHECK(num_classes >= 1, "with_fresh_head", "number of classes ", num_classes, " must be >= 1");
  SHEARS_CHECK(model.extensions.empty(), "with_fresh_head",
               "the model has runtime extensions (token pruning); copy it with pruning::clone_model instead");
  nn::ModelConfig cfg = model.config();
  cfg.num_classes = num_classes;
  auto out = std::make_shared<nn::VisionTransformer>(cfg, seed);
  for (const auto& [name, tensor] : model.named_parameters()) {
    if (name.rfind("head.", 0) == 0) continue;
    Tensor* slot = out->find_parameter(name);
    SHEARS_CHECK(slot != nullptr && slot->shape() == tensor.shape(), "with_fresh_head", "parameter '", name,
                 "' has no counterpart of the same shape in the rebuilt model");
    kernels::copy_(*slot, tensor);
  }
  out->prune_log = model.prune_log;
  out->train(model.is_training());
  return out;
}

}  // namespace shears::recipes
