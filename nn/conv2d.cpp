// Conv2d module (see conv2d.h): the conv2d op with PyTorch's default initialisation.
#include "nn/conv2d.h"

#include <cmath>

#include "autograd/ops.h"

namespace shears::nn {

Tensor torch_default_uniform(const Shape& shape, int64_t fan_in, Generator& gen) {
  SHEARS_CHECK(fan_in >= 1, "torch_default_uniform", "fan_in must be >= 1, got ", fan_in, " for shape ",
               shape_str(shape));
  // kaiming_uniform_(a = sqrt(5)): gain sqrt(2 / (1 + 5)), bound = gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in)
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  return uniform(shape, -bound, bound, DType::F32, &gen);
}

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, bool with_bias, Generator& gen) {
  SHEARS_CHECK(in_channels >= 1 && out_channels >= 1 && kernel_size >= 1 && kernel_size % 2 == 1, "nn::Conv2d",
               "expected in/out channels >= 1 and an odd kernel size, got in ", in_channels, ", out ", out_channels,
               ", k ", kernel_size);
  const int64_t fan_in = in_channels * kernel_size * kernel_size;
  weight = torch_default_uniform({out_channels, in_channels, kernel_size, kernel_size}, fan_in, gen);
  register_parameter("weight", &weight);
  if (with_bias) {
    bias = torch_default_uniform({out_channels}, fan_in, gen);
    register_parameter("bias", &bias);
  }
}

Tensor Conv2d::forward(const Tensor& x) const { return conv2d(x, weight, bias); }

}  // namespace shears::nn
