// Save + reload check of a pruned model (see saved_model_check.h).
#include "common/saved_model_check.h"

#include <vector>

#include "autograd/node.h"
#include "nn/checkpoint.h"
#include "pruning/provenance.h"
#include "tensor/kernels.h"

namespace shears::recipes {

namespace {

// Logits of `model` on `images`, eval mode, no grad (the mode is restored).
std::vector<float> logits_of(nn::VisionTransformer& model, const Tensor& images) {
  NoGradGuard ng;
  const bool was = model.is_training();
  model.eval();
  Tensor l = kernels::contiguous(model.forward(images));
  model.train(was);
  return std::vector<float>(l.data<float>(), l.data<float>() + l.numel());
}

}  // namespace

void save_and_check_reload(nn::VisionTransformer& model, const std::string& path, const Tensor& images,
                           const std::map<std::string, std::string>& extra, const char* prog) {
  nn::save_model(path, model, extra);
  auto back = pruning::load_model(path);
  SHEARS_CHECK(back->config().blocks.size() == model.config().blocks.size(), prog, "reload of ", path, " changed the depth");
  for (size_t i = 0; i < model.config().blocks.size(); ++i)
    SHEARS_CHECK(back->config().blocks[i].mlp_hidden == model.config().blocks[i].mlp_hidden, prog, "reload of ", path,
                 " changed block ", i, "'s MLP width");
  SHEARS_CHECK(back->prune_log == model.prune_log, prog, "reload of ", path, " changed the prune log");
  SHEARS_CHECK(logits_of(*back, images) == logits_of(model, images), prog, "reload of ", path,
               " does not reproduce the logits bitwise");
}

}  // namespace shears::recipes
