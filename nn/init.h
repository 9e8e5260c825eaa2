// Parameter initializers (timm conventions): truncated normal, constants.
#pragma once
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace shears::nn {

// N(0, std^2) truncated to [-2 std, 2 std] by redrawing the outliers (timm trunc_normal_).
Tensor trunc_normal(const Shape& shape, double std, Generator& gen);

}  // namespace shears::nn
