// Index-based copies and adds: index_select, gather, scatter_add(_) and index_add_.
// Every index is range-checked before any data moves. Adds parallelize only over
// (outer, column) slices that can never receive the same element, walking the indexed
// dim in order inside a slice, so results are deterministic for any thread count.
#include <algorithm>
#include <vector>

#include "tensor/device_dispatch.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"
#include "tensor/profile.h"

namespace shears::kernels {
namespace {

constexpr int64_t kAddBlock = 512;  // columns per task of a scatter / index add

// Row-major offsets of every multi-index over shape[a, b) under `strides`.
std::vector<int64_t> offset_table(const Shape& shape, size_t a, size_t b, const Shape& strides) {
  std::vector<int64_t> table{0};
  for (size_t d = a; d < b; ++d) {
    std::vector<int64_t> next;
    next.reserve(table.size() * shape[d]);
    for (int64_t base : table)
      for (int64_t i = 0; i < shape[d]; ++i) next.push_back(base + i * strides[d]);
    table.swap(next);
  }
  return table;
}

bool is_identity(const std::vector<int64_t>& t) {
  for (size_t j = 0; j < t.size(); ++j)
    if (t[j] != static_cast<int64_t>(j)) return false;
  return true;
}

// The iteration space `shape` split at `dim` into (outer, m, inner), with the element
// offsets of the indexed tensor `a` and of the dense tensor `b` (indexed by position).
struct Geom {
  int64_t outer = 1, m = 1, inner = 1;
  std::vector<int64_t> a_outer, a_inner, b_outer, b_inner;
  int64_t a_dim = 0, b_dim = 0;  // strides along dim
  bool unit_inner = false;       // both inner tables are 0, 1, 2, ...
};

Geom make_geom(const Shape& shape, int64_t dim, const Shape& a_strides, const Shape& b_strides) {
  Geom g;
  const size_t d = static_cast<size_t>(dim), nd = shape.size();
  g.a_outer = offset_table(shape, 0, d, a_strides);
  g.b_outer = offset_table(shape, 0, d, b_strides);
  g.a_inner = offset_table(shape, d + 1, nd, a_strides);
  g.b_inner = offset_table(shape, d + 1, nd, b_strides);
  g.outer = static_cast<int64_t>(g.a_outer.size());
  g.inner = static_cast<int64_t>(g.a_inner.size());
  g.m = shape[d];
  g.a_dim = a_strides[d];
  g.b_dim = b_strides[d];
  g.unit_inner = is_identity(g.a_inner) && is_identity(g.b_inner);
  return g;
}

void check_i64(const Tensor& index, const char* op) {
  if (index.dtype() != DType::I64)
    fail(op, "index must be i64, got ", dtype_name(index.dtype()));
}

// A contiguous copy of `index` after checking it is i64 and every value is in [0, size). On a
// device the values are checked by the device's kernel (a host check would copy them back).
Tensor checked_index(const Tensor& index, int64_t size, int64_t dim, const char* op) {
  check_i64(index, op);
  Tensor idx = contiguous(index);
  const int64_t n = idx.numel();
  if (n == 0 || !idx.device().is_cpu()) return idx;
  const int64_t* p = idx.data<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    if (p[i] < 0 || p[i] >= size)
      fail(op, "index ", p[i], " out of range for dim ", dim, " of size ", size);
  return idx;
}

// Adds into dst would race (and double count) on an expanded view.
void check_writable(const Tensor& dst, const char* op) {
  for (int64_t d = 0; d < dst.dim(); ++d)
    if (dst.shape()[d] > 1 && dst.strides()[d] == 0)
      fail(op, "dst of shape ", shape_str(dst.shape()), " is an expanded view (stride 0 at dim ",
           d, "); make it contiguous first");
}

// kAdd == false: b[o, k, j] = a[o, idx, j]    (gather / index_select)
// kAdd == true:  a[o, idx, j] += b[o, k, j]   (scatter_add / index_add)
// idx = index[o, k, j] when kPerElement (gather / scatter), else index[k] (1-d index).
template <typename T, bool kAdd, bool kPerElement>
void index_loop(T* a, T* b, const int64_t* index, const Geom& g) {
  if (g.inner == 1) {  // indexed dim innermost (channel gathers): a task owns whole outer rows, k in order
    parallel_for(g.outer, grain_for(g.m), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        T* pa = a + g.a_outer[o];
        T* pb = b + g.b_outer[o];
        const int64_t* pi = kPerElement ? index + o * g.m : index;
        for (int64_t k = 0; k < g.m; ++k) {
          if constexpr (kAdd) pa[pi[k] * g.a_dim] += pb[k * g.b_dim];
          else pb[k * g.b_dim] = pa[pi[k] * g.a_dim];
        }
      }
    });
    return;
  }
  // One (o, k) row over columns [j0, j1).
  auto row = [&](int64_t o, int64_t k, int64_t j0, int64_t j1) {
    T* pa = a + g.a_outer[o];
    T* pb = b + g.b_outer[o] + k * g.b_dim;
    const int64_t* pi = kPerElement ? index + (o * g.m + k) * g.inner : index + k;
    if (!kPerElement) pa += *pi * g.a_dim;
    if (g.unit_inner) {
      for (int64_t j = j0; j < j1; ++j) {
        T& ea = pa[(kPerElement ? pi[j] * g.a_dim : 0) + j];
        if constexpr (kAdd) ea += pb[j];
        else pb[j] = ea;
      }
    } else {
      for (int64_t j = j0; j < j1; ++j) {
        T& ea = pa[(kPerElement ? pi[j] * g.a_dim : 0) + g.a_inner[j]];
        if constexpr (kAdd) ea += pb[g.b_inner[j]];
        else pb[g.b_inner[j]] = ea;
      }
    }
  };
  if constexpr (!kAdd) {  // copies never collide: split over (o, k) rows
    parallel_for(g.outer * g.m, grain_for(g.inner), [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) row(t / g.m, t % g.m, 0, g.inner);
    });
  } else {  // adds: a task owns (o, column block) and walks k in order
    const int64_t blocks = (g.inner + kAddBlock - 1) / kAddBlock;
    const int64_t width = std::min(g.inner, kAddBlock);
    parallel_for(g.outer * blocks, grain_for(g.m * width), [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t o = t / blocks, j0 = (t % blocks) * kAddBlock;
        const int64_t j1 = std::min(g.inner, j0 + kAddBlock);
        for (int64_t k = 0; k < g.m; ++k) row(o, k, j0, j1);
      }
    });
  }
}

// Calls f(T{}) for f32, f64 and i64 (the dtypes that can be added).
template <typename F> void dispatch_addable(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::F32: return f(float{});
    case DType::F64: return f(double{});
    case DType::I64: return f(int64_t{});
    default: break;
  }
  fail(op, "expected f32, f64 or i64, got ", dtype_name(t));
}

// dst[..., index[i], ...] += src[i] over the shape of index (validated here).
void scatter_add_into(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src,
                      const char* op) {
  check_i64(index, op);
  const int64_t nd = dst.dim();
  const int64_t d = normalize_dim(dim, nd, op);
  SHEARS_CHECK(src.dtype() == dst.dtype(), op, "src dtype ", dtype_name(src.dtype()),
               " does not match dst dtype ", dtype_name(dst.dtype()));
  SHEARS_CHECK(index.dim() == nd && src.dim() == nd, op, "index ", shape_str(index.shape()),
               ", src ", shape_str(src.shape()), " and dst ", shape_str(dst.shape()),
               " must have the same number of dims");
  for (int64_t i = 0; i < nd; ++i) {
    const int64_t n = index.shape()[i];
    SHEARS_CHECK(n <= src.shape()[i] && (i == d || n <= dst.shape()[i]), op, "index shape ",
                 shape_str(index.shape()), " exceeds src shape ", shape_str(src.shape()),
                 " or dst shape ", shape_str(dst.shape()), " at dim ", i);
  }
  check_writable(dst, op);
  Tensor idx = checked_index(index, dst.shape()[d], d, op);
  if (Backend* be = device_backend(op, {&dst, &idx, &src})) return be->scatter_add_(dst, d, idx, src);
  if (idx.numel() == 0) return;
  const Geom g = make_geom(index.shape(), d, dst.strides(), src.strides());
  dispatch_addable(dst.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    index_loop<T, true, true>(dst.data<T>(), src.data<T>(), idx.data<int64_t>(), g);
  });
}

}  // namespace

// x: (..., n, ...), index: (m,) -> (..., m, ...)
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  SHEARS_PROFILE(Indexing);
  check_i64(index, "index_select");
  const int64_t d = normalize_dim(dim, x.dim(), "index_select");
  SHEARS_CHECK(index.dim() <= 1, "index_select", "index must be 1-d, got shape ",
               shape_str(index.shape()));
  Tensor idx = checked_index(index, x.shape()[d], d, "index_select");
  if (Backend* be = device_backend("index_select", {&x, &idx})) return be->index_select(x, d, idx);
  Shape out_shape = x.shape();
  out_shape[d] = idx.numel();
  Tensor out = Tensor::empty(out_shape, x.dtype());
  if (out.numel() == 0) return out;
  const Geom g = make_geom(out_shape, d, x.strides(), out.strides());
  SHEARS_DISPATCH_ALL(x.dtype(), "index_select", [&] {
    index_loop<scalar_t, false, false>(x.data<scalar_t>(), out.data<scalar_t>(),
                                       idx.data<int64_t>(), g);
  });
  return out;
}

// x: (..., n, ...), index: same ndim, index.size(i) <= x.size(i) for i != dim -> index shape
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  SHEARS_PROFILE(Indexing);
  check_i64(index, "gather");
  const int64_t nd = x.dim();
  const int64_t d = normalize_dim(dim, nd, "gather");
  SHEARS_CHECK(index.dim() == nd, "gather", "index of shape ", shape_str(index.shape()),
               " must have as many dims as x of shape ", shape_str(x.shape()));
  for (int64_t i = 0; i < nd; ++i)
    SHEARS_CHECK(i == d || index.shape()[i] <= x.shape()[i], "gather", "index shape ",
                 shape_str(index.shape()), " exceeds x shape ", shape_str(x.shape()),
                 " at dim ", i);
  Tensor idx = checked_index(index, x.shape()[d], d, "gather");
  if (Backend* be = device_backend("gather", {&x, &idx})) return be->gather(x, d, idx);
  Tensor out = Tensor::empty(index.shape(), x.dtype());
  if (out.numel() == 0) return out;
  const Geom g = make_geom(index.shape(), d, x.strides(), out.strides());
  SHEARS_DISPATCH_ALL(x.dtype(), "gather", [&] {
    index_loop<scalar_t, false, true>(x.data<scalar_t>(), out.data<scalar_t>(),
                                      idx.data<int64_t>(), g);
  });
  return out;
}

Tensor scatter_add(const Tensor& base, int64_t dim, const Tensor& index, const Tensor& src) {
  Tensor out = clone(base);
  scatter_add_into(out, dim, index, src, "scatter_add");
  return out;
}

void scatter_add_(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src) {
  SHEARS_PROFILE(Indexing);
  scatter_add_into(dst, dim, index, src, "scatter_add_");
}

// dst: (..., n, ...), index: (m,), src: (..., m, ...)
void index_add_(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src) {
  SHEARS_PROFILE(Indexing);
  const char* op = "index_add_";
  check_i64(index, op);
  const int64_t d = normalize_dim(dim, dst.dim(), op);
  SHEARS_CHECK(index.dim() <= 1, op, "index must be 1-d, got shape ", shape_str(index.shape()));
  SHEARS_CHECK(src.dtype() == dst.dtype(), op, "src dtype ", dtype_name(src.dtype()),
               " does not match dst dtype ", dtype_name(dst.dtype()));
  Tensor idx = checked_index(index, dst.shape()[d], d, op);
  Shape want = dst.shape();
  want[d] = idx.numel();
  SHEARS_CHECK(src.shape() == want, op, "src shape ", shape_str(src.shape()),
               " must be dst shape ", shape_str(dst.shape()), " with dim ", d, " of size ",
               idx.numel(), ", i.e. ", shape_str(want));
  check_writable(dst, op);
  if (Backend* be = device_backend(op, {&dst, &idx, &src})) return be->index_add_(dst, d, idx, src);
  if (src.numel() == 0) return;
  const Geom g = make_geom(want, d, dst.strides(), src.strides());
  dispatch_addable(dst.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    index_loop<T, true, false>(dst.data<T>(), src.data<T>(), idx.data<int64_t>(), g);
  });
}

}  // namespace shears::kernels
