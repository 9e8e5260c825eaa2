// Shared helpers for the Catch2 suites: naive reference reads of strided tensors that
// walk raw storage with shape/strides/offset (independent of the library's copy
// kernels), multi-index loops, random and non-contiguous input makers, and tolerance checks.
#pragma once
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/ops.h"

namespace shears::test {

// ---------------- multi-index machinery ----------------

// Element offset of multi-index `idx` under `strides`, starting at `offset`.
inline int64_t elem_offset(const Shape& idx, const Shape& strides, int64_t offset = 0) {
  int64_t o = offset;
  for (size_t d = 0; d < idx.size(); ++d) o += idx[d] * strides[d];
  return o;
}

// Row-major position of `idx` in `shape`.
inline int64_t linear_index(const Shape& idx, const Shape& shape) {
  int64_t l = 0;
  for (size_t d = 0; d < shape.size(); ++d) l = l * shape[d] + idx[d];
  return l;
}

inline int64_t numel_of(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

// Advances idx in row-major order; false after the last index.
inline bool next_index(Shape& idx, const Shape& shape) {
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    if (++idx[d] < shape[d]) return true;
    idx[d] = 0;
  }
  return false;
}

// Calls f(idx) for every multi-index of shape in row-major order (once for a 0-d shape).
template <typename F>
void for_each_index(const Shape& shape, F&& f) {
  if (numel_of(shape) == 0) return;
  Shape idx(shape.size(), 0);
  do {
    f(static_cast<const Shape&>(idx));
  } while (next_index(idx, shape));
}

// Reads one element at storage element position `pos` (relative to the storage start).
inline double read_storage(const Tensor& t, int64_t pos) {
  const void* base = t.storage()->data();
  switch (t.dtype()) {
    case DType::F32: return static_cast<const float*>(base)[pos];
    case DType::F64: return static_cast<const double*>(base)[pos];
    case DType::I64: return static_cast<double>(static_cast<const int64_t*>(base)[pos]);
    case DType::Bool: return static_cast<const bool*>(base)[pos] ? 1.0 : 0.0;
  }
  return 0.0;
}

// All elements of t in logical (row-major) order, read through its own strides.
inline std::vector<double> ref_values(const Tensor& t) {
  std::vector<double> out;
  out.reserve(static_cast<size_t>(numel_of(t.shape())));
  for_each_index(t.shape(), [&](const Shape& idx) {
    out.push_back(read_storage(t, elem_offset(idx, t.strides(), t.offset())));
  });
  return out;
}

// A dense row-major array of doubles with a shape: the reference side of every test.
struct Ref {
  Shape shape;
  std::vector<double> v;

  Ref() = default;
  explicit Ref(Shape s, double fill = 0.0) : shape(std::move(s)), v(static_cast<size_t>(numel_of(shape)), fill) {}
  Ref(Shape s, std::vector<double> values) : shape(std::move(s)), v(std::move(values)) {}

  double& operator[](const Shape& idx) { return v[static_cast<size_t>(linear_index(idx, shape))]; }
  double at(const Shape& idx) const { return v[static_cast<size_t>(linear_index(idx, shape))]; }
  // Value at an index of a shape this one broadcasts to (numpy rules, right aligned).
  double at_broadcast(const Shape& out_idx) const {
    const size_t lead = out_idx.size() - shape.size();
    int64_t l = 0;
    for (size_t d = 0; d < shape.size(); ++d) l = l * shape[d] + (shape[d] == 1 ? 0 : out_idx[lead + d]);
    return v[static_cast<size_t>(l)];
  }
};

inline Ref ref_of(const Tensor& t) { return Ref(t.shape(), ref_values(t)); }

// Numpy broadcast of two shapes (reference, no error handling).
inline Shape broadcast_shape(const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// Reference elementwise maps with broadcasting.
template <typename F>
Ref ref_map(const Ref& x, F f) {
  Ref out(x.shape);
  for (size_t i = 0; i < x.v.size(); ++i) out.v[i] = f(x.v[i]);
  return out;
}
template <typename F>
Ref ref_map2(const Ref& a, const Ref& b, F f) {
  Ref out(broadcast_shape(a.shape, b.shape));
  for_each_index(out.shape, [&](const Shape& idx) { out[idx] = f(a.at_broadcast(idx), b.at_broadcast(idx)); });
  return out;
}

// ---------------- input makers ----------------

// Deterministic uniform values in [lo, hi) from std::mt19937_64 (independent of the library RNG).
inline std::vector<double> random_values(int64_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937_64 eng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(eng);
  return v;
}

// A contiguous tensor of `dtype` holding `values` (converted).
inline Tensor tensor_of(const std::vector<double>& values, const Shape& shape, DType dtype) {
  REQUIRE(numel_of(shape) == static_cast<int64_t>(values.size()));
  Tensor t = Tensor::empty(shape, dtype);
  void* p = t.raw_data();
  for (size_t i = 0; i < values.size(); ++i) {
    switch (dtype) {
      case DType::F32: static_cast<float*>(p)[i] = static_cast<float>(values[i]); break;
      case DType::F64: static_cast<double*>(p)[i] = values[i]; break;
      case DType::I64: static_cast<int64_t*>(p)[i] = static_cast<int64_t>(values[i]); break;
      case DType::Bool: static_cast<bool*>(p)[i] = values[i] != 0.0; break;
    }
  }
  return t;
}

// A contiguous random tensor with values uniform in [lo, hi).
inline Tensor random_tensor(const Shape& shape, DType dtype, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return tensor_of(random_values(numel_of(shape), seed, lo, hi), shape, dtype);
}

// A random bool tensor (each element true with probability 1/2).
inline Tensor random_bool(const Shape& shape, uint64_t seed) {
  std::vector<double> v = random_values(numel_of(shape), seed, 0.0, 1.0);
  for (auto& x : v) x = x < 0.5 ? 1.0 : 0.0;
  return tensor_of(v, shape, DType::Bool);
}

// A non-contiguous random tensor of `shape`: every other element of the last dim of a
// bigger tensor (kernels::slice with step 2, also offset by one element).
inline Tensor noncontig_tensor(const Shape& shape, DType dtype, uint64_t seed, double lo = -1.0,
                               double hi = 1.0) {
  REQUIRE(!shape.empty());
  Shape big = shape;
  big.back() = 2 * shape.back() + 1;
  Tensor t = kernels::slice(random_tensor(big, dtype, seed, lo, hi), -1, 1, big.back(), 2);
  REQUIRE(t.shape() == shape);
  if (numel_of(shape) > 1 && shape.back() > 1) REQUIRE_FALSE(t.is_contiguous());
  return t;
}

// A non-contiguous random tensor of `shape` (>= 2-d): the transpose of its last two dims
// of a contiguous tensor.
inline Tensor transposed_tensor(const Shape& shape, DType dtype, uint64_t seed, double lo = -1.0,
                                double hi = 1.0) {
  REQUIRE(shape.size() >= 2);
  Shape base = shape;
  std::swap(base[base.size() - 1], base[base.size() - 2]);
  Tensor t = kernels::transpose(random_tensor(base, dtype, seed, lo, hi), -1, -2);
  REQUIRE(t.shape() == shape);
  return t;
}

// A random tensor of `shape` with a randomly chosen layout: some size-1 source dims
// expanded (stride 0), dims permuted in memory, and one memory dim read with step 2.
inline Tensor random_layout(const Shape& shape, DType dtype, std::mt19937_64& rng, double lo = -1.0,
                            double hi = 1.0) {
  const size_t nd = shape.size();
  Shape src = shape;
  const bool use_expand = nd > 0 && rng() % 3 == 0;
  if (use_expand)
    for (size_t d = 0; d < nd; ++d)
      if (rng() % 3 == 0) src[d] = 1;
  Shape perm(nd);
  for (size_t d = 0; d < nd; ++d) perm[d] = int64_t(d);
  if (rng() % 2) std::shuffle(perm.begin(), perm.end(), rng);
  Shape base(nd);
  for (size_t i = 0; i < nd; ++i) base[size_t(perm[i])] = src[i];
  const int64_t sd = (nd > 0 && rng() % 2) ? int64_t(rng() % nd) : -1;
  Shape big = base;
  if (sd >= 0) big[size_t(sd)] = 2 * base[size_t(sd)] + 1;
  Tensor t = random_tensor(big, dtype, rng(), lo, hi);
  if (sd >= 0) t = kernels::slice(t, sd, 1, big[size_t(sd)], 2);
  t = kernels::permute(t, perm);
  if (use_expand) t = kernels::expand(t, shape);
  REQUIRE(t.shape() == shape);
  return t;
}

// A random shape of 0..max_dims dims with sizes in [1, max_size].
inline Shape random_shape(std::mt19937_64& rng, int max_dims = 4, int max_size = 4) {
  Shape s(size_t(rng() % uint64_t(max_dims + 1)));
  for (auto& d : s) d = 1 + int64_t(rng() % uint64_t(max_size));
  return s;
}

// Marks a float leaf as requiring grad (so the op is recorded) and returns it.
inline Tensor with_grad(Tensor t, bool requires_grad = true) {
  if (requires_grad && is_floating(t.dtype())) t.set_requires_grad(true);
  return t;
}

// ---------------- checks ----------------

// Tolerance used by the forward tests: relative for |want| > 1, absolute below.
inline double default_tol(DType dtype) { return dtype == DType::F32 ? 1e-5 : 1e-12; }

// REQUIREs got.shape() == want.shape and max_i |got_i - want_i| / max(1, |want_i|) <= tol
// (NaN and inf must match exactly). Reports the worst element.
inline void require_close(const Tensor& got, const Ref& want, double tol) {
  INFO("got shape " << shape_str(got.shape()) << ", want shape " << shape_str(want.shape));
  REQUIRE(got.shape() == want.shape);
  std::vector<double> g = ref_values(got);
  REQUIRE(want.v.size() == g.size());
  double worst = 0.0;
  size_t worst_i = 0;
  bool special_mismatch = false;
  for (size_t i = 0; i < g.size(); ++i) {
    const double w = want.v[i];
    if (std::isnan(w) || std::isinf(w)) {
      const bool same = std::isnan(w) ? std::isnan(g[i]) : g[i] == w;
      if (!same) { special_mismatch = true; worst_i = i; }
      continue;
    }
    const double err = std::isfinite(g[i]) ? std::fabs(g[i] - w) / std::max(1.0, std::fabs(w)) : INFINITY;
    if (err > worst) {
      worst = err;
      worst_i = i;
    }
  }
  INFO("worst element " << worst_i << ": got " << (g.empty() ? 0.0 : g[worst_i]) << ", want "
                        << (want.v.empty() ? 0.0 : want.v[worst_i]) << ", scaled error " << worst
                        << ", tol " << tol);
  REQUIRE_FALSE(special_mismatch);
  REQUIRE(worst <= tol);
}

inline void require_close(const Tensor& got, const Tensor& want, double tol) { require_close(got, ref_of(want), tol); }

// Exact comparison of shape and every value.
inline void require_equal(const Tensor& got, const Ref& want) { require_close(got, want, 0.0); }

}  // namespace shears::test
