// CUDA kernels of the reductions (sum/mean/max/min, argmax/argmin, var), the index ops
// (index_select, gather, scatter_add_, index_add_), label-smoothed one-hot targets and the AdamW
// update: device mirrors of tensor/reduce.cpp, tensor/index.cpp, tensor/one_hot.cpp and
// train/adamw.cpp. Index values are validated on the device before any data moves.
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

// ======================= index ops =======================

// Iteration over `size` (row-major): a = the indexed tensor (strides sa, 0 along dim, a_dim
// along it), b = the dense one (out or src), si = the index's strides (1-d index: its stride at
// dim, 0 elsewhere). Element i reads/adds a[sa.i + index[si.i] * a_dim] and b[sb.i].
struct IndexGeom {
  int nd = 0;
  int64_t size[kMaxDims] = {};
  int64_t sa[kMaxDims] = {};
  int64_t sb[kMaxDims] = {};
  int64_t si[kMaxDims] = {};
  int64_t a_dim = 0;
};

// I: the type of the linear-index arithmetic (32-bit when the iteration space allows).
template <typename I>
__device__ inline void index_offsets(const IndexGeom& g, I i, int64_t& oa, int64_t& ob, int64_t& oi) {
  oa = ob = oi = 0;
  for (int d = g.nd - 1; d >= 0; --d) {
    const I s = static_cast<I>(g.size[d]);
    const I q = i / s;
    const int64_t c = static_cast<int64_t>(i - q * s);
    i = q;
    oa += c * g.sa[d];
    ob += c * g.sb[d];
    oi += c * g.si[d];
  }
}

template <typename T, typename I>
__global__ void index_copy_kernel(const T* __restrict__ a, T* __restrict__ b, const int64_t* __restrict__ index,
                                  IndexGeom g, I n) {
  for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x) {
    int64_t oa, ob, oi;
    index_offsets(g, i, oa, ob, oi);
    b[ob] = a[oa + index[oi] * g.a_dim];
  }
}

__device__ inline void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ inline void atomic_add(double* p, double v) { atomicAdd(p, v); }
__device__ inline void atomic_add(int64_t* p, int64_t v) {  // two's complement: unsigned add is signed add
  atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
}

// Adds with atomics: repeated indices land on one element from many threads, so the order of
// the float additions (and the last bits of f32/f64 results) is not deterministic, unlike the
// host, which walks the indexed dim in order. i64 results are exact.
template <typename T, typename I>
__global__ void index_add_kernel(T* a, const T* __restrict__ b, const int64_t* __restrict__ index, IndexGeom g,
                                 I n) {
  for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x) {
    int64_t oa, ob, oi;
    index_offsets(g, i, oa, ob, oi);
    atomic_add(a + oa + index[oi] * g.a_dim, b[ob]);
  }
}

// Records the lowest position i (row-major over the index's shape) whose value is outside [0, size).
__global__ void check_index_kernel(const int64_t* __restrict__ index, Geom gi, int64_t n, int64_t size,
                                   unsigned long long* first_bad) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t v = index[offset_of(gi, i)];
    if (v < 0 || v >= size) atomicMin(first_bad, static_cast<unsigned long long>(i));
  }
}

// A one-element device flag holding "no bad position yet" (all ones).
Tensor new_flag(const Tensor& like) {
  Tensor flag = Tensor::empty({1}, DType::I64, like.device());
  SHEARS_CUDA_CHECK(cudaMemsetAsync(flag.raw_data(), 0xff, sizeof(unsigned long long), 0));
  return flag;
}

// The flag's position (waits for the queue), or -1 when it was never set.
int64_t read_flag(const Tensor& flag) {
  unsigned long long v = 0;
  SHEARS_CUDA_CHECK(cudaMemcpy(&v, flag.raw_data(), sizeof(v), cudaMemcpyDeviceToHost));
  return v == ULLONG_MAX ? -1 : static_cast<int64_t>(v);
}

int64_t read_i64(const int64_t* device_p) {
  int64_t v = 0;
  SHEARS_CUDA_CHECK(cudaMemcpy(&v, device_p, sizeof(v), cudaMemcpyDeviceToHost));
  return v;
}

void check_i64(const Tensor& index, const char* op) {
  if (index.dtype() != DType::I64) fail(op, "index must be i64, got ", dtype_name(index.dtype()));
}

// Every value of `index` (any strides) in [0, size), checked on the device; the first bad one
// (in row-major order, as the host scans its contiguous copy) is reported with the host's wording.
void check_index_values(const Tensor& index, int64_t size, int64_t dim, const char* op) {
  const int64_t n = index.numel();
  if (n == 0) return;
  const Geom gi = geom_of(index, op);
  Tensor flag = new_flag(index);
  const int64_t* ip = dptr<int64_t>(index);
  check_index_kernel<<<grid_for(n), kThreads>>>(ip, gi, n, size, static_cast<unsigned long long*>(flag.raw_data()));
  check_launch(op);
  const int64_t pos = read_flag(flag);
  if (pos < 0) return;
  fail(op, "index ", read_i64(ip + offset_of(gi, pos)), " out of range for dim ", dim, " of size ", size);
}

// Adds into dst would race (and double count) on an expanded view.
void check_writable(const Tensor& dst, const char* op) {
  for (int64_t d = 0; d < dst.dim(); ++d)
    if (dst.shape()[d] > 1 && dst.strides()[d] == 0)
      fail(op, "dst of shape ", shape_str(dst.shape()), " is an expanded view (stride 0 at dim ", d,
           "); make it contiguous first");
}

// The iteration space `size` split at dim: a (indexed, its strides), b (dense), index strides
// (per-element) or a 1-d index's stride placed at dim.
IndexGeom make_index_geom(const Shape& size, int64_t dim, const Tensor& a, const Shape& b_strides,
                          const Tensor& index, bool per_element, const char* op) {
  const int64_t nd = static_cast<int64_t>(size.size());
  if (nd > kMaxDims) fail(op, "the CUDA kernels take at most ", kMaxDims, " dims, got shape ", shape_str(size));
  IndexGeom g;
  g.nd = static_cast<int>(nd);
  for (int64_t d = 0; d < nd; ++d) {
    g.size[d] = size[d];
    g.sa[d] = d == dim ? 0 : a.strides()[d];
    g.sb[d] = b_strides[d];
    if (per_element) g.si[d] = index.strides()[d];
    else g.si[d] = (d == dim && index.dim() == 1) ? index.strides()[0] : 0;
  }
  g.a_dim = a.strides()[dim];
  return g;
}

template <typename T, bool kAdd>
void launch_index(T* a, T* b, const int64_t* index, const IndexGeom& g, int64_t n, const char* op) {
  if (n <= static_cast<int64_t>(UINT32_MAX) - 2 * 65535 * 8 * kThreads) {  // i + stride cannot wrap
    const uint32_t n32 = static_cast<uint32_t>(n);
    if constexpr (kAdd) index_add_kernel<T, uint32_t><<<grid_for(n), kThreads>>>(a, b, index, g, n32);
    else index_copy_kernel<T, uint32_t><<<grid_for(n), kThreads>>>(a, b, index, g, n32);
  } else {
    if constexpr (kAdd) index_add_kernel<T, int64_t><<<grid_for(n), kThreads>>>(a, b, index, g, n);
    else index_copy_kernel<T, int64_t><<<grid_for(n), kThreads>>>(a, b, index, g, n);
  }
  check_launch(op);
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

// ======================= one-hot =======================

template <typename T>
__global__ void one_hot_kernel(const int64_t* __restrict__ labels, int64_t label_stride, int64_t n, int64_t classes,
                               T off, T on, T* __restrict__ out, unsigned long long* first_bad) {
  const int64_t total = n * classes;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = i / classes, c = i - b * classes;
    const int64_t y = labels[b * label_stride];
    if (c == 0 && (y < 0 || y >= classes)) atomicMin(first_bad, static_cast<unsigned long long>(b));
    out[i] = c == y ? on : off;
  }
}

// ======================= AdamW =======================
// Round-to-nearest intrinsics: never contracted into FMAs, so the device evaluates exactly the
// operations of the host loop in its order.
__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ inline float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ inline double add_rn(double a, double b) { return __dadd_rn(a, b); }
__device__ inline float sub_rn(float a, float b) { return __fsub_rn(a, b); }
__device__ inline double sub_rn(double a, double b) { return __dsub_rn(a, b); }
__device__ inline float div_rn(float a, float b) { return __fdiv_rn(a, b); }
__device__ inline double div_rn(double a, double b) { return __ddiv_rn(a, b); }
__device__ inline float sqrt_rn(float a) { return __fsqrt_rn(a); }
__device__ inline double sqrt_rn(double a) { return __dsqrt_rn(a); }

// The coefficients in the tensor's type, rounded once from double as train/adamw.cpp does.
template <typename T> struct AdamWArgs {
  T decay, b1, b2, one_minus_b1, one_minus_b2, step_size, inv_sqrt_bc2, eps;
};

// m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g g;  p = p decay - step_size m / (sqrt(v) inv_sqrt_bc2 + eps)
template <typename T>
__global__ void adamw_kernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m, T* __restrict__ v,
                             int64_t n, AdamWArgs<T> c) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const T gi = g[i];
    const T mi = add_rn(mul_rn(c.b1, m[i]), mul_rn(c.one_minus_b1, gi));
    const T vi = add_rn(mul_rn(c.b2, v[i]), mul_rn(mul_rn(c.one_minus_b2, gi), gi));
    m[i] = mi;
    v[i] = vi;
    const T denom = add_rn(mul_rn(sqrt_rn(vi), c.inv_sqrt_bc2), c.eps);
    p[i] = sub_rn(mul_rn(p[i], c.decay), div_rn(mul_rn(c.step_size, mi), denom));
  }
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
Tensor CudaBackend::index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  const char* op = "index_select";
  check_i64(index, op);
  const int64_t d = normalize_dim(dim, x.dim(), op);
  SHEARS_CHECK(index.dim() <= 1, op, "index must be 1-d, got shape ", shape_str(index.shape()));
  set_device(x);
  check_index_values(index, x.shape()[d], d, op);
  Shape out_shape = x.shape();
  out_shape[d] = index.numel();
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  if (out.numel() == 0) return out;
  const IndexGeom g = make_index_geom(out_shape, d, x, out.strides(), index, /*per_element=*/false, op);
  SHEARS_DISPATCH_ALL(x.dtype(), op, [&] {
    launch_index<scalar_t, false>(dptr<scalar_t>(x), dptr<scalar_t>(out), dptr<int64_t>(index), g, out.numel(), op);
  });
  return out;
}

// x: (..., n, ...), index: same ndim, index.size(i) <= x.size(i) for i != dim -> index shape
Tensor CudaBackend::gather(const Tensor& x, int64_t dim, const Tensor& index) {
  const char* op = "gather";
  check_i64(index, op);
  const int64_t nd = x.dim();
  const int64_t d = normalize_dim(dim, nd, op);
  SHEARS_CHECK(index.dim() == nd, op, "index of shape ", shape_str(index.shape()),
               " must have as many dims as x of shape ", shape_str(x.shape()));
  for (int64_t i = 0; i < nd; ++i)
    SHEARS_CHECK(i == d || index.shape()[i] <= x.shape()[i], op, "index shape ", shape_str(index.shape()),
                 " exceeds x shape ", shape_str(x.shape()), " at dim ", i);
  set_device(x);
  check_index_values(index, x.shape()[d], d, op);
  Tensor out = Tensor::empty(index.shape(), x.dtype(), x.device());
  if (out.numel() == 0) return out;
  const IndexGeom g = make_index_geom(index.shape(), d, x, out.strides(), index, /*per_element=*/true, op);
  SHEARS_DISPATCH_ALL(x.dtype(), op, [&] {
    launch_index<scalar_t, false>(dptr<scalar_t>(x), dptr<scalar_t>(out), dptr<int64_t>(index), g, out.numel(), op);
  });
  return out;
}

// dst[..., index[i], ...] += src[i] over the shape of index
void CudaBackend::scatter_add_(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src) {
  const char* op = "scatter_add_";
  check_i64(index, op);
  const int64_t nd = dst.dim();
  const int64_t d = normalize_dim(dim, nd, op);
  SHEARS_CHECK(src.dtype() == dst.dtype(), op, "src dtype ", dtype_name(src.dtype()), " does not match dst dtype ",
               dtype_name(dst.dtype()));
  SHEARS_CHECK(index.dim() == nd && src.dim() == nd, op, "index ", shape_str(index.shape()), ", src ",
               shape_str(src.shape()), " and dst ", shape_str(dst.shape()), " must have the same number of dims");
  for (int64_t i = 0; i < nd; ++i) {
    const int64_t n = index.shape()[i];
    SHEARS_CHECK(n <= src.shape()[i] && (i == d || n <= dst.shape()[i]), op, "index shape ",
                 shape_str(index.shape()), " exceeds src shape ", shape_str(src.shape()), " or dst shape ",
                 shape_str(dst.shape()), " at dim ", i);
  }
  check_writable(dst, op);
  set_device(dst);
  check_index_values(index, dst.shape()[d], d, op);
  const int64_t n = index.numel();
  if (n == 0) return;
  const IndexGeom g = make_index_geom(index.shape(), d, dst, src.strides(), index, /*per_element=*/true, op);
  dispatch_addable(dst.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    launch_index<T, true>(dptr<T>(dst), dptr<T>(src), dptr<int64_t>(index), g, n, op);
  });
}

// dst: (..., n, ...), index: (m,), src: (..., m, ...); dst.index_select(dim, index) += src
void CudaBackend::index_add_(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src) {
  const char* op = "index_add_";
  check_i64(index, op);
  const int64_t d = normalize_dim(dim, dst.dim(), op);
  SHEARS_CHECK(index.dim() <= 1, op, "index must be 1-d, got shape ", shape_str(index.shape()));
  SHEARS_CHECK(src.dtype() == dst.dtype(), op, "src dtype ", dtype_name(src.dtype()), " does not match dst dtype ",
               dtype_name(dst.dtype()));
  set_device(dst);
  check_index_values(index, dst.shape()[d], d, op);
  Shape want = dst.shape();
  want[d] = index.numel();
  SHEARS_CHECK(src.shape() == want, op, "src shape ", shape_str(src.shape()), " must be dst shape ",
               shape_str(dst.shape()), " with dim ", d, " of size ", index.numel(), ", i.e. ", shape_str(want));
  check_writable(dst, op);
  const int64_t n = src.numel();
  if (n == 0) return;
  const IndexGeom g = make_index_geom(want, d, dst, src.strides(), index, /*per_element=*/false, op);
  dispatch_addable(dst.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    launch_index<T, true>(dptr<T>(dst), dptr<T>(src), dptr<int64_t>(index), g, n, op);
  });
}

// (B, C) targets: off = smoothing / C everywhere, on = 1 - smoothing + off at each label.
Tensor CudaBackend::smoothed_one_hot(const Tensor& labels, int64_t num_classes, double smoothing, DType dtype) {
  SHEARS_CHECK(labels.dim() == 1 && labels.dtype() == DType::I64, "one_hot", "labels must be 1-d i64, got ",
               shape_str(labels.shape()), " ", dtype_name(labels.dtype()));
  SHEARS_CHECK(num_classes > 0, "one_hot", "num_classes must be > 0, got ", num_classes);
  SHEARS_CHECK(smoothing >= 0.0 && smoothing < 1.0, "one_hot", "label smoothing must be in [0, 1), got ", smoothing);
  const double off = smoothing / double(num_classes), on = 1.0 - smoothing + off;
  const int64_t n = labels.numel();
  set_device(labels);
  return SHEARS_DISPATCH_FLOAT(dtype, "one_hot", [&] {
    Tensor out = Tensor::empty({n, num_classes}, dtype, labels.device());
    if (n == 0) return out;
    Tensor flag = new_flag(labels);
    const int64_t* lp = dptr<int64_t>(labels);
    one_hot_kernel<scalar_t><<<grid_for(n * num_classes), kThreads>>>(
        lp, labels.strides()[0], n, num_classes, static_cast<scalar_t>(off), static_cast<scalar_t>(on),
        dptr<scalar_t>(out), static_cast<unsigned long long*>(flag.raw_data()));
    check_launch("one_hot");
    const int64_t b = read_flag(flag);
    if (b >= 0)
      fail("one_hot", "label ", read_i64(lp + b * labels.strides()[0]), " of sample ", b, " out of range for ",
           num_classes, " classes");
    return out;
  });
}

// In place on contiguous tensors of one shape and dtype (f32 or f64); c.lr is the group's
// learning rate (lr * lr_scale), c.bias_correction1/2 = 1 - beta1^t / 1 - beta2^t.
void CudaBackend::adamw_update_(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                                const AdamWCoefficients& c) {
  const char* op = "adamw_update_";
  for (const Tensor* t : {&grad, &m, &v}) {
    SHEARS_CHECK(t->defined(), op, "undefined gradient or moment");
    SHEARS_CHECK(t->device() == param.device() && t->dtype() == param.dtype() && t->shape() == param.shape(), op,
                 "param ", shape_str(param.shape()), " ", dtype_name(param.dtype()), " on ", param.device().str(),
                 " and a gradient or moment ", shape_str(t->shape()), " ", dtype_name(t->dtype()), " on ",
                 t->device().str(), " must match");
  }
  for (const Tensor* t : {&param, &grad, &m, &v})
    SHEARS_CHECK(t->is_contiguous(), op, "param, grad and moments must be contiguous, got strides ",
                 shape_str(t->strides()), " for shape ", shape_str(t->shape()));
  const int64_t n = param.numel();
  set_device(param);
  SHEARS_DISPATCH_FLOAT(param.dtype(), op, [&] {
    using T = scalar_t;
    if (n == 0) return;
    AdamWArgs<T> a;
    a.decay = static_cast<T>(1.0 - c.lr * c.weight_decay);
    a.b1 = static_cast<T>(c.beta1);
    a.b2 = static_cast<T>(c.beta2);
    a.one_minus_b1 = static_cast<T>(1.0 - c.beta1);  // PyTorch's float(1 - beta), as the host
    a.one_minus_b2 = static_cast<T>(1.0 - c.beta2);
    a.step_size = static_cast<T>(c.lr / c.bias_correction1);
    a.inv_sqrt_bc2 = static_cast<T>(1.0 / std::sqrt(c.bias_correction2));
    a.eps = static_cast<T>(c.eps);
    adamw_kernel<T><<<grid_for(n), kThreads>>>(dptr<T>(param), dptr<T>(grad), dptr<T>(m), dptr<T>(v), n, a);
    check_launch(op);
  });
}

}  // namespace shears::cuda
