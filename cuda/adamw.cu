// The CUDA AdamW update: one elementwise kernel doing the host loop's operations (train/adamw.cpp)
// in its order, with rounding intrinsics so nvcc never fuses them into FMAs.

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
