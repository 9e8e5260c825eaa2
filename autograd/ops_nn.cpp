// Differentiable matmul, softmax, log_softmax, layer_norm and dropout, each calling
// the fused raw kernel for its forward and backward.
#include "autograd/ops.h"

namespace shears {

namespace K = kernels;

// y = a @ b (batch dims broadcast);  da = dy @ b^T, db = a^T @ dy (summed to each shape)
Tensor matmul(const Tensor& a, const Tensor& b) {
  SHEARS_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul", "0-d operands are not allowed: shapes ",
               shape_str(a.shape()), " and ", shape_str(b.shape()));
  if (a.dim() == 1 && b.dim() == 1) return reshape(matmul(unsqueeze(a, 0), unsqueeze(b, 1)), {});
  if (a.dim() == 1) return squeeze(matmul(unsqueeze(a, 0), b), -2);
  if (b.dim() == 1) return squeeze(matmul(a, unsqueeze(b, 1)), -1);
  Tensor y = K::matmul(a, b);
  return record("matmul", y, {a, b}, [a, b](const Tensor& dy) {
    Tensor da, db;
    if (input_needs_grad(0)) da = K::sum_to(K::matmul(dy, K::transpose(b, -1, -2)), a.shape());
    if (input_needs_grad(1)) db = K::sum_to(K::matmul(K::transpose(a, -1, -2), dy), b.shape());
    return TensorList{da, db};
  });
}

// dx = y * (dy - sum(dy * y))
Tensor softmax(const Tensor& x, int64_t dim) {
  Tensor y = K::softmax(x, dim);
  return record("softmax", y, {x}, [y, dim](const Tensor& dy) { return TensorList{K::softmax_backward(y, dy, dim)}; });
}

// dx = dy - exp(y) * sum(dy)
Tensor log_softmax(const Tensor& x, int64_t dim) {
  Tensor y = K::log_softmax(x, dim);
  return record("log_softmax", y, {x},
                [y, dim](const Tensor& dy) { return TensorList{K::log_softmax_backward(y, dy, dim)}; });
}

// y = (x - mean) * rstd * w + b over the last dim; backward by the fused kernel
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  K::LayerNormResult r = K::layer_norm(x, weight, bias, eps);
  bool has_bias = bias.defined();
  return record("layer_norm", r.y, {x, weight, bias}, [x, weight, has_bias, r](const Tensor& dy) {
    K::LayerNormGrads g = K::layer_norm_backward(dy, x, r.mean, r.rstd, weight, has_bias);
    return TensorList{g.dx, g.dweight, g.dbias};
  });
}

// y = x W^T + b;  dx = dy W, dW = dy^T x (rows flattened), db = sum over rows of dy
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  Tensor y = K::linear(x, weight, bias);
  return record("linear", y, {x, weight, bias}, [x, weight](const Tensor& dy) {
    K::LinearGrads g = K::linear_backward(dy, x, weight, input_needs_grad(0), input_needs_grad(1), input_needs_grad(2));
    return TensorList{g.dx, g.dweight, g.dbias};
  });
}

Tensor linear_gelu(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  auto needs = [](const Tensor& t) { return t.defined() && t.requires_grad(); };
  if (!grad_mode_enabled() || !(needs(x) || needs(weight) || needs(bias))) return K::linear_gelu(x, weight, bias);
  return gelu(linear(x, weight, bias));
}

// P_h = softmax(S_h), S_h = q_h k_h^T * scale, as a second output of attention. Given dP:
// dS = P * (dP - rowsum(dP * P));  dq_h = scale * dS k_h, dk_h = scale * dS^T q_h, dv = 0
static Tensor attention_probs_backward(const Tensor& dprobs, const Tensor& qkv, const Tensor& probs, int64_t heads,
                                       double scale) {
  const int64_t B = qkv.size(0), N = qkv.size(1), C = qkv.size(2) / 3, D = C / heads;
  Tensor parts = K::reshape(K::contiguous(qkv), {B, N, 3, heads, D});
  auto part = [&](const Tensor& t, int64_t i) {  // (B, N, 3, H, D) -> (B, H, N, D) view of q, k or v
    return K::permute(K::squeeze(K::narrow(t, 2, i, 1), 2), {0, 2, 1, 3});
  };
  Tensor ds = K::softmax_backward(probs, dprobs, -1);  // (B, H, N, N)
  Tensor dqkv = zeros({B, N, 3, heads, D}, qkv.dtype(), qkv.device());
  K::copy_(part(dqkv, 0), K::binary_scalar(K::BinaryOp::Mul, K::matmul(ds, part(parts, 1)), scale));
  K::copy_(part(dqkv, 1), K::binary_scalar(K::BinaryOp::Mul, K::matmul(K::transpose(ds, -1, -2), part(parts, 0)), scale));
  return K::reshape(dqkv, qkv.shape());
}

// out_h = softmax(q_h k_h^T * scale) v_h;  backward by the fused kernel (keeps the probabilities).
// The probabilities handed out through `probs` are differentiable too (op "attention_probs").
Tensor attention(const Tensor& qkv, int64_t heads, double scale, Tensor* probs) {
  // The probabilities are kept when the caller reads them or backward will need them.
  const bool keep = probs != nullptr || (grad_mode_enabled() && qkv.requires_grad());
  K::AttentionResult r = K::attention(qkv, heads, scale, keep);
  if (!keep) return r.out;
  if (probs) {
    Tensor pr = r.probs;
    *probs = record("attention_probs", r.probs, {qkv}, [qkv, pr, heads, scale](const Tensor& dp) {
      return TensorList{attention_probs_backward(dp, qkv, pr, heads, scale)};
    });
  }
  Tensor p = r.probs;
  return record("attention", r.out, {qkv}, [qkv, p, heads, scale](const Tensor& dy) {
    return TensorList{K::attention_backward(dy, qkv, p, heads, scale)};
  });
}

// y = x * mask / (1 - p), mask ~ Bernoulli(1 - p);  dx = dy * mask / (1 - p)
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  SHEARS_CHECK(p >= 0.0 && p < 1.0, "dropout", "probability must be in [0, 1), got ", p);
  if (!training || p == 0.0) return x;
  Tensor mask = bernoulli(x.shape(), 1.0 - p, x.dtype(), gen).to(x.device());  // drawn on the host
  mask = K::binary_scalar(K::BinaryOp::Mul, mask, 1.0 / (1.0 - p));
  Tensor y = K::binary(K::BinaryOp::Mul, x, mask);
  return record("dropout", y, {x}, [mask](const Tensor& dy) { return TensorList{K::binary(K::BinaryOp::Mul, dy, mask)}; });
}

}  // namespace shears
