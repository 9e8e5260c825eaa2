// Differentiable ops: the user-facing tensor API. Each op checks its inputs (throwing
// shears::Error "[op] ..." with the shapes or dtypes), calls a raw kernel from
// tensor/kernels.h and records its backward next to the forward.
#pragma once
#include <optional>
#include <utility>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "tensor/creation.h"
#include "tensor/kernels.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace shears {

// ---- views and shape ops ----
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor permute(const Tensor& x, const Shape& dims);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor expand(const Tensor& x, const Shape& shape);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor contiguous(const Tensor& x);
Tensor concat(const TensorList& xs, int64_t dim);
Tensor stack(const TensorList& xs, int64_t dim);
Tensor to_dtype(const Tensor& x, DType dtype);

// ---- indexing ----
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
Tensor scatter_add(const Tensor& base, int64_t dim, const Tensor& index, const Tensor& src);
// base with src's slices added at index (1-d i64) along dim: out.index_select(dim, index) = base's + src.
// src: base's shape with dim of size |index|. One pass when dim is last and both are contiguous.
Tensor index_add(const Tensor& base, int64_t dim, const Tensor& index, const Tensor& src);

// ---- elementwise (broadcasting) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add_scalar(const Tensor& x, double s);
Tensor mul_scalar(const Tensor& x, double s);
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor abs(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x);  // exact erf form: x * Phi(x)
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi);
// comparisons: bool results, no gradient
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, double s);
Tensor operator-(const Tensor& a, double s);
Tensor operator*(const Tensor& a, double s);
Tensor operator/(const Tensor& a, double s);
Tensor operator+(double s, const Tensor& a);
Tensor operator-(double s, const Tensor& a);
Tensor operator*(double s, const Tensor& a);
Tensor operator/(double s, const Tensor& a);

// ---- reductions (empty dims = all dims) ----
Tensor sum(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
// max/min values; the gradient is shared equally among tied maxima
Tensor amax(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
// values (differentiable) and i64 indices (lowest index on ties) along one dim
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor var(const Tensor& x, const Shape& dims = {}, int64_t correction = 1, bool keepdim = false);

// ---- linear algebra and neural-network ops ----
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
// over the last dim; weight and bias (C,) may be undefined
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);
// layer_norm of x (..., C) with statistics over all C channels, output only at the unique channels
// `index` (k,) i64: (..., k), affine with weight and bias (k,) (either may be undefined), in one pass.
Tensor layer_norm_select(const Tensor& x, const Tensor& index, const Tensor& weight, const Tensor& bias,
                         double eps = 1e-5);
// A residual add and the layer norm that reads its result: sum = x + src (out_index undefined) or index_add(x, -1,
// out_index, src), normed = layer_norm(sum) (norm_index undefined) or layer_norm_select(sum, norm_index), with
// weight/bias. Without a gradient to record and on the CPU, one pass over each row (kernels::add_layer_norm, the
// same bits); otherwise those differentiable ops.
struct AddLayerNorm {
  Tensor sum, normed;
};
AddLayerNorm add_layer_norm(const Tensor& x, const Tensor& src, const Tensor& out_index, const Tensor& norm_index,
                            const Tensor& weight, const Tensor& bias, double eps = 1e-5);
// y = x @ weight^T + bias (bias may be undefined);  x: (..., in), weight: (out, in)
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);
// gelu(linear(x, weight, bias)). Without a gradient to record, one kernel (kernels::linear_gelu: the GELU in the
// GEMM's row epilogue, the same bits); otherwise those two differentiable ops.
Tensor linear_gelu(const Tensor& x, const Tensor& weight, const Tensor& bias);
// Multi-head self-attention on a fused projection. qkv: (B, N, 3C) = [q | k | v] with
// heads of width C/heads side by side; returns (B, N, C). When `probs` is given it
// receives the attention probabilities (B, heads, N, N), differentiable with respect to qkv
// (op "attention_probs"; EViT's token-fusion weights are CLS attention probabilities).
// Without `probs`, in no-grad mode (or when qkv needs no gradient) the (B, heads, N, N)
// probabilities are never materialised (kernels::attention with keep_probs = false).
Tensor attention(const Tensor& qkv, int64_t heads, double scale, Tensor* probs = nullptr);
// Mean cross-entropy of logits (B, C) against hard labels (B,) i64, with label smoothing
// eps folded into the targets (off = eps/C, on = 1 - eps + eps/C), or against soft
// targets (B, C) (rows summing to 1, e.g. Mixup/CutMix).
Tensor cross_entropy(const Tensor& logits, const Tensor& labels, double label_smoothing = 0.0);
Tensor soft_cross_entropy(const Tensor& logits, const Tensor& targets);
// The smoothed one-hot targets cross_entropy uses: (B, num_classes) of dtype.
Tensor smoothed_targets(const Tensor& labels, int64_t num_classes, double smoothing, DType dtype);
// inverted dropout: zeroes with probability p and scales the rest by 1/(1-p) in training
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);
// 2-d convolution, channels-last: x (B, H, W, Cin), weight (Cout, Cin, k, k) (PyTorch layout), k odd,
// stride 1, zero padding k/2 ("same"); bias (Cout,) may be undefined. Returns (B, H, W, Cout).
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
// Training-mode batch norm over the last dim of x (..., C): statistics over all leading dims, biased
// variance in the normalisation (as PyTorch); weight/bias (C,) may be undefined. batch_mean and
// batch_var (optional, not differentiable) receive the mean and the UNBIASED variance (C,).
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, Tensor* batch_mean = nullptr,
                  Tensor* batch_var = nullptr);

}  // namespace shears
