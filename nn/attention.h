// Multi-head self-attention module (timm layout: one fused qkv Linear, then proj).
// VideoMAE's variant has a qkv weight without bias plus separate q_bias and v_bias
// (the k bias is zero). The per-head probabilities (B, H, N, N) can be handed out to a
// caller (token policies, entropy analysis) without recomputation.
#pragma once
#include <memory>

#include "nn/linear.h"

namespace shears::nn {

enum class QkvBias { None, Full, QV };

class Attention : public Module {
 public:
  Attention(int64_t dim, int64_t heads, int64_t head_dim, QkvBias bias, Generator& gen);
  // x: (B, N, dim) -> (B, N, dim); probs (optional): (B, heads, N, N)
  Tensor forward(const Tensor& x, Tensor* probs = nullptr) const;
  int64_t width() const { return heads * head_dim; }

  int64_t heads, head_dim;
  std::shared_ptr<Linear> qkv;   // (3 * heads * head_dim, dim)
  std::shared_ptr<Linear> proj;  // (dim, heads * head_dim)
  Tensor q_bias, v_bias;         // QkvBias::QV only: (heads * head_dim,)
};

// Two-layer GELU MLP: fc2(gelu(fc1(x))).
class Mlp : public Module {
 public:
  Mlp(int64_t dim, int64_t hidden, Generator& gen);
  Tensor forward(const Tensor& x) const;
  int64_t hidden() const { return fc1->out_features(); }
  std::shared_ptr<Linear> fc1, fc2;
};

}  // namespace shears::nn
