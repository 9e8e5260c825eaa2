// Shape helpers (see shape.h).
#include "tensor/shape.h"

#include "tensor/error.h"

namespace shears {

int64_t checked_mul(int64_t a, int64_t b, const char* op, const char* what) {
  int64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) fail(op, what, " overflows int64: ", a, " * ", b);
  return out;
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) {
    if (s < 0) fail("shape", "negative size in ", shape_str(shape));
    if (__builtin_mul_overflow(n, s, &n))
      fail("shape", "the element count of ", shape_str(shape), " overflows int64");
  }
  return n;
}

int64_t shape_nbytes(const Shape& shape, int64_t elem_size) {
  int64_t n = 0;
  if (__builtin_mul_overflow(shape_numel(shape), elem_size, &n))
    fail("shape", "the byte count of ", shape_str(shape), " with ", elem_size, "-byte elements overflows int64");
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0; --i) {
    strides[i] = s;
    // zero-size dims count as 1, so a (0, 2^40, 2^40) shape still needs overflow checks
    if (i > 0 && __builtin_mul_overflow(s, shape[i] > 0 ? shape[i] : 1, &s))
      fail("shape", "the strides of ", shape_str(shape), " overflow int64");
  }
  return strides;
}

std::string shape_str(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

int64_t normalize_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t d = dim < 0 ? dim + ndim : dim;
  if (d < 0 || d >= ndim) fail(op, "dim ", dim, " out of range for a ", ndim, "-d tensor");
  return d;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      fail(op, "shapes ", shape_str(a), " and ", shape_str(b), " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Shape broadcast_strides(const Shape& shape, const Shape& strides, const Shape& out) {
  Shape res(out.size(), 0);
  size_t off = out.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i)
    res[off + i] = (shape[i] == 1 && out[off + i] != 1) ? 0 : strides[i];
  return res;
}

}  // namespace shears
