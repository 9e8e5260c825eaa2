// Multi-head self-attention module (timm layout: one fused qkv Linear, then proj).
// VideoMAE's variant has a qkv weight without bias plus separate q_bias and v_bias
// (the k bias is zero). The per-head probabilities (B, H, N, N) can be handed out to a
// caller (token policies, entropy analysis) without recomputation. Both Attention and Mlp
// take an optional gate: a multiplicative mask read by pruning criteria (not a parameter).
#pragma once
#include <memory>

#include "nn/linear.h"

namespace shears::nn {

enum class QkvBias { None, Full, QV };

// Gates: an optional (width,) tensor multiplied into a module's inner activations. Not a
// registered parameter (not saved, not counted, not seen by optimizers); requires_grad is
// false unless the caller asks (attach_gate(true)), in which case gate.grad() holds dL/dgate
// after a backward pass (Taylor-style criteria read gate * dL/dgate). When no gate is attached
// the forward is exactly the ungated one. Surgery slices an attached gate with its module.

class Attention : public Module {
 public:
  // `scale` multiplies q.k; 0 means 1/sqrt(head_dim). `out_dim` (-1 = dim) is proj's output width
  // (a P3B-sliced branch writes a subset of the residual channels). heads = head_dim = 0 builds the
  // constant form of a sliced branch (zero-size qkv, proj.bias only; forward() refuses it).
  Attention(int64_t dim, int64_t heads, int64_t head_dim, QkvBias bias, Generator& gen, double scale = 0.0,
            int64_t out_dim = -1);
  // x: (B, N, dim) -> (B, N, out_dim); probs (optional): (B, heads, N, N)
  Tensor forward(const Tensor& x, Tensor* probs = nullptr) const;
  int64_t width() const { return heads * head_dim; }
  // The scale as BlockConfig::attn_scale stores it: 0 when it is 1/sqrt(head_dim), else the scale.
  double config_scale() const;

  // Attention gate, shape (heads * head_dim,), index h * head_dim + d: multiplies each head's
  // output softmax(q k^T * scale) v, dim d, before proj. Because every probability row sums to
  // one this is the same as gating the v rows of that head dim (q and k are not gated; P3B's
  // attn_qkv gate, which gates q, k and v, is qkv_gate below). Zeroing all head_dim entries of a
  // head removes that head.
  void attach_gate(bool requires_grad = false);  // a gate of ones
  void set_gate(const Tensor& gate);             // (heads * head_dim,) f32; validated
  void remove_gate() { gate = Tensor(); }

  // P3B's attn_qkv gate, shape (head_dim,): ONE mask over the per-head dim shared by q, k and v of
  // every head, multiplied into the qkv projection viewed (B, N, 3, heads, head_dim) before the
  // attention (so q.k sees the mask squared). Zeroing entry d is the same as pruning dim d of every
  // head (prune_attention_dims). Same conventions as `gate` (not a parameter, grad on request).
  void attach_qkv_gate(bool requires_grad = false);  // a gate of ones
  void set_qkv_gate(const Tensor& gate);             // (head_dim,) f32/f64; validated
  void remove_qkv_gate() { qkv_gate = Tensor(); }

  int64_t heads, head_dim;
  double scale;                  // q.k multiplier; kept when head dims are pruned
  std::shared_ptr<Linear> qkv;   // (3 * heads * head_dim, dim)
  std::shared_ptr<Linear> proj;  // (dim, heads * head_dim)
  Tensor q_bias, v_bias;         // QkvBias::QV only: (heads * head_dim,)
  Tensor gate;                   // (heads * head_dim,) or undefined (no gate)
  Tensor qkv_gate;               // (head_dim,) or undefined (no gate)
};

// Two-layer GELU MLP: fc2(gelu(fc1(x))), or fc2(gelu(fc1(x)) * gate) with a gate.
class Mlp : public Module {
 public:
  // `out_dim` (-1 = dim): fc2's output width (P3B-sliced branches write a subset of the channels).
  Mlp(int64_t dim, int64_t hidden, Generator& gen, int64_t out_dim = -1);
  Tensor forward(const Tensor& x) const;
  int64_t hidden() const { return fc1->out_features(); }

  // MLP gate, shape (hidden,): multiplies the hidden neurons after GELU, before fc2. Zeroing
  // entry j is the same as pruning neuron j.
  void attach_gate(bool requires_grad = false);  // a gate of ones
  void set_gate(const Tensor& gate);             // (hidden,) f32; validated
  void remove_gate() { gate = Tensor(); }

  std::shared_ptr<Linear> fc1, fc2;
  Tensor gate;  // (hidden,) or undefined (no gate)
};

}  // namespace shears::nn
