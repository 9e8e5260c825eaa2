// Differentiable views, shape ops, dtype conversion and indexing. Views share storage
// with their input; their backward maps the gradient back to the input's geometry.
#include <algorithm>

#include "autograd/ops.h"

namespace shears {

namespace K = kernels;

// y = x viewed as `shape`;  dx = reshape(dy, x.shape)
Tensor reshape(const Tensor& x, const Shape& shape) {
  Tensor y = K::reshape(x, shape);
  Shape in = x.shape();
  return record("reshape", y, {x}, [in](const Tensor& dy) { return TensorList{K::reshape(dy, in)}; });
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  int64_t s = normalize_dim(start_dim, x.dim(), "flatten"), e = normalize_dim(end_dim, x.dim(), "flatten");
  SHEARS_CHECK(s <= e, "flatten", "start_dim ", start_dim, " is after end_dim ", end_dim);
  Shape shape(x.shape().begin(), x.shape().begin() + s);
  int64_t n = 1;
  for (int64_t d = s; d <= e; ++d) n *= x.shape()[d];
  shape.push_back(n);
  shape.insert(shape.end(), x.shape().begin() + e + 1, x.shape().end());
  return reshape(x, shape);
}

// y = x with dims reordered;  dx = permute(dy, inverse order)
Tensor permute(const Tensor& x, const Shape& dims) {
  Tensor y = K::permute(x, dims);
  Shape inverse(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) inverse[normalize_dim(dims[i], x.dim(), "permute")] = int64_t(i);
  return record("permute", y, {x}, [inverse](const Tensor& dy) { return TensorList{K::permute(dy, inverse)}; });
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  Shape dims(x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) dims[i] = i;
  std::swap(dims[normalize_dim(d0, x.dim(), "transpose")], dims[normalize_dim(d1, x.dim(), "transpose")]);
  return permute(x, dims);
}

// y = x[start:end:step] along dim;  dx = zeros with dy written into the same slice
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  Tensor y = K::slice(x, dim, start, end, step);
  Shape in = x.shape();
  int64_t d = normalize_dim(dim, x.dim(), "slice");
  int64_t n = in[d];
  int64_t s = std::clamp<int64_t>(start < 0 ? start + n : start, 0, n);  // as the kernel does
  int64_t e = std::clamp<int64_t>(end < 0 ? end + n : end, s, n);
  return record("slice", y, {x}, [in, d, s, e, step](const Tensor& dy) {
    Tensor dx = zeros(in, dy.dtype(), dy.device());
    K::copy_(K::slice(dx, d, s, e, step), dy);
    return TensorList{dx};
  });
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  K::narrow(x, dim, start, length);  // validates the range
  return slice(x, dim, start, start + length, 1);
}

// y = x broadcast to shape;  dx = dy summed back to x.shape
Tensor expand(const Tensor& x, const Shape& shape) {
  Tensor y = K::expand(x, shape);
  Shape in = x.shape();
  return record("expand", y, {x}, [in](const Tensor& dy) { return TensorList{K::sum_to(dy, in)}; });
}

// dx = unsqueeze(dy, dim)
Tensor squeeze(const Tensor& x, int64_t dim) {
  Tensor y = K::squeeze(x, dim);
  int64_t d = normalize_dim(dim, x.dim(), "squeeze");
  return record("squeeze", y, {x}, [d](const Tensor& dy) { return TensorList{K::unsqueeze(dy, d)}; });
}

// dx = squeeze(dy, dim)
Tensor unsqueeze(const Tensor& x, int64_t dim) {
  Tensor y = K::unsqueeze(x, dim);
  int64_t d = normalize_dim(dim, x.dim() + 1, "unsqueeze");
  return record("unsqueeze", y, {x}, [d](const Tensor& dy) { return TensorList{K::squeeze(dy, d)}; });
}

// dx = dy
Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  return record("contiguous", K::contiguous(x), {x}, [](const Tensor& dy) { return TensorList{dy}; });
}

// dx_i = the slice of dy that x_i filled
Tensor concat(const TensorList& xs, int64_t dim) {
  Tensor y = K::concat(xs, dim);
  int64_t d = normalize_dim(dim, y.dim(), "concat");
  std::vector<int64_t> sizes;
  for (const Tensor& x : xs) sizes.push_back(x.shape()[d]);
  return record("concat", y, xs, [d, sizes](const Tensor& dy) {
    TensorList dxs;
    int64_t start = 0;
    for (int64_t s : sizes) {
      dxs.push_back(K::narrow(dy, d, start, s));
      start += s;
    }
    return dxs;
  });
}

// dx_i = dy selected at index i along dim
Tensor stack(const TensorList& xs, int64_t dim) {
  Tensor y = K::stack(xs, dim);
  int64_t d = normalize_dim(dim, y.dim(), "stack");
  size_t n = xs.size();
  return record("stack", y, xs, [d, n](const Tensor& dy) {
    TensorList dxs;
    for (size_t i = 0; i < n; ++i) dxs.push_back(K::squeeze(K::narrow(dy, d, int64_t(i), 1), d));
    return dxs;
  });
}

// dx = dy converted back to x's dtype
Tensor to_dtype(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor y = K::to_dtype(x, dtype);
  if (!is_floating(dtype) || !is_floating(x.dtype())) return y;  // no gradient through integer types
  DType in = x.dtype();
  return record("to_dtype", y, {x}, [in](const Tensor& dy) { return TensorList{K::to_dtype(dy, in)}; });
}

// y = x.index_select(dim, index);  dx = zeros with dy added at index
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  Tensor y = K::index_select(x, dim, index);
  Shape in = x.shape();
  int64_t d = normalize_dim(dim, x.dim(), "index_select");
  return record("index_select", y, {x}, [in, d, index](const Tensor& dy) {
    Tensor dx = zeros(in, dy.dtype(), dy.device());
    K::index_add_(dx, d, index, dy);
    return TensorList{dx};
  });
}

// y[i][j] = x[index[i][j]][j] (dim 0);  dx = zeros with dy scattered (added) at index
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  Tensor y = K::gather(x, dim, index);
  Shape in = x.shape();
  int64_t d = normalize_dim(dim, x.dim(), "gather");
  return record("gather", y, {x}, [in, d, index](const Tensor& dy) {
    Tensor dx = zeros(in, dy.dtype(), dy.device());
    K::scatter_add_(dx, d, index, K::contiguous(dy));
    return TensorList{dx};
  });
}

// y = base with src added at index;  dbase = dy, dsrc = gather(dy, dim, index)
Tensor scatter_add(const Tensor& base, int64_t dim, const Tensor& index, const Tensor& src) {
  Tensor y = K::scatter_add(base, dim, index, src);
  int64_t d = normalize_dim(dim, base.dim(), "scatter_add");
  return record("scatter_add", y, {base, src}, [d, index](const Tensor& dy) {
    return TensorList{dy, K::gather(dy, d, index)};
  });
}

}  // namespace shears
