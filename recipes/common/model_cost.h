// What a (pruned) model costs per input, read off the model itself: parameters from its real
// shapes and fvcore GFLOPs from its config plus the token counts its token pruning produced in a
// forward of a given batch (pruned models differ in shapes AND in tokens per block). Also the
// fixed batch recipes time models on.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "data/dataset.h"
#include "nn/flop_count.h"
#include "nn/vision_transformer.h"
#include "tensor/profile.h"

namespace shears::recipes {

struct ModelCost {
  int64_t params = 0;  // parameters stored (count_parameters of the current config)
  double gflops = 0;   // per input, fvcore convention
  // The same GFLOPs by the kernel category of tensor/profile.h that runs them, so that a profile's per-category
  // speedups can be set beside per-category FLOP ratios (bench_pruned --profile): the Linear layers, the patch
  // embedding and the head (GEMM); QK^T and AV (attention core); the layer norms (layer norm). They add up to gflops.
  // Work the convention does not count (GELU inside the GEMM category's epilogue, the softmax inside the attention
  // core, residual adds) is not in any of them.
  double gflops_linear = 0;
  double gflops_attention = 0;
  double gflops_norm = 0;
};

// The cost of a model with `params` parameters and FLOP report `flops` (nn/flop_count.h).
ModelCost cost_from_flops(int64_t params, const nn::FlopReport& flops);

// Markdown table setting each pruned-vs-original speedup measured by a profile (tensor/profile.h; `*_steps`
// forwards each) beside the FLOP ratio of the work that category runs: Linear layers (GEMM), attention matmuls
// (attention core), layer norms, and the whole forward (wall time vs total FLOPs). "-" where a side has no time or
// no FLOPs. Shows where a realized speedup falls short of the FLOP count. When both reports hold GEMM shapes
// (profile::GemmShape), a paragraph follows: each model's Linear-layer rate (GFLOP/s) and the other model's forward
// time and speedup were its Linear layers as fast per flop as the base's.
std::string flop_reconciliation_markdown(const ModelCost& base_cost, const profile::Report& base, int64_t base_steps,
                                         const ModelCost& other_cost, const profile::Report& other,
                                         int64_t other_steps);

// Runs one no-grad eval forward of the first input of `batch` (B, ...) when the model has token
// pruning installed (to read its token counts), else counts from the config alone. Leaves the model
// in the train/eval mode it was in.
ModelCost model_cost(nn::VisionTransformer& model, const Tensor& batch);

// The first `count` inputs of `data` after `transform`, as one batch; zeros of the model's input
// shape when `data` is null (throughput without data).
Tensor first_inputs(std::shared_ptr<const data::Dataset> data, const data::Transform& transform,
                    const nn::ModelConfig& cfg, int64_t count);

}  // namespace shears::recipes
