// Attention and Mlp modules and their gates (see attention.h).
#include "nn/attention.h"

#include <cmath>

#include "autograd/ops.h"
#include "tensor/creation.h"

namespace shears::nn {

namespace {

// 0 for the constant (head_dim 0) form, where no q.k is ever computed.
double default_scale(int64_t head_dim) { return head_dim > 0 ? 1.0 / std::sqrt(double(head_dim)) : 0.0; }

Tensor checked_gate(const Tensor& gate, int64_t width, const char* op, const char* what) {
  SHEARS_CHECK(gate.defined(), op, "the gate is undefined; use remove_gate() to detach a gate");
  SHEARS_CHECK(gate.dim() == 1 && gate.size(0) == width, op, "expected a gate of shape (", width, ",) (", what,
               "), got ", shape_str(gate.shape()));
  SHEARS_CHECK(gate.dtype() == DType::F32 || gate.dtype() == DType::F64, op, "expected a float gate");
  return gate;
}

Tensor ones_gate(int64_t width, bool requires_grad) {
  Tensor g = ones({width});
  if (requires_grad) g.set_requires_grad(true);
  return g;
}

}  // namespace

Attention::Attention(int64_t dim, int64_t heads_, int64_t head_dim_, QkvBias bias, Generator& gen, double scale_,
                     int64_t out_dim)
    : heads(heads_), head_dim(head_dim_), scale(scale_ == 0.0 ? default_scale(head_dim_) : scale_) {
  const int64_t w = heads * head_dim;
  qkv = std::make_shared<Linear>(dim, 3 * w, bias == QkvBias::Full, gen);
  proj = std::make_shared<Linear>(w, out_dim < 0 ? dim : out_dim, true, gen);
  if (bias == QkvBias::QV) {
    q_bias = zeros({w});
    v_bias = zeros({w});
    register_parameter("q_bias", &q_bias);
    register_parameter("v_bias", &v_bias);
  }
  register_module("qkv", qkv);
  register_module("proj", proj);
}

double Attention::config_scale() const { return scale == default_scale(head_dim) ? 0.0 : scale; }

Tensor Attention::forward(const Tensor& x, Tensor* probs) const {
  SHEARS_CHECK(x.dim() == 3, "attention", "expected x of shape (B, N, dim), got ", shape_str(x.shape()));
  SHEARS_CHECK(width() > 0, "attention", "this attention has no heads (the constant form of a P3B-sliced branch: "
               "Block adds proj.bias instead of calling forward)");
  Tensor bias = qkv->bias;
  if (q_bias.defined()) bias = concat({q_bias, zeros_like(q_bias), v_bias}, 0);  // k bias is zero
  Tensor qkv_out = linear(x, qkv->weight, bias);  // (B, N, 3 * width)
  if (qkv_gate.defined()) {  // viewed (B, N, 3 * heads, head_dim): one mask over d for q, k, v and every head
    const int64_t B = qkv_out.size(0), N = qkv_out.size(1);
    qkv_out = reshape(reshape(qkv_out, {B, N, 3 * heads, head_dim}) * qkv_gate, {B, N, 3 * width()});
  }
  Tensor mixed = attention(qkv_out, heads, scale, probs);  // (B, N, width)
  if (gate.defined()) mixed = mixed * gate;
  return proj->forward(mixed);
}

void Attention::attach_gate(bool requires_grad) { gate = ones_gate(width(), requires_grad); }

void Attention::set_gate(const Tensor& g) {
  gate = checked_gate(g, width(), "attention.set_gate", "heads * head_dim");
}

void Attention::attach_qkv_gate(bool requires_grad) { qkv_gate = ones_gate(head_dim, requires_grad); }

void Attention::set_qkv_gate(const Tensor& g) {
  qkv_gate = checked_gate(g, head_dim, "attention.set_qkv_gate", "head_dim");
}

Mlp::Mlp(int64_t dim, int64_t hidden, Generator& gen, int64_t out_dim) {
  fc1 = std::make_shared<Linear>(dim, hidden, true, gen);
  fc2 = std::make_shared<Linear>(hidden, out_dim < 0 ? dim : out_dim, true, gen);
  register_module("fc1", fc1);
  register_module("fc2", fc2);
}

Tensor Mlp::forward(const Tensor& x) const {
  if (!gate.defined()) return fc2->forward(linear_gelu(x, fc1->weight, fc1->bias));
  return fc2->forward(gelu(fc1->forward(x)) * gate);
}

void Mlp::attach_gate(bool requires_grad) { gate = ones_gate(hidden(), requires_grad); }

void Mlp::set_gate(const Tensor& g) { gate = checked_gate(g, hidden(), "mlp.set_gate", "hidden"); }

}  // namespace shears::nn
