// Differentiable reductions: sum, mean, amax/amin, max along a dim, var. Their backward
// reshapes the output gradient to the keepdim shape and broadcasts it over the input.
#include "autograd/ops.h"

namespace shears {

namespace K = kernels;
using K::BinaryOp;

namespace {
// x's shape with every reduced dim set to 1 (empty dims = all dims).
Shape keepdim_shape(const Shape& shape, const Shape& dims, const char* op) {
  Shape keep = shape;
  if (dims.empty()) {
    for (auto& s : keep) s = 1;
  } else {
    for (int64_t d : dims) keep[normalize_dim(d, int64_t(shape.size()), op)] = 1;
  }
  return keep;
}

// dy (reduced shape) -> a view broadcast to the input shape
Tensor broadcast_back(const Tensor& dy, const Shape& keep, const Shape& in) {
  return K::expand(K::reshape(dy, keep), in);
}
}  // namespace

// dx = dy broadcast over the reduced dims
Tensor sum(const Tensor& x, const Shape& dims, bool keepdim) {
  Tensor y = K::reduce(K::ReduceOp::Sum, x, dims, keepdim);
  Shape in = x.shape(), keep = keepdim_shape(in, dims, "sum");
  return record("sum", y, {x}, [in, keep](const Tensor& dy) { return TensorList{broadcast_back(dy, keep, in)}; });
}

// dx = dy / count broadcast over the reduced dims
Tensor mean(const Tensor& x, const Shape& dims, bool keepdim) {
  Tensor y = K::reduce(K::ReduceOp::Mean, x, dims, keepdim);
  Shape in = x.shape(), keep = keepdim_shape(in, dims, "mean");
  double count = double(shape_numel(in)) / double(std::max<int64_t>(1, shape_numel(keep)));
  return record("mean", y, {x}, [in, keep, count](const Tensor& dy) {
    return TensorList{broadcast_back(K::binary_scalar(BinaryOp::Mul, dy, 1.0 / count), keep, in)};
  });
}

namespace {
// dx = dy / (number of tied extrema) at the extrema, 0 elsewhere
Tensor extreme(const Tensor& x, const Shape& dims, bool keepdim, K::ReduceOp op, const char* name) {
  Shape in = x.shape(), keep = keepdim_shape(in, dims, name);  // validates dims under this op's name
  Tensor y = K::reduce(op, x, dims, keepdim);
  return record(name, y, {x}, [x, y, in, keep, dims](const Tensor& dy) {
    Tensor mask = K::compare(K::CompareOp::Eq, x, K::reshape(y, keep));
    Tensor maskf = K::to_dtype(mask, x.dtype());
    Tensor count = K::reduce(K::ReduceOp::Sum, maskf, dims, true);
    Tensor share = K::binary(BinaryOp::Div, K::reshape(dy, keep), count);
    return TensorList{K::binary(BinaryOp::Mul, maskf, share)};
  });
}
}  // namespace

Tensor amax(const Tensor& x, const Shape& dims, bool keepdim) { return extreme(x, dims, keepdim, K::ReduceOp::Max, "amax"); }
Tensor amin(const Tensor& x, const Shape& dims, bool keepdim) { return extreme(x, dims, keepdim, K::ReduceOp::Min, "amin"); }

namespace {
// values gathered at the given keepdim indices: the gradient flows to that element only
std::pair<Tensor, Tensor> values_at(const Tensor& x, int64_t dim, Tensor idx, bool keepdim) {
  Tensor values = gather(x, dim, idx);
  if (!keepdim) {
    values = squeeze(values, dim);
    idx = K::squeeze(idx, dim);
  }
  return {values, idx};
}
}  // namespace

std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) {
  return values_at(x, dim, K::argmax(x, dim, true), keepdim);
}
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim) {
  return values_at(x, dim, K::argmin(x, dim, true), keepdim);
}
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) { return K::argmax(x, dim, keepdim); }
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) { return K::argmin(x, dim, keepdim); }

// y = sum((x - mean)^2) / (n - correction);  dx = dy * 2 (x - mean) / (n - correction)
Tensor var(const Tensor& x, const Shape& dims, int64_t correction, bool keepdim) {
  Tensor y = K::var(x, dims, correction, keepdim);
  Shape in = x.shape(), keep = keepdim_shape(in, dims, "var");
  double n = double(shape_numel(in)) / double(std::max<int64_t>(1, shape_numel(keep)));
  return record("var", y, {x}, [x, in, keep, dims, n, correction](const Tensor& dy) {
    Tensor mu = K::reduce(K::ReduceOp::Mean, x, dims, true);
    Tensor centered = K::binary(BinaryOp::Sub, x, mu);
    Tensor scale = K::binary_scalar(BinaryOp::Mul, K::reshape(dy, keep), 2.0 / (n - double(correction)));
    return TensorList{K::binary(BinaryOp::Mul, centered, scale)};
  });
}

}  // namespace shears
