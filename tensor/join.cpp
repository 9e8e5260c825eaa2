// concat and stack: join tensors of one dtype along a dim into a fresh contiguous
// output. The output is viewed as (outer, joined, inner) and each (contiguous) input
// as (outer, n_i, inner), so the copy is one memcpy per input per outer index.
#include <cstring>
#include <vector>

#include "tensor/device_dispatch.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"
#include "tensor/profile.h"

namespace shears::kernels {
namespace {

constexpr int64_t kCopyPiece = 1 << 20;  // bytes per task when one slab is split

// out: (outer, sum_i row_elems[i]) <- parts[i]: (outer, row_elems[i]), all contiguous.
void join_slabs(const Tensor& out, const TensorList& parts, const std::vector<int64_t>& row_elems,
                int64_t outer) {
  const int64_t es = static_cast<int64_t>(dtype_size(out.dtype()));
  std::vector<int64_t> col(parts.size() + 1, 0);  // element column where part i starts
  for (size_t i = 0; i < parts.size(); ++i) col[i + 1] = col[i] + row_elems[i];
  const int64_t row = col.back();
  char* dst = static_cast<char*>(out.raw_data());
  std::vector<const char*> src(parts.size());
  for (size_t i = 0; i < parts.size(); ++i)
    src[i] = row_elems[i] > 0 ? static_cast<const char*>(parts[i].raw_data()) : nullptr;

  if (outer == 1) {  // one slab per part: split large ones into fixed byte pieces
    for (size_t i = 0; i < parts.size(); ++i) {
      const int64_t bytes = row_elems[i] * es;
      char* d = dst + col[i] * es;
      parallel_for(bytes, kCopyPiece, [&](int64_t b, int64_t e) {
        std::memcpy(d + b, src[i] + b, static_cast<size_t>(e - b));
      });
    }
    return;
  }
  parallel_for(outer, grain_for(row * es, 1 << 18), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o)
      for (size_t i = 0; i < parts.size(); ++i)
        if (row_elems[i] > 0)
          std::memcpy(dst + (o * row + col[i]) * es, src[i] + o * row_elems[i] * es,
                      static_cast<size_t>(row_elems[i] * es));
  });
}

// On a device: each input copied into its slice of the output by the device's copy kernel.
Device join_device(const TensorList& xs, const char* op) {
  Device d = xs[0].device();
  for (const Tensor& x : xs) d = common_device(op, {&xs[0], &x});
  return d;
}

int64_t prod(const Shape& s, size_t a, size_t b) {
  int64_t n = 1;
  for (size_t i = a; i < b; ++i) n *= s[i];
  return n;
}

}  // namespace

// xs[i]: (..., n_i, ...) -> (..., sum n_i, ...)
Tensor concat(const TensorList& xs, int64_t dim) {
  SHEARS_PROFILE(Elementwise);
  SHEARS_CHECK(!xs.empty(), "concat", "expected at least one tensor");
  const Tensor& ref = xs[0];
  SHEARS_CHECK(ref.dim() > 0, "concat", "cannot concatenate 0-d tensors (use stack)");
  const int64_t d = normalize_dim(dim, ref.dim(), "concat");
  Shape out_shape = ref.shape();
  out_shape[d] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    SHEARS_CHECK(x.dtype() == ref.dtype(), "concat", "tensor ", i, " has dtype ",
                 dtype_name(x.dtype()), " but tensor 0 has dtype ", dtype_name(ref.dtype()));
    bool same = x.dim() == ref.dim();
    for (int64_t j = 0; same && j < ref.dim(); ++j)
      same = j == d || x.shape()[j] == ref.shape()[j];
    SHEARS_CHECK(same, "concat", "tensor ", i, " has shape ", shape_str(x.shape()),
                 " but tensor 0 has shape ", shape_str(ref.shape()),
                 "; shapes must match except in dim ", d);
    out_shape[d] += x.shape()[d];
  }
  const Device dev = join_device(xs, "concat");
  Tensor out = Tensor::empty(out_shape, ref.dtype(), dev);
  if (out.numel() == 0) return out;
  if (!dev.is_cpu()) {
    int64_t at = 0;
    for (const Tensor& x : xs) {
      if (x.shape()[d] > 0) copy_(narrow(out, d, at, x.shape()[d]), x);
      at += x.shape()[d];
    }
    return out;
  }
  const size_t ud = static_cast<size_t>(d);
  const int64_t inner = prod(out_shape, ud + 1, out_shape.size());
  TensorList parts;
  std::vector<int64_t> row_elems;
  for (const Tensor& x : xs) {
    parts.push_back(contiguous(x));
    row_elems.push_back(x.shape()[d] * inner);
  }
  join_slabs(out, parts, row_elems, prod(out_shape, 0, ud));
  return out;
}

// xs[i]: S -> S with len(xs) inserted at dim, dim in [-(ndim+1), ndim]
Tensor stack(const TensorList& xs, int64_t dim) {
  SHEARS_CHECK(!xs.empty(), "stack", "expected at least one tensor");
  const Tensor& ref = xs[0];
  const int64_t nd = ref.dim();
  const int64_t d = dim < 0 ? dim + nd + 1 : dim;
  SHEARS_CHECK(d >= 0 && d <= nd, "stack", "dim ", dim, " out of range for stacking ", nd,
               "-d tensors (expected a dim in [", -(nd + 1), ", ", nd, "])");
  for (size_t i = 0; i < xs.size(); ++i) {
    SHEARS_CHECK(xs[i].dtype() == ref.dtype(), "stack", "tensor ", i, " has dtype ",
                 dtype_name(xs[i].dtype()), " but tensor 0 has dtype ", dtype_name(ref.dtype()));
    SHEARS_CHECK(xs[i].shape() == ref.shape(), "stack", "tensor ", i, " has shape ",
                 shape_str(xs[i].shape()), " but tensor 0 has shape ", shape_str(ref.shape()),
                 "; all shapes must be equal");
  }
  Shape out_shape = ref.shape();
  out_shape.insert(out_shape.begin() + d, static_cast<int64_t>(xs.size()));
  const Device dev = join_device(xs, "stack");
  Tensor out = Tensor::empty(out_shape, ref.dtype(), dev);
  if (out.numel() == 0) return out;
  if (!dev.is_cpu()) {
    for (size_t i = 0; i < xs.size(); ++i) copy_(squeeze(narrow(out, d, static_cast<int64_t>(i), 1), d), xs[i]);
    return out;
  }
  const size_t ud = static_cast<size_t>(d);
  const int64_t inner = prod(ref.shape(), ud, ref.shape().size());
  TensorList parts;
  for (const Tensor& x : xs) parts.push_back(contiguous(x));
  join_slabs(out, parts, std::vector<int64_t>(xs.size(), inner), prod(ref.shape(), 0, ud));
  return out;
}

}  // namespace shears::kernels
