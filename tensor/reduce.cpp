// Reductions over dims: sum/mean/max/min, argmax/argmin, var and sum_to (the inverse of
// broadcasting). Every input is brought to a contiguous (outer, red, inner) view and
// reduced along rows (inner == 1) or down columns; chunk sizes are fixed constants, so
// results are bit-identical for any thread count. f32 sums accumulate in double.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <type_traits>
#include <vector>

#include "tensor/device_dispatch.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"
#include "tensor/profile.h"

namespace shears::kernels {
namespace {

constexpr int64_t kRowChunk = 8192;  // elements of one row reduced by one task
constexpr int64_t kColChunk = 256;   // rows of a column reduction handled by one task
constexpr int64_t kColBlock = 256;   // columns per task (accumulators stay in L1)
constexpr int kLanes = 8;            // independent accumulators along a row

// Contiguous data viewed as (outer, red, inner), reduced over red to (outer, inner).
struct Canon {
  int64_t outer = 1, red = 1, inner = 1;
};

template <typename T> bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

// The identity of max (kMax) or min: -inf / +inf, or the extreme integer.
template <typename T, bool kMax> T extremum_identity() {
  using L = std::numeric_limits<T>;
  if constexpr (L::has_infinity) return kMax ? -L::infinity() : L::infinity();
  else return kMax ? L::lowest() : L::max();
}

// ---- policies: init, step(acc, value, index along red, output index), merge(earlier,
// later) and finish(acc, output index, count) ----

// Sum (or mean when `mean`) written as Out; floats accumulate in double.
template <typename T, typename Out = T> struct SumOp {
  using acc_t = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
  using out_t = Out;
  bool mean = false;
  acc_t init() const { return 0; }
  void step(acc_t& a, T v, int64_t, int64_t) const { a += static_cast<acc_t>(v); }
  void merge(acc_t& a, const acc_t& b) const { a += b; }
  Out finish(acc_t a, int64_t, int64_t n) const {
    return mean ? static_cast<Out>(static_cast<double>(a) / static_cast<double>(n))
                : static_cast<Out>(a);
  }
};

// Max (kMax) or min; NaN propagates as in PyTorch.
template <typename T, bool kMax> struct ExtremumOp {
  using acc_t = T;
  using out_t = T;
  acc_t init() const { return extremum_identity<T, kMax>(); }
  void step(T& a, T v, int64_t, int64_t) const {
    a = (is_nan(v) || (kMax ? v > a : v < a)) ? v : a;
  }
  void merge(T& a, const T& b) const { step(a, b, 0, 0); }
  T finish(T a, int64_t, int64_t) const { return a; }
};

// Index of the max (kMax) or min. Ties go to the lowest index; NaN counts as the
// extreme value, so the first NaN wins (PyTorch semantics).
template <typename T> struct ArgAcc {
  T val;
  int64_t idx;
};
template <typename T, bool kMax> struct ArgOp {
  using acc_t = ArgAcc<T>;
  using out_t = int64_t;
  static bool better(T v, T a) { return kMax ? v > a : v < a; }
  acc_t init() const { return {T(0), -1}; }
  void step(acc_t& a, T v, int64_t r, int64_t) const {
    if (a.idx < 0 || (!is_nan(a.val) && (is_nan(v) || better(v, a.val)))) a = {v, r};
  }
  void merge(acc_t& a, const acc_t& b) const {  // lanes are not index-ordered
    if (b.idx < 0) return;
    if (a.idx < 0) { a = b; return; }
    const bool an = is_nan(a.val), bn = is_nan(b.val);
    if (an || bn) {
      if (bn && (!an || b.idx < a.idx)) a = b;
      return;
    }
    if (better(b.val, a.val) || (b.val == a.val && b.idx < a.idx)) a = b;
  }
  int64_t finish(const acc_t& a, int64_t, int64_t) const { return a.idx; }
};

// Sum of squared deviations from a per-output center, divided by max(0, n - correction).
template <typename T> struct SqDevOp {
  using acc_t = double;
  using out_t = T;
  const double* center = nullptr;
  int64_t correction = 1;
  acc_t init() const { return 0.0; }
  void step(double& a, T v, int64_t, int64_t o) const {
    const double d = static_cast<double>(v) - center[o];
    a += d * d;
  }
  void merge(double& a, const double& b) const { a += b; }
  T finish(double a, int64_t, int64_t n) const {
    return static_cast<T>(a / static_cast<double>(std::max<int64_t>(0, n - correction)));
  }
};

// ---- the engine ----

// Reduces the contiguous span p[0, n), whose first element sits at red index r0.
template <typename T, typename Op>
typename Op::acc_t reduce_span(const Op& op, const T* p, int64_t n, int64_t r0, int64_t o) {
  typename Op::acc_t lane[kLanes];
  for (auto& a : lane) a = op.init();
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int k = 0; k < kLanes; ++k) op.step(lane[k], p[i + k], r0 + i + k, o);
  for (; i < n; ++i) op.step(lane[i % kLanes], p[i], r0 + i, o);
  for (int k = 1; k < kLanes; ++k) op.merge(lane[0], lane[k]);
  return lane[0];
}

// acc[0, w) = reduction of rows [r0, r1) of columns [j0, j0 + w) of slab o.
template <typename T, typename Op>
void reduce_cols(const Op& op, const T* x, const Canon& c, int64_t o, int64_t r0, int64_t r1,
                 int64_t j0, int64_t w, typename Op::acc_t* acc) {
  for (int64_t j = 0; j < w; ++j) acc[j] = op.init();
  const int64_t out0 = o * c.inner + j0, ld = c.inner;
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) {  // four rows per pass keep acc[j] in a register
    const T* p = x + (o * c.red + r) * ld + j0;
    for (int64_t j = 0; j < w; ++j) {
      typename Op::acc_t a = acc[j];
      op.step(a, p[j], r, out0 + j);
      op.step(a, p[ld + j], r + 1, out0 + j);
      op.step(a, p[2 * ld + j], r + 2, out0 + j);
      op.step(a, p[3 * ld + j], r + 3, out0 + j);
      acc[j] = a;
    }
  }
  for (; r < r1; ++r) {
    const T* p = x + (o * c.red + r) * ld + j0;
    for (int64_t j = 0; j < w; ++j) op.step(acc[j], p[j], r, out0 + j);
  }
}

// x: (outer, red, inner) contiguous -> out: (outer, inner) contiguous
template <typename T, typename Op>
void run_reduce(const Op& op, const T* x, const Canon& c, typename Op::out_t* out) {
  using A = typename Op::acc_t;
  const int64_t n_out = c.outer * c.inner;
  if (n_out == 0) return;
  if (c.red == 0) {
    for (int64_t i = 0; i < n_out; ++i) out[i] = op.finish(op.init(), i, 0);
    return;
  }
  // Pass 1: task (o, chunk k, column block) reduces rows [r0, r1) of its columns into
  // part (outer, chunks, inner). Rows (inner == 1) use a lane-split span reduction;
  // columns accumulate row by row into a block of outputs (contiguous inner loop).
  const bool rows = c.inner == 1;
  const int64_t chunk = rows ? kRowChunk : kColChunk;
  const int64_t chunks = (c.red + chunk - 1) / chunk;
  const int64_t blocks = (c.inner + kColBlock - 1) / kColBlock;
  const int64_t width = std::min(c.inner, kColBlock);
  std::vector<A> part(c.outer * chunks * c.inner);
  const int64_t tasks = c.outer * chunks * blocks;
  parallel_for(tasks, grain_for(std::min(chunk, c.red) * width), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t blk = t % blocks, k = (t / blocks) % chunks, o = t / (blocks * chunks);
      const int64_t j0 = blk * kColBlock, w = std::min(kColBlock, c.inner - j0);
      const int64_t r0 = k * chunk, r1 = std::min(c.red, r0 + chunk);
      A* dst = part.data() + (o * chunks + k) * c.inner + j0;
      if (rows) *dst = reduce_span(op, x + o * c.red + r0, r1 - r0, r0, o);
      else reduce_cols(op, x, c, o, r0, r1, j0, w, dst);
    }
  });
  // Pass 2: merge the chunks of every output in chunk order.
  parallel_for(c.outer * blocks, grain_for(chunks * width), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / blocks, j0 = (t % blocks) * kColBlock;
      const int64_t j1 = std::min(c.inner, j0 + kColBlock);
      const A* p = part.data() + o * chunks * c.inner;
      for (int64_t j = j0; j < j1; ++j) {
        A a = p[j];
        for (int64_t k = 1; k < chunks; ++k) op.merge(a, p[k * c.inner + j]);
        out[o * c.inner + j] = op.finish(a, o * c.inner + j, c.red);
      }
    }
  });
}

// A reduction's input in canonical form plus the output shape.
struct Prepared {
  Tensor x;  // contiguous, viewed as (outer, red, inner)
  Canon c;
  Shape out_shape;
};

// The non-trivial dims of x from outermost to innermost in memory when x densely fills
// its memory block under some permutation (contiguous, or e.g. a transpose).
std::optional<Shape> dense_order(const Tensor& x) {
  Shape order;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (x.shape()[d] != 1) order.push_back(d);
  const Shape& st = x.strides();
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return st[a] > st[b]; });
  int64_t expect = 1;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (st[*it] != expect) return std::nullopt;
    expect *= x.shape()[*it];
  }
  return order;
}

// (outer, red, inner) when the dims of `order` (all of size > 1) group as [kept]
// [reduced] [kept] and the kept dims stay in logical order, so the output is in place.
std::optional<Canon> match_canon(const Tensor& x, const std::vector<bool>& red,
                                 const Shape& order) {
  std::vector<std::pair<bool, int64_t>> runs;
  int64_t last_kept = -1;
  for (int64_t d : order) {
    if (!red[d]) {
      if (d < last_kept) return std::nullopt;
      last_kept = d;
    }
    if (!runs.empty() && runs.back().first == red[d]) runs.back().second *= x.shape()[d];
    else runs.push_back({red[d], x.shape()[d]});
  }
  size_t k = 0;
  Canon c;
  if (k < runs.size() && !runs[k].first) c.outer = runs[k++].second;
  if (k < runs.size() && runs[k].first) c.red = runs[k++].second;
  if (k < runs.size() && !runs[k].first) c.inner = runs[k++].second;
  if (k != runs.size()) return std::nullopt;
  return c;
}

// Normalizes dims (empty = all), then picks the cheapest layout: the input itself when
// it is dense and its dims in memory order group as [kept] [reduced] [kept], else a
// contiguous copy when the logical order groups so, else a copy permuted to
// (kept..., reduced...).
// Which dims of x are reduced (empty dims = all); each dim checked, none twice.
std::vector<bool> reduced_dims(const Tensor& x, const Shape& dims, const char* op) {
  const int64_t nd = x.dim();
  std::vector<bool> red(nd, dims.empty());
  for (int64_t d : dims) {
    const int64_t dd = normalize_dim(d, std::max<int64_t>(nd, 1), op);
    if (nd == 0) continue;  // a 0-d tensor accepts dim 0 / -1
    if (red[dd]) fail(op, "dim ", d, " appears more than once in dims");
    red[dd] = true;
  }
  return red;
}

Prepared prepare(const Tensor& x, const Shape& dims, bool keepdim, const char* op) {
  const int64_t nd = x.dim();
  const std::vector<bool> red = reduced_dims(x, dims, op);
  Prepared p;
  int64_t kept_n = 1, red_n = 1;
  Shape kept_dims, red_dims;
  for (int64_t i = 0; i < nd; ++i) {
    const int64_t s = x.shape()[i];
    if (red[i]) {
      red_n *= s;
      red_dims.push_back(i);
      if (keepdim) p.out_shape.push_back(1);
    } else {
      kept_n *= s;
      kept_dims.push_back(i);
      p.out_shape.push_back(s);
    }
  }
  if (red_n == 0 || kept_n == 0) {  // no data is read
    p.x = x;
    p.c = {kept_n, red_n, 1};
    return p;
  }
  if (auto order = dense_order(x))  // contiguous, or dense under a permutation: no copy
    if (auto c = match_canon(x, red, *order)) {
      p.x = x;
      p.c = *c;
      return p;
    }
  Shape logical;
  for (int64_t i = 0; i < nd; ++i)
    if (x.shape()[i] != 1) logical.push_back(i);
  if (auto c = match_canon(x, red, logical)) {
    p.x = contiguous(x);
    p.c = *c;
    return p;
  }
  Shape perm = kept_dims;
  perm.insert(perm.end(), red_dims.begin(), red_dims.end());
  p.x = contiguous(permute(x, perm));
  p.c = {kept_n, red_n, 1};
  return p;
}

const char* reduce_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Mean: return "mean";
    case ReduceOp::Max: return "max";
    case ReduceOp::Min: return "min";
  }
  return "reduce";
}

// Calls f(T{}) for f32, f64 and i64; other dtypes fail naming op.
template <typename F> Tensor dispatch_numeric(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::F32: return f(float{});
    case DType::F64: return f(double{});
    case DType::I64: return f(int64_t{});
    default: break;
  }
  fail(op, "expected f32, f64 or i64, got ", dtype_name(t));
}

// The input's data, or null when nothing will be read (an empty input or output).
template <typename T> const T* input_data(const Prepared& p) {
  return p.c.red > 0 && p.c.outer > 0 && p.c.inner > 0 ? p.x.data<T>() : nullptr;
}

template <typename T, typename Op>
Tensor run_to_tensor(const Op& op, const Prepared& p, DType out_dtype) {
  Tensor out = Tensor::empty(p.out_shape, out_dtype);
  run_reduce(op, input_data<T>(p), p.c, out.data<typename Op::out_t>());
  return out;
}

void check_nonempty(const Prepared& p, const Tensor& x, const char* op) {
  if (p.c.red == 0)
    fail(op, "cannot reduce over an empty dim of a tensor of shape ", shape_str(x.shape()));
}

}  // namespace

Tensor reduce(ReduceOp op, const Tensor& x, const Shape& dims, bool keepdim) {
  SHEARS_PROFILE(Reduce);
  const char* name = reduce_name(op);
  if (Backend* be = device_backend(name, {&x})) {
    reduced_dims(x, dims, name);  // validates
    return be->reduce(op, x, dims, keepdim);
  }
  const Prepared p = prepare(x, dims, keepdim, name);
  switch (op) {
    case ReduceOp::Sum:
      return dispatch_numeric(x.dtype(), name, [&](auto tag) {
        using T = decltype(tag);
        return run_to_tensor<T>(SumOp<T>{}, p, x.dtype());
      });
    case ReduceOp::Mean:
      return SHEARS_DISPATCH_FLOAT(x.dtype(), name, [&] {
        return run_to_tensor<scalar_t>(SumOp<scalar_t>{true}, p, x.dtype());
      });
    case ReduceOp::Max:
    case ReduceOp::Min:
      check_nonempty(p, x, name);
      return dispatch_numeric(x.dtype(), name, [&](auto tag) {
        using T = decltype(tag);
        if (op == ReduceOp::Max) return run_to_tensor<T>(ExtremumOp<T, true>{}, p, x.dtype());
        return run_to_tensor<T>(ExtremumOp<T, false>{}, p, x.dtype());
      });
  }
  fail(name, "unknown reduction");
}

namespace {
template <bool kMax>
Tensor arg_extremum(const Tensor& x, int64_t dim, bool keepdim, const char* op) {
  if (Backend* be = device_backend(op, {&x})) {
    reduced_dims(x, Shape{dim}, op);  // validates
    return be->arg_extremum(x, dim, keepdim, kMax);
  }
  const Prepared p = prepare(x, Shape{dim}, keepdim, op);
  check_nonempty(p, x, op);
  return dispatch_numeric(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    return run_to_tensor<T>(ArgOp<T, kMax>{}, p, DType::I64);
  });
}
}  // namespace

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  SHEARS_PROFILE(Reduce);
  return arg_extremum<true>(x, dim, keepdim, "argmax");
}
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_extremum<false>(x, dim, keepdim, "argmin");
}

// Two passes: the mean of every output in double, then the squared deviations from it.
Tensor var(const Tensor& x, const Shape& dims, int64_t correction, bool keepdim) {
  SHEARS_PROFILE(Reduce);
  SHEARS_CHECK(correction >= 0, "var", "correction must be >= 0, got ", correction);
  if (Backend* be = device_backend("var", {&x})) {
    reduced_dims(x, dims, "var");  // validates
    return be->var(x, dims, correction, keepdim);
  }
  const Prepared p = prepare(x, dims, keepdim, "var");
  return SHEARS_DISPATCH_FLOAT(x.dtype(), "var", [&] {
    using T = scalar_t;
    const T* data = input_data<T>(p);
    std::vector<double> mean(p.c.outer * p.c.inner);
    run_reduce(SumOp<T, double>{true}, data, p.c, mean.data());
    SqDevOp<T> op;
    op.center = mean.data();
    op.correction = correction;
    Tensor out = Tensor::empty(p.out_shape, x.dtype());
    run_reduce(op, data, p.c, out.data<T>());
    return out;
  });
}

// g: (..., broadcast shape) -> shape: sums the leading extra dims and the dims where
// shape has 1 but g does not.
Tensor sum_to(const Tensor& g, const Shape& shape) {
  SHEARS_PROFILE(Reduce);
  if (g.shape() == shape) return g;
  const int64_t nd = g.dim(), ns = static_cast<int64_t>(shape.size());
  const int64_t lead = nd - ns;
  bool ok = lead >= 0;
  Shape dims;
  for (int64_t i = 0; ok && i < lead; ++i) dims.push_back(i);
  for (int64_t i = 0; ok && i < ns; ++i) {
    const int64_t gs = g.shape()[lead + i];
    if (shape[i] == gs) continue;
    if (shape[i] == 1) dims.push_back(lead + i);
    else ok = false;
  }
  if (!ok)
    fail("sum_to", "cannot sum a gradient of shape ", shape_str(g.shape()), " to shape ",
         shape_str(shape));
  if (dims.empty()) return reshape(g, shape);  // only size-1 dims differ
  return reshape(reduce(ReduceOp::Sum, g, dims, false), shape);
}

}  // namespace shears::kernels
