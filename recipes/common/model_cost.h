// What a (pruned) model costs per input, read off the model itself: parameters from its real
// shapes and fvcore GFLOPs from its config plus the token counts its token pruning produced in a
// forward of a given batch (pruned models differ in shapes AND in tokens per block). Also the
// fixed batch recipes time models on.
#pragma once
#include <cstdint>
#include <memory>

#include "data/dataset.h"
#include "nn/vision_transformer.h"

namespace shears::recipes {

struct ModelCost {
  int64_t params = 0;  // parameters stored (count_parameters of the current config)
  double gflops = 0;   // per input, fvcore convention
};

// Runs one no-grad eval forward of the first input of `batch` (B, ...) when the model has token
// pruning installed (to read its token counts), else counts from the config alone. Leaves the model
// in the train/eval mode it was in.
ModelCost model_cost(nn::VisionTransformer& model, const Tensor& batch);

// The first `count` inputs of `data` after `transform`, as one batch; zeros of the model's input
// shape when `data` is null (throughput without data).
Tensor first_inputs(std::shared_ptr<const data::Dataset> data, const data::Transform& transform,
                    const nn::ModelConfig& cfg, int64_t count);

}  // namespace shears::recipes
