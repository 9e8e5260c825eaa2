// Conv2d module on channels-last input (B, H, W, in) -> (B, H, W, out): k x k kernel (k odd),
// stride 1, "same" zero padding, PyTorch weight layout (out, in, k, k) and PyTorch's default
// init (kaiming-uniform a = sqrt(5): weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))).
#pragma once
#include "nn/module.h"
#include "tensor/random.h"

namespace shears::nn {

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, bool bias, Generator& gen);
  Tensor forward(const Tensor& x) const;  // x: (B, H, W, in) -> (B, H, W, out)
  int64_t in_channels() const { return weight.size(1); }
  int64_t out_channels() const { return weight.size(0); }
  int64_t kernel_size() const { return weight.size(2); }

  Tensor weight;  // (out, in, k, k)
  Tensor bias;    // (out,) or undefined
};

// PyTorch's default init of Linear/Conv weights (kaiming_uniform_ with a = sqrt(5)) and biases:
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) of `shape`.
Tensor torch_default_uniform(const Shape& shape, int64_t fan_in, Generator& gen);

}  // namespace shears::nn
