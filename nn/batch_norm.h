// BatchNorm over the last (channel) dim of channels-last input (..., C), as PyTorch's BatchNorm2d:
// training mode normalises with the batch statistics and updates running_mean / running_var
// (unbiased) with `momentum` outside the graph; eval mode uses the running statistics.
#pragma once
#include "nn/module.h"

namespace shears::nn {

class BatchNorm : public Module {
 public:
  explicit BatchNorm(int64_t channels, double eps = 1e-5, double momentum = 0.1);
  Tensor forward(const Tensor& x);  // x: (..., C) -> (..., C); training mode updates the running stats
  int64_t channels() const { return weight.size(0); }

  double eps, momentum;
  Tensor weight, bias;                 // (C,) parameters: 1 and 0 at init
  Tensor running_mean, running_var;    // (C,) plain tensors (not parameters): 0 and 1 at init
  int64_t num_batches_tracked = 0;     // training forwards seen
};

}  // namespace shears::nn
