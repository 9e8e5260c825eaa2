// Parameter and FLOP cost of a model as it is (see model_cost.h).
#include "common/model_cost.h"

#include <algorithm>

#include "autograd/ops.h"
#include "data/data_loader.h"
#include "nn/flop_count.h"
#include "pruning/token_pruning.h"
#include "tensor/creation.h"

namespace shears::recipes {

ModelCost model_cost(nn::VisionTransformer& model, const Tensor& batch) {
  const nn::ModelConfig cfg = model.config();
  ModelCost c;
  c.params = nn::count_parameters(cfg);
  std::shared_ptr<pruning::TokenPruning> tokens = pruning::find_token_pruning(model);
  if (!tokens) {
    c.gflops = nn::count_flops(cfg).total / 1e9;
    return c;
  }
  const bool was_training = model.is_training();
  model.eval();
  {
    NoGradGuard no_grad;
    model.forward(narrow(batch, 0, 0, 1));
  }
  model.train(was_training);
  c.gflops = nn::count_flops(cfg, tokens->last_token_counts()).total / 1e9;
  return c;
}

Tensor first_inputs(std::shared_ptr<const data::Dataset> data, const data::Transform& transform,
                    const nn::ModelConfig& cfg, int64_t count) {
  SHEARS_CHECK(count >= 1, "first_inputs", "need count >= 1, got ", count);
  if (!data) {
    Shape shape = cfg.arch == "videomae" ? Shape{count, cfg.in_chans, cfg.frames, cfg.image_size, cfg.image_size}
                                         : Shape{count, cfg.in_chans, cfg.image_size, cfg.image_size};
    return zeros(shape);
  }
  SHEARS_CHECK(data->size() >= 1, "first_inputs", "the data set is empty: ", data->describe());
  data::LoaderOptions o;
  o.batch_size = std::min<int64_t>(count, data->size());
  o.shuffle = false;
  o.drop_last = false;
  data::DataLoader loader(data, o, transform);
  loader.start_epoch(0);
  data::Batch b;
  loader.next(b);
  return b.inputs;
}

}  // namespace shears::recipes
