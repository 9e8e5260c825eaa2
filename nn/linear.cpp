// Linear and LayerNorm modules (see linear.h).
#include "nn/linear.h"

#include "autograd/ops.h"
#include "nn/init.h"

namespace shears::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool with_bias, Generator& gen) {
  weight = trunc_normal({out_features, in_features}, 0.02, gen);
  register_parameter("weight", &weight);
  if (with_bias) {
    bias = zeros({out_features});
    register_parameter("bias", &bias);
  }
}

Tensor Linear::forward(const Tensor& x) const { return linear(x, weight, bias); }

LayerNorm::LayerNorm(int64_t dim, double eps_) : eps(eps_) {
  weight = ones({dim});
  bias = zeros({dim});
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Tensor LayerNorm::forward(const Tensor& x) const { return layer_norm(x, weight, bias, eps); }

}  // namespace shears::nn
