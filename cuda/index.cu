// CUDA kernels of the index ops (index_select, gather, scatter_add_, index_add_) and the label-
// smoothed one-hot targets: device mirrors of tensor/index.cpp and tensor/one_hot.cpp. Index values
// are validated on the device before any data moves, with the host's error messages.

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

}  // namespace

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
}  // namespace shears::cuda
