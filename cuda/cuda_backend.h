// CudaBackend: the Backend (tensor/backend.h) for NVIDIA GPUs. One object serves every
// device of the machine; all work of a device is queued on that device's default stream, so
// kernels, cuBLAS calls and copies run in issue order and a freed block can be reused by the
// next allocation at once. Memory comes from a caching allocator (cuda/cuda_backend.cpp).
// The kernels are defined by area: cuda/elementwise.cu (copies, fills, elementwise, clamp,
// axpby; launched by cuda/strided_launch.cuh), cuda/reduce.cu (reductions), cuda/index.cu
// (indexing, one-hot), cuda/adamw.cu, cuda/nn_kernels.cu (softmax, attention), cuda/layer_norm.cu
// (layer norm, the bias/column helpers of linear), cuda/entropy.cu (Rényi entropies of probability
// rows) and cuda/gemm.cpp (cuBLAS: matmul, linear); cuda/warp.cuh holds the warp helpers.
#pragma once
#include <string>

#include "tensor/backend.h"

namespace shears::cuda {

class CudaBackend final : public Backend {
 public:
  DeviceType type() const override { return DeviceType::CUDA; }
  int device_count() const override;
  std::string describe(int index) const override;
  void synchronize(int index) override;
  bool supports(const std::string& op) const override;

  void* allocate(size_t nbytes, int index) override;
  void deallocate(void* p, size_t nbytes, int index) noexcept override;
  void copy_to_device(void* dst, const void* host_src, size_t nbytes, int index) override;
  void copy_to_host(void* host_dst, const void* src, size_t nbytes, int index) override;
  size_t bytes_in_use(int index) const override;
  size_t bytes_peak(int index) const override;

  // cuda/elementwise.cu
  void copy_(const Tensor& dst, const Tensor& src) override;
  Tensor to_dtype(const Tensor& x, DType dtype) override;
  void fill_(const Tensor& dst, double value) override;
  Tensor unary(kernels::UnaryOp op, const Tensor& x) override;
  Tensor binary(kernels::BinaryOp op, const Tensor& a, const Tensor& b) override;
  Tensor binary_scalar(kernels::BinaryOp op, const Tensor& a, double s) override;
  Tensor pow_scalar(const Tensor& x, double exponent) override;
  Tensor pow_scalar_backward(const Tensor& x, double exponent, const Tensor& dy) override;
  Tensor compare(kernels::CompareOp op, const Tensor& a, const Tensor& b) override;
  Tensor compare_scalar(kernels::CompareOp op, const Tensor& a, double s) override;
  Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) override;
  Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) override;
  Tensor clamp_backward(const Tensor& x, std::optional<double> lo, std::optional<double> hi,
                        const Tensor& dy) override;
  void axpby_(const Tensor& dst, double alpha, const Tensor& src, double beta) override;

  // cuda/reduce.cu
  Tensor reduce(kernels::ReduceOp op, const Tensor& x, const Shape& dims, bool keepdim) override;
  Tensor arg_extremum(const Tensor& x, int64_t dim, bool keepdim, bool is_max) override;
  Tensor var(const Tensor& x, const Shape& dims, int64_t correction, bool keepdim) override;
  // cuda/index.cu
  Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) override;
  Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) override;
  void scatter_add_(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src) override;
  void index_add_(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src) override;
  Tensor smoothed_one_hot(const Tensor& labels, int64_t num_classes, double smoothing, DType dtype) override;
  // cuda/adamw.cu
  void adamw_update_(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                     const AdamWCoefficients& c) override;

  // cuda/gemm.cpp
  Tensor matmul(const Tensor& a, const Tensor& b) override;
  Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) override;
  kernels::LinearGrads linear_backward(const Tensor& dy, const Tensor& x, const Tensor& weight, bool need_dx,
                                       bool need_dweight, bool need_dbias) override;

  // cuda/nn_kernels.cu (softmax, attention) and cuda/layer_norm.cu
  Tensor softmax(const Tensor& x, int64_t dim, bool log) override;
  Tensor softmax_backward(const Tensor& y, const Tensor& dy, int64_t dim, bool log) override;
  kernels::LayerNormResult layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                      double eps) override;
  kernels::LayerNormResult layer_norm_select(const Tensor& x, const Tensor& index, const Tensor& weight,
                                             const Tensor& bias, double eps) override;
  kernels::LayerNormGrads layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& mean,
                                              const Tensor& rstd, const Tensor& weight, bool has_bias) override;
  kernels::AttentionResult attention(const Tensor& qkv, int64_t heads, double scale, bool keep_probs) override;
  Tensor attention_backward(const Tensor& dout, const Tensor& qkv, const Tensor& probs, int64_t heads,
                            double scale) override;

  // cuda/entropy.cu
  Tensor row_entropy(const Tensor& x, double alpha, int64_t skip, const char* op) override;
};

}  // namespace shears::cuda
