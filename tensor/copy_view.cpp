// Copies, dtype conversion, fill, and the view ops (reshape, permute, narrow, slice,
// expand, squeeze, unsqueeze). Views share storage and only rewrite shape/strides/offset.
#include <algorithm>

#include "tensor/device_dispatch.h"
#include "tensor/kernels.h"
#include "tensor/strided_loop.h"
#include "tensor/profile.h"

namespace shears::kernels {

namespace {
template <typename D, typename S>
void copy_typed(const Tensor& dst, const Tensor& src) {
  D* dp = static_cast<D*>(dst.raw_data());
  const S* sp = static_cast<const S*>(src.raw_data());
  Shape sstr = broadcast_strides(src.shape(), src.strides(), dst.shape());
  for_each_row<2>(dst.shape(), {dst.strides(), sstr},
                  [&](const int64_t* off, const int64_t* st, int64_t n) {
                    D* d = dp + off[0];
                    const S* s = sp + off[1];
                    if (st[0] == 1 && st[1] == 1) {
                      for (int64_t i = 0; i < n; ++i) d[i] = static_cast<D>(s[i]);
                    } else {
                      for (int64_t i = 0; i < n; ++i) d[i * st[0]] = static_cast<D>(s[i * st[1]]);
                    }
                  });
}
}  // namespace

void copy_(const Tensor& dst, const Tensor& src) {
  SHEARS_PROFILE(Elementwise);
  broadcast_shapes(src.shape(), dst.shape(), "copy_");  // validates
  SHEARS_CHECK(shape_numel(broadcast_shapes(src.shape(), dst.shape(), "copy_")) == dst.numel(), "copy_",
               "cannot copy a tensor of shape ", shape_str(src.shape()), " into shape ", shape_str(dst.shape()));
  if (src.device() != dst.device()) {  // across devices: move the source over first
    copy_(dst, src.to(dst.device()));
    return;
  }
  if (Backend* b = device_backend("copy_", {&dst})) {
    b->copy_(dst, src.dtype() == dst.dtype() ? src : to_dtype(src, dst.dtype()));
    return;
  }
  SHEARS_DISPATCH_ALL(dst.dtype(), "copy_", [&] {
    using D = scalar_t;
    SHEARS_DISPATCH_ALL(src.dtype(), "copy_", [&] { copy_typed<D, scalar_t>(dst, src); });
  });
}

Tensor contiguous(const Tensor& x) {
  SHEARS_PROFILE(Elementwise);
  if (x.is_contiguous()) return x;
  return clone(x);
}

Tensor clone(const Tensor& x) {
  SHEARS_PROFILE(Elementwise);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  copy_(out, x);
  return out;
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  SHEARS_PROFILE(Elementwise);
  if (x.dtype() == dtype) return x;
  if (Backend* b = device_backend("to_dtype", {&x})) return b->to_dtype(x, dtype);
  Tensor out = Tensor::empty(x.shape(), dtype);
  copy_(out, x);
  return out;
}

void fill_(const Tensor& dst, double value) {
  SHEARS_PROFILE(Elementwise);
  if (Backend* b = device_backend("fill_", {&dst})) return b->fill_(dst, value);
  SHEARS_DISPATCH_ALL(dst.dtype(), "fill_", [&] {
    scalar_t* p = static_cast<scalar_t*>(dst.raw_data());
    const scalar_t v = static_cast<scalar_t>(value);
    for_each_row<1>(dst.shape(), {dst.strides()}, [&](const int64_t* off, const int64_t* st, int64_t n) {
      scalar_t* d = p + off[0];
      if (st[0] == 1) std::fill(d, d + n, v);
      else for (int64_t i = 0; i < n; ++i) d[i * st[0]] = v;
    });
  });
}

// Strides for viewing x with a new shape without copying, if possible (the PyTorch
// "computeStride" rule: each run of merged dims must be contiguous in x).
static bool view_strides(const Tensor& x, const Shape& shape, Shape& out) {
  const Shape& os = x.shape();
  const Shape& ost = x.strides();
  out.assign(shape.size(), 0);
  if (x.numel() == 0) {
    out = contiguous_strides(shape);
    return true;
  }
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base_stride = ost.empty() ? 1 : ost.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t td = static_cast<int64_t>(os.size()) - 1; td >= 0; --td) {
    tensor_numel *= os[td];
    if (td == 0 || (os[td - 1] != 1 && ost[td - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (td > 0) {
        chunk_base_stride = ost[td - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  while (view_d >= 0) out[view_d--] = 1;  // trailing size-1 dims
  return true;
}

Tensor reshape(const Tensor& x, const Shape& shape_in) {
  Shape shape = shape_in;
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      SHEARS_CHECK(infer < 0, "reshape", "only one dim may be -1 in ", shape_str(shape_in));
      infer = static_cast<int64_t>(i);
    } else {
      SHEARS_CHECK(shape[i] >= 0, "reshape", "negative size in ", shape_str(shape_in));
      known = checked_mul(known, shape[i], "reshape", "the product of the target sizes");
    }
  }
  if (infer >= 0) {
    SHEARS_CHECK(known > 0 && x.numel() % known == 0, "reshape", "cannot reshape ", shape_str(x.shape()),
                 " into ", shape_str(shape_in));
    shape[infer] = x.numel() / known;
  }
  SHEARS_CHECK(shape_numel(shape) == x.numel(), "reshape", "cannot reshape ", shape_str(x.shape()), " (",
               x.numel(), " elements) into ", shape_str(shape_in));
  Shape strides;
  if (view_strides(x, shape, strides)) return Tensor::view_of(x, shape, strides, x.offset());
  Tensor c = clone(x);
  return Tensor::view_of(c, shape, contiguous_strides(shape), 0);
}

Tensor permute(const Tensor& x, const Shape& dims) {
  const int64_t nd = x.dim();
  SHEARS_CHECK(static_cast<int64_t>(dims.size()) == nd, "permute", "expected ", nd, " dims for shape ",
               shape_str(x.shape()), ", got ", shape_str(dims));
  Shape shape(nd), strides(nd);
  std::vector<bool> seen(nd, false);
  for (int64_t i = 0; i < nd; ++i) {
    int64_t d = normalize_dim(dims[i], nd, "permute");
    SHEARS_CHECK(!seen[d], "permute", "repeated dim in ", shape_str(dims));
    seen[d] = true;
    shape[i] = x.shape()[d];
    strides[i] = x.strides()[d];
  }
  return Tensor::view_of(x, shape, strides, x.offset());
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  const int64_t nd = x.dim();
  d0 = normalize_dim(d0, nd, "transpose");
  d1 = normalize_dim(d1, nd, "transpose");
  Shape dims(nd);
  for (int64_t i = 0; i < nd; ++i) dims[i] = i;
  std::swap(dims[d0], dims[d1]);
  return permute(x, dims);
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  dim = normalize_dim(dim, x.dim(), "slice");
  SHEARS_CHECK(step >= 1, "slice", "step must be >= 1, got ", step);
  const int64_t n = x.shape()[dim];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape shape = x.shape(), strides = x.strides();
  shape[dim] = (end - start + step - 1) / step;
  strides[dim] *= step;
  return Tensor::view_of(x, shape, strides, x.offset() + start * x.strides()[dim]);
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  dim = normalize_dim(dim, x.dim(), "narrow");
  const int64_t n = x.shape()[dim];
  SHEARS_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow", "range [", start, ", ",
               start + length, ") out of bounds for dim ", dim, " of size ", n, " in shape ",
               shape_str(x.shape()));
  return slice(x, dim, start, start + length, 1);
}

Tensor expand(const Tensor& x, const Shape& shape) {
  const int64_t nd = static_cast<int64_t>(shape.size());
  SHEARS_CHECK(nd >= x.dim(), "expand", "cannot expand ", shape_str(x.shape()), " to fewer dims ",
               shape_str(shape));
  Shape out(nd), strides(nd, 0);
  const int64_t lead = nd - x.dim();
  for (int64_t i = 0; i < nd; ++i) {
    if (i < lead) {
      SHEARS_CHECK(shape[i] >= 0, "expand", "size -1 not allowed for a new leading dim in ", shape_str(shape));
      out[i] = shape[i];
      continue;
    }
    int64_t s = x.shape()[i - lead];
    int64_t want = shape[i] == -1 ? s : shape[i];
    SHEARS_CHECK(s == want || s == 1, "expand", "cannot expand ", shape_str(x.shape()), " to ",
                 shape_str(shape));
    out[i] = want;
    strides[i] = (s == want) ? x.strides()[i - lead] : 0;
  }
  return Tensor::view_of(x, out, strides, x.offset());
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  dim = normalize_dim(dim, x.dim(), "squeeze");
  SHEARS_CHECK(x.shape()[dim] == 1, "squeeze", "dim ", dim, " has size ", x.shape()[dim], " in shape ",
               shape_str(x.shape()), ", expected 1");
  Shape shape = x.shape(), strides = x.strides();
  shape.erase(shape.begin() + dim);
  strides.erase(strides.begin() + dim);
  return Tensor::view_of(x, shape, strides, x.offset());
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  dim = normalize_dim(dim, x.dim() + 1, "unsqueeze");
  Shape shape = x.shape(), strides = x.strides();
  int64_t st = dim < x.dim() ? x.strides()[dim] * x.shape()[dim] : 1;
  shape.insert(shape.begin() + dim, 1);
  strides.insert(strides.begin() + dim, st);
  return Tensor::view_of(x, shape, strides, x.offset());
}

}  // namespace shears::kernels
