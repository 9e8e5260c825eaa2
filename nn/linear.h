// Linear layer y = x W^T + b (timm/PyTorch layout: weight (out, in)), on the fused
// linear op; LayerNorm over the last dim.
#pragma once
#include "nn/module.h"
#include "tensor/random.h"

namespace shears::nn {

class Linear : public Module {
 public:
  // weight ~ trunc_normal(0.02), bias = 0 (timm ViT init)
  Linear(int64_t in_features, int64_t out_features, bool bias, Generator& gen);
  Tensor forward(const Tensor& x) const;  // x: (..., in) -> (..., out)
  int64_t in_features() const { return weight.size(1); }
  int64_t out_features() const { return weight.size(0); }

  Tensor weight;  // (out, in)
  Tensor bias;    // (out,) or undefined
};

class LayerNorm : public Module {
 public:
  LayerNorm(int64_t dim, double eps);
  Tensor forward(const Tensor& x) const;  // normalizes the last dim
  double eps;
  Tensor weight, bias;  // (dim,)
};

}  // namespace shears::nn
