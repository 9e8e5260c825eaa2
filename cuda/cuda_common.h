// Helpers shared by the CUDA backend's translation units (never included outside cuda/):
// error checks that throw shears::Error naming the call, the device pointer of a tensor,
// the strided/broadcast geometry passed by value to kernels, grid sizing, cuBLAS handles,
// and the TF32 switch.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "tensor/error.h"
#include "tensor/tensor.h"

#define SHEARS_CUDA_CHECK(expr)                                                                   \
  do {                                                                                            \
    cudaError_t shears_err_ = (expr);                                                             \
    if (shears_err_ != cudaSuccess)                                                               \
      ::shears::fail("cuda", #expr, " failed: ", cudaGetErrorName(shears_err_), " (",             \
                     cudaGetErrorString(shears_err_), ")");                                       \
  } while (0)

#define SHEARS_CUBLAS_CHECK(expr)                                                                 \
  do {                                                                                            \
    cublasStatus_t shears_st_ = (expr);                                                           \
    if (shears_st_ != CUBLAS_STATUS_SUCCESS)                                                      \
      ::shears::fail("cuda", #expr, " failed: cuBLAS status ", static_cast<int>(shears_st_), " (", \
                     cublasGetStatusString(shears_st_), ")");                                     \
  } while (0)

namespace shears::cuda {

// Checks the last kernel launch (launch configuration errors surface here; errors inside a
// kernel surface at the next synchronizing call).
inline void check_launch(const char* op) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) ::shears::fail(op, "CUDA kernel launch failed: ", cudaGetErrorString(e));
}

// Makes `t`'s device current for the calling thread (kernels launch on the current device).
void set_device(const Tensor& t);

// The device address of element 0 of `t`'s view, typed (the dtype is checked).
template <typename T> T* dptr(const Tensor& t) {
  t.check_dtype(dtype_of<T>::value, "cuda");
  return static_cast<T*>(t.raw_data());
}

// Geometry of a strided (possibly broadcast) view, passed to kernels by value: element i of
// the output shape `size` (row-major linear index) lives at offset(i) elements from dptr.
constexpr int kMaxDims = 8;
struct Geom {
  int nd = 0;
  int64_t size[kMaxDims] = {};
  int64_t stride[kMaxDims] = {};
};
// `t` viewed with output shape `out_shape` (t's shape broadcasts to it, numpy rules: aligned on
// the right, size-1 or missing dims get stride 0). More than kMaxDims dims is an error naming op.
Geom geom_of(const Tensor& t, const Shape& out_shape, const char* op);
inline Geom geom_of(const Tensor& t, const char* op) { return geom_of(t, t.shape(), op); }

#ifdef __CUDACC__
__host__ __device__ inline int64_t offset_of(const Geom& g, int64_t linear) {
  int64_t off = 0;
  for (int d = g.nd - 1; d >= 0; --d) {
    int64_t i = linear % g.size[d];
    linear /= g.size[d];
    off += i * g.stride[d];
  }
  return off;
}
#endif

// Zeroes nbytes at p on the current device's default stream (queued like a kernel).
inline void zero_async(void* p, size_t nbytes) {
  if (nbytes) SHEARS_CUDA_CHECK(cudaMemsetAsync(p, 0, nbytes, 0));
}

// Grid for a grid-stride loop over n elements with `threads` per block.
inline unsigned grid_for(int64_t n, int threads = 256) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > 65535 * 8) b = 65535 * 8;
  return static_cast<unsigned>(b);
}

// Row-major C = alpha op(A) op(B) + beta C (tensor/gemm.h's convention: trans_a means A is stored
// (K, M)) for `batch` items at element strides sa/sb/sc (0 reuses one matrix), on the current
// device's cuBLAS handle; sizes beyond cuBLAS's 32 bits are an error naming op (cuda/gemm.cpp).
template <typename T>
void gemm_rm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, int64_t sa,
             const T* B, int64_t ldb, int64_t sb, T beta, T* C, int64_t ldc, int64_t sc, int64_t batch,
             const char* op);

// Small kernels of cuda/layer_norm.cu that cuda/gemm.cpp (plain C++) uses:
// y (rows, cols) contiguous = v (cols,) contiguous on every row;
void broadcast_rows(const Tensor& y, const Tensor& v, int64_t rows, int64_t cols);
// (cols,) = the sum over rows of m (rows, cols) contiguous, in a fixed order (deterministic).
Tensor column_sum(const Tensor& m, int64_t rows, int64_t cols, const char* op);

// cuBLAS handle of the current device (created on first use, bound to the default stream).
cublasHandle_t cublas_handle();
// Whether f32 GEMMs may use TF32 tensor cores (SHEARS_CUDA_TF32=1; default off so results
// match the host within 1e-5). Read once.
bool tf32_enabled();

}  // namespace shears::cuda
