// BatchNorm module (see batch_norm.h): the batch_norm op in training mode, plain ops in eval mode.
#include "nn/batch_norm.h"

#include "autograd/ops.h"

namespace shears::nn {

BatchNorm::BatchNorm(int64_t channels, double eps_, double momentum_) : eps(eps_), momentum(momentum_) {
  SHEARS_CHECK(channels >= 1 && eps_ >= 0.0 && momentum_ >= 0.0 && momentum_ <= 1.0, "nn::BatchNorm",
               "expected channels >= 1, eps >= 0 and momentum in [0, 1], got ", channels, ", ", eps_, ", ", momentum_);
  weight = ones({channels});
  bias = zeros({channels});
  running_mean = zeros({channels});
  running_var = ones({channels});
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
  register_buffer("running_mean", &running_mean);
  register_buffer("running_var", &running_var);
}

Tensor BatchNorm::forward(const Tensor& x) {
  SHEARS_CHECK(x.dim() >= 1 && x.size(-1) == channels(), "nn::BatchNorm", "expected x (..., ", channels(),
               ") channels-last, got ", shape_str(x.shape()));
  if (!is_training()) {
    // y = (x - running_mean) * weight / sqrt(running_var + eps) + bias
    Tensor scale = weight * rsqrt(to_dtype(running_var, weight.dtype()) + eps);
    Tensor y = (to_dtype(x, weight.dtype()) - to_dtype(running_mean, weight.dtype())) * scale + bias;
    return to_dtype(y, x.dtype());
  }
  Tensor w = to_dtype(weight, x.dtype()), b = to_dtype(bias, x.dtype());
  Tensor batch_mean, batch_var;
  Tensor y = batch_norm(x, w, b, eps, &batch_mean, &batch_var);
  // running = (1 - momentum) * running + momentum * batch (PyTorch, unbiased variance), outside the graph
  kernels::axpby_(running_mean, momentum, kernels::to_dtype(batch_mean, running_mean.dtype()), 1.0 - momentum);
  kernels::axpby_(running_var, momentum, kernels::to_dtype(batch_var, running_var.dtype()), 1.0 - momentum);
  ++num_batches_tracked;
  return y;
}

}  // namespace shears::nn
