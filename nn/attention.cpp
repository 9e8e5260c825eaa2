// Attention and Mlp modules (see attention.h).
#include "nn/attention.h"

#include <cmath>

#include "autograd/ops.h"

namespace shears::nn {

Attention::Attention(int64_t dim, int64_t heads_, int64_t head_dim_, QkvBias bias, Generator& gen)
    : heads(heads_), head_dim(head_dim_) {
  const int64_t w = heads * head_dim;
  qkv = std::make_shared<Linear>(dim, 3 * w, bias == QkvBias::Full, gen);
  proj = std::make_shared<Linear>(w, dim, true, gen);
  if (bias == QkvBias::QV) {
    q_bias = zeros({w});
    v_bias = zeros({w});
    register_parameter("q_bias", &q_bias);
    register_parameter("v_bias", &v_bias);
  }
  register_module("qkv", qkv);
  register_module("proj", proj);
}

Tensor Attention::forward(const Tensor& x, Tensor* probs) const {
  SHEARS_CHECK(x.dim() == 3, "attention", "expected x of shape (B, N, dim), got ", shape_str(x.shape()));
  Tensor bias = qkv->bias;
  if (q_bias.defined()) bias = concat({q_bias, zeros_like(q_bias), v_bias}, 0);  // k bias is zero
  Tensor qkv_out = linear(x, qkv->weight, bias);  // (B, N, 3 * width)
  Tensor mixed = attention(qkv_out, heads, 1.0 / std::sqrt(double(head_dim)), probs);
  return proj->forward(mixed);
}

Mlp::Mlp(int64_t dim, int64_t hidden, Generator& gen) {
  fc1 = std::make_shared<Linear>(dim, hidden, true, gen);
  fc2 = std::make_shared<Linear>(hidden, dim, true, gen);
  register_module("fc1", fc1);
  register_module("fc2", fc2);
}

Tensor Mlp::forward(const Tensor& x) const { return fc2->forward(gelu(fc1->forward(x))); }

}  // namespace shears::nn
