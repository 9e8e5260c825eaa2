// Raw CPU kernels: every computation of the library without autograd. Inputs may be
// non-contiguous and (for elementwise ops) broadcast; outputs are fresh contiguous
// tensors unless the name ends in an underscore (in-place). Differentiable wrappers
// with the same names live in autograd/ops.h; optimizers and backward passes call
// these directly.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "tensor/tensor.h"

namespace shears::kernels {

// ---------------- copies and views (view ops share storage) ----------------
Tensor contiguous(const Tensor& x);  // x itself when already contiguous
Tensor clone(const Tensor& x);       // always a fresh contiguous copy
void copy_(const Tensor& dst, const Tensor& src);  // src broadcast to dst's shape
Tensor to_dtype(const Tensor& x, DType dtype);
void fill_(const Tensor& dst, double value);
Tensor reshape(const Tensor& x, const Shape& shape);  // one dim may be -1; copies if needed
Tensor permute(const Tensor& x, const Shape& dims);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
// slice with a step: elements start, start+step, ... < end
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor expand(const Tensor& x, const Shape& shape);  // -1 keeps a size
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor concat(const TensorList& xs, int64_t dim);
Tensor stack(const TensorList& xs, int64_t dim);

// ---------------- elementwise ----------------
enum class UnaryOp { Neg, Exp, Log, Sqrt, Rsqrt, Abs, Tanh, Sigmoid, Relu, Gelu, Sign, Square };
enum class BinaryOp {
  Add, Sub, Mul, Div, Max, Min,
  // gradient helpers, f(a, b) with a = forward input or output, b = incoming gradient
  ReluBackward,     // a = x: b * (x > 0)
  GeluBackward,     // a = x: b * (Phi(x) + x * phi(x))
  TanhBackward,     // a = y: b * (1 - y^2)
  SigmoidBackward,  // a = y: b * y * (1 - y)
};
enum class CompareOp { Eq, Ne, Lt, Le, Gt, Ge };

const char* unary_name(UnaryOp op);
const char* binary_name(BinaryOp op);

Tensor unary(UnaryOp op, const Tensor& x);
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);  // same dtype, broadcast
Tensor binary_scalar(BinaryOp op, const Tensor& a, double s);  // a op s
Tensor pow_scalar(const Tensor& x, double exponent);
// x^(p-1) * p * dy, computed together for the pow backward
Tensor pow_scalar_backward(const Tensor& x, double exponent, const Tensor& dy);
Tensor compare(CompareOp op, const Tensor& a, const Tensor& b);  // -> bool, broadcast
Tensor compare_scalar(CompareOp op, const Tensor& a, double s);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);  // cond bool, broadcast
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi);
// dy where lo <= x <= hi (and not NaN), else 0
Tensor clamp_backward(const Tensor& x, std::optional<double> lo, std::optional<double> hi,
                      const Tensor& dy);
// In place: dst = dst * beta + alpha * src (src broadcast to dst); used by optimizers
void axpby_(const Tensor& dst, double alpha, const Tensor& src, double beta = 1.0);

// ---------------- reductions over dims (empty dims = all) ----------------
enum class ReduceOp { Sum, Mean, Max, Min };
Tensor reduce(ReduceOp op, const Tensor& x, const Shape& dims, bool keepdim);
// index (i64) of the max/min along one dim; ties resolve to the lowest index
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim);
// variance with `correction` (1 = unbiased) over dims
Tensor var(const Tensor& x, const Shape& dims, int64_t correction, bool keepdim);
// Sums `g` down to `shape` (the inverse of broadcasting), used by backward passes.
Tensor sum_to(const Tensor& g, const Shape& shape);

// ---------------- indexing ----------------
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);  // index: 1-d i64
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);        // out shape = index
// A copy of `base` with src added at index along dim (index and src have the same shape)
Tensor scatter_add(const Tensor& base, int64_t dim, const Tensor& index, const Tensor& src);
// In place version on a contiguous dst
void scatter_add_(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src);
// In place: dst.index_select(dim, index) += src
void index_add_(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src);

// (B, num_classes) targets of `dtype`: off = smoothing / C everywhere, on = 1 - smoothing + off at
// each label (i64 (B,)); a label outside [0, C) is an error naming the sample.
Tensor smoothed_one_hot(const Tensor& labels, int64_t num_classes, double smoothing, DType dtype);

// ---------------- linear algebra ----------------
// a: (..., M, K), b: (..., K, N) -> (..., M, N); batch dims broadcast; 1-d inputs are
// promoted as in numpy. All GEMMs go through tensor/gemm.h.
Tensor matmul(const Tensor& a, const Tensor& b);

// ---------------- neural-network kernels ----------------
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
Tensor softmax_backward(const Tensor& y, const Tensor& dy, int64_t dim);      // y = softmax
Tensor log_softmax_backward(const Tensor& y, const Tensor& dy, int64_t dim);  // y = log_softmax
struct LayerNormResult {
  Tensor y;     // same shape as x
  Tensor mean;  // (rows,) f-type, rows = numel / C
  Tensor rstd;  // (rows,)
};
// Normalizes over the last dim of size C; weight/bias (C,) may be undefined.
LayerNormResult layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);
// layer_norm of x (..., C) (statistics over all C channels) at the channels `index` (k,) only, affine
// with weight/bias (k,) (or undefined): y (..., k) = layer_norm(x)[..., index] * weight + bias in one pass.
LayerNormResult layer_norm_select(const Tensor& x, const Tensor& index, const Tensor& weight, const Tensor& bias,
                                  double eps);
// The residual add of a transformer branch and the next branch's layer norm in one pass over each row
// (no-grad inference; the bits of add or index_add, then layer_norm or layer_norm_select):
//   y = x + src                        (out_index undefined; src the shape of x), or
//   y = x with src (..., k) added at out_index (k,) i64, unique channels in [0, C);
//   h = layer_norm(y) with statistics over all C channels, written at norm_index (k',) i64 (undefined: all C),
//       affine with weight/bias (k' or C, either may be undefined).  CPU, f32 or f64.
struct AddLayerNormResult {
  Tensor y, h;
};
AddLayerNormResult add_layer_norm(const Tensor& x, const Tensor& src, const Tensor& out_index, const Tensor& norm_index,
                                  const Tensor& weight, const Tensor& bias, double eps);
struct LayerNormGrads {
  Tensor dx, dweight, dbias;  // dweight/dbias undefined when weight/bias were
};
LayerNormGrads layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& mean,
                                   const Tensor& rstd, const Tensor& weight, bool has_bias);

// ---------------- fused transformer kernels (tensor/fused_kernels.cpp) ----------------
// y = x @ weight^T + bias.  x: (..., in), weight: (out, in), bias: (out,) or undefined
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);
// unary(Gelu, linear(x, weight, bias)) with the GELU applied to each block of rows right after its GEMM (no
// second pass over the output); the same bits. No autograd: autograd::linear_gelu picks it when nothing records.
Tensor linear_gelu(const Tensor& x, const Tensor& weight, const Tensor& bias);
struct LinearGrads {
  Tensor dx, dweight, dbias;  // each undefined when not requested
};
LinearGrads linear_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, bool need_dx,
                            bool need_dweight, bool need_dbias);

// Multi-head self-attention core on a fused qkv projection, with the heads read and
// written in place (no transposing copies).
// qkv: (B, N, 3C) laid out [q | k | v], each C = heads * head_dim, head h at columns
// h*head_dim. Returns out: (B, N, C) = concat_h softmax(q_h k_h^T * scale) v_h and the
// probabilities probs: (B, heads, N, N).
struct AttentionResult {
  Tensor out, probs;
};
// With keep_probs = false (no-grad inference where no one reads the probabilities) probs stays
// undefined and the (B, heads, N, N) tensor is never allocated or written: float runs the fused
// kernel of tensor/attention_nograd.cpp (blocks of queries, scores in L1/L2, its own summation
// order: out agrees with the keep_probs path to float rounding, not bitwise), double keeps one
// per-thread N x N tile per (b, h) and the same bits as the keep_probs path.
AttentionResult attention(const Tensor& qkv, int64_t heads, double scale, bool keep_probs = true);
// dqkv: (B, N, 3C) from dout: (B, N, C)
Tensor attention_backward(const Tensor& dout, const Tensor& qkv, const Tensor& probs, int64_t heads,
                          double scale);

}  // namespace shears::kernels
