// Reductions over dims: sum/mean/max/min, argmax/argmin, var and sum_to (the inverse of
// broadcasting). Every input is brought to a contiguous (outer, red, inner) view and
// reduced along rows (inner == 1) or down columns; chunk sizes are fixed constants, so
// results are bit-identical for any thread count. f32 sums accumulate in double.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "tensor/kernels.h"
#include "tensor/parallel.h"

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

template <typename T> T lowest_value() {
  if constexpr (std::is_floating_point_v<T>) return -std::numeric_limits<T>::infinity();
  else return std::numeric_limits<T>::lowest();
}
template <typename T> T highest_value() {
  if constexpr (std::is_floating_point_v<T>) return std::numeric_limits<T>::infinity();
  else return std::numeric_limits<T>::max();
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
  acc_t init() const { return kMax ? lowest_value<T>() : highest_value<T>(); }
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
  const int64_t out0 = o * c.inner + j0;
  for (int64_t r = r0; r < r1; ++r) {
    const T* row = x + (o * c.red + r) * c.inner + j0;
    for (int64_t j = 0; j < w; ++j) op.step(acc[j], row[j], r, out0 + j);
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
  if (c.inner == 1) {  // rows: each output reduces one contiguous row
    const int64_t chunks = (c.red + kRowChunk - 1) / kRowChunk;
    if (chunks == 1) {
      parallel_for(c.outer, grain_for(c.red), [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o)
          out[o] = op.finish(reduce_span(op, x + o * c.red, c.red, 0, o), o, c.red);
      });
      return;
    }
    std::vector<A> part(c.outer * chunks);  // (outer, chunks)
    parallel_for(c.outer * chunks, grain_for(kRowChunk), [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t o = t / chunks, r0 = (t % chunks) * kRowChunk;
        part[t] = reduce_span(op, x + o * c.red + r0, std::min(kRowChunk, c.red - r0), r0, o);
      }
    });
    parallel_for(c.outer, grain_for(chunks), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        A a = part[o * chunks];
        for (int64_t k = 1; k < chunks; ++k) op.merge(a, part[o * chunks + k]);
        out[o] = op.finish(a, o, c.red);
      }
    });
    return;
  }
  // columns: accumulate row by row into a block of outputs (contiguous inner loop)
  const int64_t blocks = (c.inner + kColBlock - 1) / kColBlock;
  const int64_t chunks = (c.red + kColChunk - 1) / kColChunk;
  const int64_t width = std::min(c.inner, kColBlock);
  if (chunks == 1) {
    parallel_for(c.outer * blocks, grain_for(c.red * width), [&](int64_t b, int64_t e) {
      A acc[kColBlock];
      for (int64_t t = b; t < e; ++t) {
        const int64_t o = t / blocks, j0 = (t % blocks) * kColBlock;
        const int64_t w = std::min(kColBlock, c.inner - j0);
        reduce_cols(op, x, c, o, 0, c.red, j0, w, acc);
        for (int64_t j = 0; j < w; ++j) out[o * c.inner + j0 + j] = op.finish(acc[j], o * c.inner + j0 + j, c.red);
      }
    });
    return;
  }
  std::vector<A> part(c.outer * chunks * c.inner);  // (outer, chunks, inner)
  parallel_for(c.outer * chunks * blocks, grain_for(kColChunk * width), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t blk = t % blocks, k = (t / blocks) % chunks, o = t / (blocks * chunks);
      const int64_t j0 = blk * kColBlock, w = std::min(kColBlock, c.inner - j0);
      const int64_t r0 = k * kColChunk, r1 = std::min(c.red, r0 + kColChunk);
      reduce_cols(op, x, c, o, r0, r1, j0, w, part.data() + (o * chunks + k) * c.inner + j0);
    }
  });
  parallel_for(c.outer * blocks, grain_for(chunks * width), [&](int64_t b, int64_t e) {
    A acc[kColBlock];
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / blocks, j0 = (t % blocks) * kColBlock;
      const int64_t w = std::min(kColBlock, c.inner - j0);
      const A* p = part.data() + o * chunks * c.inner + j0;
      for (int64_t j = 0; j < w; ++j) acc[j] = p[j];
      for (int64_t k = 1; k < chunks; ++k)
        for (int64_t j = 0; j < w; ++j) op.merge(acc[j], p[k * c.inner + j]);
      for (int64_t j = 0; j < w; ++j) out[o * c.inner + j0 + j] = op.finish(acc[j], o * c.inner + j0 + j, c.red);
    }
  });
}

// A reduction's input in canonical form plus the output shape.
struct Prepared {
  Tensor x;  // contiguous, viewed as (outer, red, inner)
  Canon c;
  Shape out_shape;
};

// Normalizes dims (empty = all), then picks the cheapest contiguous layout: the input
// itself when its non-trivial dims group as [kept] [reduced] [kept], otherwise a copy
// permuted to (kept..., reduced...).
Prepared prepare(const Tensor& x, const Shape& dims, bool keepdim, const char* op) {
  const int64_t nd = x.dim();
  std::vector<bool> red(nd, dims.empty());
  for (int64_t d : dims) {
    const int64_t dd = normalize_dim(d, std::max<int64_t>(nd, 1), op);
    if (nd == 0) continue;  // a 0-d tensor accepts dim 0 / -1
    if (red[dd]) fail(op, "dim ", d, " appears more than once in dims");
    red[dd] = true;
  }
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
  // group non-trivial dims into runs of kept / reduced
  std::vector<std::pair<bool, int64_t>> runs;
  for (int64_t i = 0; i < nd; ++i) {
    const int64_t s = x.shape()[i];
    if (s == 1) continue;
    if (!runs.empty() && runs.back().first == red[i]) runs.back().second *= s;
    else runs.push_back({red[i], s});
  }
  size_t k = 0;
  Canon c;
  if (k < runs.size() && !runs[k].first) c.outer = runs[k++].second;
  if (k < runs.size() && runs[k].first) c.red = runs[k++].second;
  if (k < runs.size() && !runs[k].first) c.inner = runs[k++].second;
  if (k == runs.size()) {
    p.x = contiguous(x);
    p.c = c;
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
  const char* name = reduce_name(op);
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
template <bool kMax> Tensor arg_extremum(const Tensor& x, int64_t dim, bool keepdim, const char* op) {
  const Prepared p = prepare(x, Shape{dim}, keepdim, op);
  check_nonempty(p, x, op);
  return dispatch_numeric(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    return run_to_tensor<T>(ArgOp<T, kMax>{}, p, DType::I64);
  });
}
}  // namespace

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_extremum<true>(x, dim, keepdim, "argmax");
}
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_extremum<false>(x, dim, keepdim, "argmin");
}

// Two passes: the mean of every output in double, then the squared deviations from it.
Tensor var(const Tensor& x, const Shape& dims, int64_t correction, bool keepdim) {
  SHEARS_CHECK(correction >= 0, "var", "correction must be >= 0, got ", correction);
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
