// Fused softmax cross-entropy: one op for hard labels (with optional label smoothing)
// and soft targets (Mixup/CutMix), so the loss always matches the targets in use.
#include "autograd/ops.h"

namespace shears {

namespace K = kernels;
using K::BinaryOp;

// loss = mean_b sum_c -t_bc log softmax(z_b)_c;  dz = (softmax(z) * sum_c t_bc - t) / B
Tensor soft_cross_entropy(const Tensor& logits, const Tensor& targets) {
  SHEARS_CHECK(logits.dim() == 2 && targets.shape() == logits.shape(), "cross_entropy",
               "expected logits (B, C) and targets of the same shape, got ", shape_str(logits.shape()), " and ",
               shape_str(targets.shape()));
  SHEARS_CHECK(targets.dtype() == logits.dtype(), "cross_entropy", "dtype mismatch: logits ",
               dtype_name(logits.dtype()), ", targets ", dtype_name(targets.dtype()));
  const double B = double(logits.size(0));
  Tensor ls = K::log_softmax(logits, 1);
  Tensor loss = K::binary_scalar(BinaryOp::Mul, K::reduce(K::ReduceOp::Sum, K::binary(BinaryOp::Mul, ls, targets), {}, false),
                                 -1.0 / B);
  return record("cross_entropy", loss, {logits, targets}, [ls, targets, B](const Tensor& dy) {
    Tensor mass = K::reduce(K::ReduceOp::Sum, targets, {1}, true);  // (B, 1), 1 for proper targets
    Tensor p = K::unary(K::UnaryOp::Exp, ls);
    Tensor d = K::binary(BinaryOp::Sub, K::binary(BinaryOp::Mul, p, mass), targets);
    Tensor scale = K::binary_scalar(BinaryOp::Mul, dy, 1.0 / B);
    Tensor dtargets;
    if (input_needs_grad(1)) dtargets = K::binary(BinaryOp::Mul, K::binary_scalar(BinaryOp::Mul, ls, -1.0), scale);
    return TensorList{K::binary(BinaryOp::Mul, d, scale), dtargets};
  });
}

Tensor smoothed_targets(const Tensor& labels, int64_t num_classes, double smoothing, DType dtype) {
  return K::smoothed_one_hot(labels, num_classes, smoothing, dtype);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, double label_smoothing) {
  SHEARS_CHECK(logits.dim() == 2, "cross_entropy", "expected logits (B, C), got ", shape_str(logits.shape()));
  SHEARS_CHECK(labels.dim() == 1 && labels.size(0) == logits.size(0), "cross_entropy", "labels ",
               shape_str(labels.shape()), " do not match logits ", shape_str(logits.shape()));
  return soft_cross_entropy(logits, smoothed_targets(labels, logits.size(1), label_smoothing, logits.dtype()));
}

}  // namespace shears
