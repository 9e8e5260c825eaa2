// Transformer Block and DropPath (see block.h).
#include "nn/block.h"

#include "autograd/ops.h"

namespace shears::nn {

Block::Block(int64_t dim, const BlockConfig& cfg, QkvBias bias, double ln_eps, double drop_path_, Generator& gen)
    : drop_path(drop_path_) {
  norm1 = std::make_shared<LayerNorm>(dim, ln_eps);
  attn = std::make_shared<Attention>(dim, cfg.heads, cfg.head_dim, bias, gen, cfg.attn_scale);
  norm2 = std::make_shared<LayerNorm>(dim, ln_eps);
  mlp = std::make_shared<Mlp>(dim, cfg.mlp_hidden, gen);
  register_module("norm1", norm1);
  register_module("attn", attn);
  register_module("norm2", norm2);
  register_module("mlp", mlp);
}

Tensor Block::forward(const Tensor& x_in) {
  const bool need_probs = keep_attention || static_cast<bool>(token_hook);
  Tensor probs;
  Tensor a = attn->forward(norm1->forward(x_in), need_probs ? &probs : nullptr);
  Tensor x = x_in + nn::drop_path(a, drop_path, is_training(), drop_path_gen);
  // kept without its autograd history, so a stored map does not hold the graph alive
  if (keep_attention) last_attention = Tensor::view_of(probs, probs.shape(), probs.strides(), probs.offset());
  if (token_hook) x = token_hook(x, probs);
  return x + nn::drop_path(mlp->forward(norm2->forward(x)), drop_path, is_training(), drop_path_gen);
}

// y = x * mask_b / (1 - p), mask_b ~ Bernoulli(1 - p) per sample;  backward through mul
Tensor drop_path(const Tensor& x, double p, bool training, Generator* gen) {
  if (!training || p <= 0.0) return x;
  Shape mask_shape(x.dim(), 1);
  mask_shape[0] = x.size(0);
  Tensor mask = bernoulli(mask_shape, 1.0 - p, x.dtype(), gen);
  return x * (mask * (1.0 / (1.0 - p)));
}

}  // namespace shears::nn
