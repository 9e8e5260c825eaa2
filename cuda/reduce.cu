// CUDA kernels of the reductions: sum/mean/max/min over any dims, argmax/argmin and var, device
// mirrors of tensor/reduce.cpp (the same NaN rules, tie-breaking and dtypes), reading strided inputs
// in place; f32 sums accumulate in double. The split of a long reduction depends on the shape only.

#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_common.h"
#include "tensor/kernels.h"

namespace shears::cuda {
namespace {

constexpr int kThreads = 256;  // threads of a 1-d block
constexpr int kWarp = 32;
constexpr int kRows = 8;  // warps of a (32, 8) reduction block

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ======================= reduction policies (as tensor/reduce.cpp) =======================
// init, step(acc, value, index along the reduced extent, output index), merge(acc, other) and
// finish(acc, output index, count of reduced elements).

template <typename T> __device__ bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return isnan(v);
  else return false;
}

// Sum (or mean when `mean`) written as Out; floats accumulate in double.
template <typename T, typename Out = T> struct SumOp {
  using acc_t = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
  using out_t = Out;
  bool mean = false;
  __device__ acc_t init() const { return 0; }
  __device__ void step(acc_t& a, T v, int64_t, int64_t) const { a += static_cast<acc_t>(v); }
  __device__ void merge(acc_t& a, const acc_t& b) const { a += b; }
  __device__ Out finish(acc_t a, int64_t, int64_t n) const {
    return mean ? static_cast<Out>(static_cast<double>(a) / static_cast<double>(n)) : static_cast<Out>(a);
  }
};

// Max (kMax) or min; NaN propagates (PyTorch semantics), like the host.
template <typename T, bool kMax> struct ExtremumOp {
  using acc_t = T;
  using out_t = T;
  __device__ T init() const {
    using L = std::numeric_limits<T>;
    if constexpr (L::has_infinity) return kMax ? -L::infinity() : L::infinity();
    else return kMax ? L::lowest() : L::max();
  }
  __device__ void step(T& a, T v, int64_t, int64_t) const { a = (is_nan(v) || (kMax ? v > a : v < a)) ? v : a; }
  __device__ void merge(T& a, const T& b) const { step(a, b, 0, 0); }
  __device__ T finish(T a, int64_t, int64_t) const { return a; }
};

// Index of the max (kMax) or min: ties go to the lowest index, the first NaN wins.
template <typename T> struct ArgAcc {
  T val;
  int64_t idx;
};
template <typename T, bool kMax> struct ArgOp {
  using acc_t = ArgAcc<T>;
  using out_t = int64_t;
  __device__ static bool better(T v, T a) { return kMax ? v > a : v < a; }
  __device__ acc_t init() const { return {T(0), -1}; }
  __device__ void step(acc_t& a, T v, int64_t r, int64_t) const {  // r increases within one accumulator
    if (a.idx < 0 || (!is_nan(a.val) && (is_nan(v) || better(v, a.val)))) a = {v, r};
  }
  __device__ void merge(acc_t& a, const acc_t& b) const {  // accumulators are not index-ordered
    if (b.idx < 0) return;
    if (a.idx < 0) {
      a = b;
      return;
    }
    const bool an = is_nan(a.val), bn = is_nan(b.val);
    if (an || bn) {
      if (bn && (!an || b.idx < a.idx)) a = b;
      return;
    }
    if (better(b.val, a.val) || (b.val == a.val && b.idx < a.idx)) a = b;
  }
  __device__ int64_t finish(const acc_t& a, int64_t, int64_t) const { return a.idx; }
};

// Sum of squared deviations from a per-output center (double), divided by max(0, n - correction).
template <typename T> struct SqDevOp {
  using acc_t = double;
  using out_t = T;
  const double* center = nullptr;
  int64_t correction = 1;
  __device__ double init() const { return 0.0; }
  __device__ void step(double& a, T v, int64_t, int64_t o) const {
    const double d = static_cast<double>(v) - center[o];
    a += d * d;
  }
  __device__ void merge(double& a, const double& b) const { a += b; }
  __device__ T finish(double a, int64_t, int64_t n) const {
    const int64_t dof = n - correction > 0 ? n - correction : 0;
    return static_cast<T>(a / static_cast<double>(dof));
  }
};

// Warp shuffles of the accumulator types.
template <typename A> __device__ A shfl_down(A a, int delta) { return __shfl_down_sync(0xffffffffu, a, delta); }
template <typename T> __device__ ArgAcc<T> shfl_down(ArgAcc<T> a, int delta) {
  return {__shfl_down_sync(0xffffffffu, a.val, delta), __shfl_down_sync(0xffffffffu, a.idx, delta)};
}

// Offset of element r of the reduced extent (one dim after coalescing is the common case).
__device__ inline int64_t red_offset(const Geom& g, int64_t r) {
  if (g.nd == 1) return r * g.stride[0];
  return offset_of(g, r);
}

// ======================= the reduction engine =======================
// x is read in place through two geometries: `kept` maps an output index o (row-major over the
// kept dims, i.e. the contiguous output) to an offset and `red` maps r in [0, red_n) to an
// offset; element (o, r) is x[kept(o) + red(r)]. The reduced extent may be split into `chunks`
// whose partial accumulators reduce_finish_kernel merges. The split and every merge order are
// functions of the shape only, so results are deterministic run to run (sums may differ from the
// host's in the last bits: another summation order, in double for f32).

struct RedArgs {
  Geom kept, red;
  int64_t n_out = 0, red_n = 0;
  int64_t chunk = 0, chunks = 1;  // the reduced extent is split into `chunks` pieces of `chunk`
  int64_t units = 0;              // column mode: blocks along the outputs
};

// Small reduced extents: one thread per output, serial over r in order.
template <typename T, typename Op>
__global__ void reduce_thread_kernel(const T* __restrict__ x, RedArgs g, Op op, typename Op::out_t* out) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < g.n_out; o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t base = offset_of(g.kept, o);
    typename Op::acc_t a = op.init();
    for (int64_t r = 0; r < g.red_n; ++r) op.step(a, x[base + red_offset(g.red, r)], r, o);
    out[o] = op.finish(a, o, g.red_n);
  }
}

// Reduced elements adjacent in memory: one warp per (output, chunk), lanes striding over r,
// then a shuffle tree. Block (32, 8): warp w = blockIdx.x * 8 + threadIdx.y.
template <typename T, typename Op>
__global__ void reduce_rows_kernel(const T* __restrict__ x, RedArgs g, Op op, typename Op::acc_t* partial,
                                   typename Op::out_t* out) {
  const int64_t w = int64_t(blockIdx.x) * kRows + threadIdx.y;
  if (w >= g.n_out * g.chunks) return;  // uniform over the warp
  const int64_t o = w % g.n_out, c = w / g.n_out;
  const int lane = threadIdx.x;
  const int64_t base = offset_of(g.kept, o);
  const int64_t r0 = c * g.chunk, r1 = min(g.red_n, r0 + g.chunk);
  typename Op::acc_t a = op.init();
  for (int64_t r = r0 + lane; r < r1; r += kWarp) op.step(a, x[base + red_offset(g.red, r)], r, o);
  for (int delta = kWarp / 2; delta > 0; delta /= 2) {
    typename Op::acc_t other = shfl_down(a, delta);
    op.merge(a, other);
  }
  if (lane == 0) {
    if (g.chunks == 1) out[o] = op.finish(a, o, g.red_n);
    else partial[c * g.n_out + o] = a;
  }
}

// Outputs adjacent in memory: lane x of block (32, 8) owns output o, the 8 warps split the rows
// of the chunk, and a shared-memory merge over the 8 finishes it.
template <typename T, typename Op>
__global__ void reduce_cols_kernel(const T* __restrict__ x, RedArgs g, Op op, typename Op::acc_t* partial,
                                   typename Op::out_t* out) {
  using A = typename Op::acc_t;
  __shared__ A sm[kRows][kWarp];
  const int64_t ob = blockIdx.x % g.units, c = blockIdx.x / g.units;
  const int64_t o = ob * kWarp + threadIdx.x;
  const bool active = o < g.n_out;
  A a = op.init();
  if (active) {
    const int64_t base = offset_of(g.kept, o);
    const int64_t r0 = c * g.chunk, r1 = min(g.red_n, r0 + g.chunk);
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kRows) op.step(a, x[base + red_offset(g.red, r)], r, o);
  }
  sm[threadIdx.y][threadIdx.x] = a;
  __syncthreads();
  if (threadIdx.y == 0 && active) {
    for (int k = 1; k < kRows; ++k) op.merge(a, sm[k][threadIdx.x]);
    if (g.chunks == 1) out[o] = op.finish(a, o, g.red_n);
    else partial[c * g.n_out + o] = a;
  }
}

// Merges the chunks of every output: one warp per output, lanes striding over the chunks, then
// a shuffle tree (a fixed order, so still deterministic).
template <typename Op>
__global__ void reduce_finish_kernel(const typename Op::acc_t* partial, RedArgs g, Op op, typename Op::out_t* out) {
  const int64_t o = int64_t(blockIdx.x) * kRows + threadIdx.y;
  if (o >= g.n_out) return;  // uniform over the warp
  typename Op::acc_t a = op.init();
  for (int64_t c = threadIdx.x; c < g.chunks; c += kWarp) op.merge(a, partial[c * g.n_out + o]);
  for (int delta = kWarp / 2; delta > 0; delta /= 2) {
    typename Op::acc_t other = shfl_down(a, delta);
    op.merge(a, other);
  }
  if (threadIdx.x == 0) out[o] = op.finish(a, o, g.red_n);
}

enum class RedMode { Thread, Rows, Cols };

// A reduction of x over a set of dims, planned on the host.
struct RedPlan {
  Geom kept, red;
  int64_t n_out = 1, red_n = 1;
  Shape out_shape;
  RedMode mode = RedMode::Thread;
};

// (size, stride) pairs: adjacent pairs that address memory as one dim merge into one.
using DimList = std::vector<std::pair<int64_t, int64_t>>;
DimList coalesce(const DimList& dims) {
  DimList out;
  for (const auto& d : dims) {
    if (!out.empty() && out.back().second == d.first * d.second) {
      out.back().first *= d.first;
      out.back().second = d.second;
    } else {
      out.push_back(d);
    }
  }
  return out;
}

Geom to_geom(const DimList& dims, const Tensor& x, const char* op) {
  if (dims.size() > static_cast<size_t>(kMaxDims))
    fail(op, "the CUDA kernels take at most ", kMaxDims, " non-mergeable dims, got shape ", shape_str(x.shape()),
         " with strides ", shape_str(x.strides()));
  Geom g;
  g.nd = static_cast<int>(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    g.size[i] = dims[i].first;
    g.stride[i] = dims[i].second;
  }
  return g;
}

// Normalizes dims (empty = all) with the host's checks and wording, computes the output shape,
// and splits x's non-trivial dims into kept (logical order: the output order) and reduced (most
// inner in memory last, when `sort_red`: only the summation order changes).
RedPlan plan_reduce(const Tensor& x, const Shape& dims, bool keepdim, const char* op, bool sort_red) {
  const int64_t nd = x.dim();
  std::vector<bool> red(static_cast<size_t>(nd), dims.empty());
  for (int64_t d : dims) {
    const int64_t dd = normalize_dim(d, std::max<int64_t>(nd, 1), op);
    if (nd == 0) continue;  // a 0-d tensor accepts dim 0 / -1
    if (red[dd]) fail(op, "dim ", d, " appears more than once in dims");
    red[dd] = true;
  }
  RedPlan p;
  DimList kd, rd;
  for (int64_t i = 0; i < nd; ++i) {
    const int64_t s = x.shape()[i];
    if (red[i]) {
      p.red_n *= s;
      if (keepdim) p.out_shape.push_back(1);
    } else {
      p.n_out *= s;
      p.out_shape.push_back(s);
    }
    if (s != 1) (red[i] ? rd : kd).push_back({s, x.strides()[i]});
  }
  if (p.n_out == 0 || p.red_n == 0) return p;  // no data is read
  if (sort_red)
    std::stable_sort(rd.begin(), rd.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  kd = coalesce(kd);
  rd = coalesce(rd);
  p.kept = to_geom(kd, x, op);
  p.red = to_geom(rd, x, op);
  if (p.red_n <= 16) p.mode = RedMode::Thread;
  else if (!kd.empty() && kd.back().second < rd.back().second) p.mode = RedMode::Cols;
  else p.mode = RedMode::Rows;
  return p;
}

template <typename T, typename Op>
void run_reduce(const Op& op, const Tensor& x, const RedPlan& p, typename Op::out_t* out, const char* name) {
  using A = typename Op::acc_t;
  if (p.n_out == 0) return;
  RedArgs g;
  g.kept = p.kept;
  g.red = p.red;
  g.n_out = p.n_out;
  g.red_n = p.red_n;
  const T* xp = p.red_n > 0 ? dptr<T>(x) : nullptr;
  if (p.red_n == 0 || p.mode == RedMode::Thread) {
    reduce_thread_kernel<T, Op><<<grid_for(p.n_out), kThreads>>>(xp, g, op, out);
    check_launch(name);
    return;
  }
  // Split the reduced extent until about kTarget warps (rows) or blocks (columns) are busy,
  // keeping at least 32 elements per lane (rows) or 16 per thread (columns).
  const bool cols = p.mode == RedMode::Cols;
  const int64_t kTarget = cols ? 1024 : 8192;
  const int64_t units = cols ? ceil_div(p.n_out, kWarp) : p.n_out;
  const int64_t min_chunk = cols ? kRows * 16 : kWarp * 32;
  int64_t chunks = std::min(ceil_div(kTarget, units), ceil_div(p.red_n, min_chunk));
  chunks = std::max<int64_t>(1, std::min<int64_t>(chunks, 65535));
  g.chunk = ceil_div(p.red_n, chunks);
  g.chunks = ceil_div(p.red_n, g.chunk);  // no empty chunk
  g.units = units;
  const int64_t blocks = cols ? units * g.chunks : ceil_div(p.n_out * g.chunks, kRows);
  if (blocks > INT_MAX) fail(name, "tensor of shape ", shape_str(x.shape()), " too large for one launch");
  Tensor scratch;
  A* partial = nullptr;
  if (g.chunks > 1) {
    const int64_t bytes = g.chunks * p.n_out * static_cast<int64_t>(sizeof(A));
    scratch = Tensor::empty({ceil_div(bytes, 8)}, DType::I64, x.device());
    partial = static_cast<A*>(scratch.raw_data());
  }
  const dim3 block(kWarp, kRows);
  if (cols) reduce_cols_kernel<T, Op><<<static_cast<unsigned>(blocks), block>>>(xp, g, op, partial, out);
  else reduce_rows_kernel<T, Op><<<static_cast<unsigned>(blocks), block>>>(xp, g, op, partial, out);
  check_launch(name);
  if (g.chunks > 1) {
    reduce_finish_kernel<Op><<<static_cast<unsigned>(ceil_div(p.n_out, kRows)), block>>>(partial, g, op, out);
    check_launch(name);
  }
  // scratch goes back to the caching allocator here: stream order makes that safe.
}

const char* reduce_name(kernels::ReduceOp op) {
  switch (op) {
    case kernels::ReduceOp::Sum: return "sum";
    case kernels::ReduceOp::Mean: return "mean";
    case kernels::ReduceOp::Max: return "max";
    case kernels::ReduceOp::Min: return "min";
  }
  return "reduce";
}

// Calls f(T{}) for f32, f64 and i64; other dtypes fail naming op (host wording).
template <typename R, typename F> R dispatch_numeric(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::F32: return f(float{});
    case DType::F64: return f(double{});
    case DType::I64: return f(int64_t{});
    default: break;
  }
  fail(op, "expected f32, f64 or i64, got ", dtype_name(t));
}

template <typename T, typename Op> Tensor reduce_to_tensor(const Op& op, const Tensor& x, const RedPlan& p,
                                                          DType out_dtype, const char* name) {
  Tensor out = Tensor::empty(p.out_shape, out_dtype, x.device());
  run_reduce<T>(op, x, p, dptr<typename Op::out_t>(out), name);
  return out;
}

void check_nonempty(const RedPlan& p, const Tensor& x, const char* op) {
  if (p.red_n == 0) fail(op, "cannot reduce over an empty dim of a tensor of shape ", shape_str(x.shape()));
}

}  // namespace

// ======================= the backend's members =======================

Tensor CudaBackend::reduce(kernels::ReduceOp op, const Tensor& x, const Shape& dims, bool keepdim) {
  const char* name = reduce_name(op);
  const RedPlan p = plan_reduce(x, dims, keepdim, name, /*sort_red=*/true);
  set_device(x);
  switch (op) {
    case kernels::ReduceOp::Sum:
      return dispatch_numeric<Tensor>(x.dtype(), name, [&](auto tag) {
        using T = decltype(tag);
        return reduce_to_tensor<T>(SumOp<T>{}, x, p, x.dtype(), name);
      });
    case kernels::ReduceOp::Mean:
      return SHEARS_DISPATCH_FLOAT(x.dtype(), name, [&] {
        SumOp<scalar_t> mean_op;
        mean_op.mean = true;
        return reduce_to_tensor<scalar_t>(mean_op, x, p, x.dtype(), name);
      });
    case kernels::ReduceOp::Max:
    case kernels::ReduceOp::Min:
      check_nonempty(p, x, name);
      return dispatch_numeric<Tensor>(x.dtype(), name, [&](auto tag) {
        using T = decltype(tag);
        if (op == kernels::ReduceOp::Max) return reduce_to_tensor<T>(ExtremumOp<T, true>{}, x, p, x.dtype(), name);
        return reduce_to_tensor<T>(ExtremumOp<T, false>{}, x, p, x.dtype(), name);
      });
  }
  fail(name, "unknown reduction");
}

Tensor CudaBackend::arg_extremum(const Tensor& x, int64_t dim, bool keepdim, bool is_max) {
  const char* name = is_max ? "argmax" : "argmin";
  const RedPlan p = plan_reduce(x, Shape{dim}, keepdim, name, /*sort_red=*/false);
  check_nonempty(p, x, name);
  set_device(x);
  return dispatch_numeric<Tensor>(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    if (is_max) return reduce_to_tensor<T>(ArgOp<T, true>{}, x, p, DType::I64, name);
    return reduce_to_tensor<T>(ArgOp<T, false>{}, x, p, DType::I64, name);
  });
}

// Two passes, as the host: the mean of every output in double, then the squared deviations.
Tensor CudaBackend::var(const Tensor& x, const Shape& dims, int64_t correction, bool keepdim) {
  SHEARS_CHECK(correction >= 0, "var", "correction must be >= 0, got ", correction);
  const RedPlan p = plan_reduce(x, dims, keepdim, "var", /*sort_red=*/true);
  set_device(x);
  return SHEARS_DISPATCH_FLOAT(x.dtype(), "var", [&] {
    using T = scalar_t;
    Tensor out = Tensor::empty(p.out_shape, x.dtype(), x.device());
    if (p.n_out == 0) return out;
    Tensor mean = Tensor::empty({p.n_out}, DType::F64, x.device());
    SumOp<T, double> mean_op;
    mean_op.mean = true;
    run_reduce<T>(mean_op, x, p, dptr<double>(mean), "var");
    SqDevOp<T> dev_op;
    dev_op.center = dptr<double>(mean);
    dev_op.correction = correction;
    run_reduce<T>(dev_op, x, p, dptr<T>(out), "var");
    return out;
  });
}

// x: (..., n, ...), index: (m,) -> (..., m, ...)
}  // namespace shears::cuda
