// Backend: the seam between the library and a device other than the host. A backend owns
// its device's memory (allocate / free / copies to and from the host) and implements the raw
// kernels of tensor/kernels.h for tensors on that device, with the same contracts (shapes,
// dtypes, broadcasting, fresh contiguous outputs). The host's kernels are the CPU backend:
// every kernels:: entry point checks its inputs, then hands tensors that live on another
// device to the backend registered for that device type. An optional module (cuda/) registers
// itself at start-up; without it, asking for such a device throws "built without CUDA;
// configure with -DSHEARS_WITH_CUDA=ON". A kernel a backend does not implement throws an
// error naming the op and the device (`supports` answers without trying): there is no silent
// fallback to the host.
#pragma once
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>

#include "tensor/device.h"
#include "tensor/kernels.h"

namespace shears {

// One AdamW update of a parameter (decoupled weight decay, bias-corrected moments):
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= lr (m/bc1 / (sqrt(v/bc2) + eps) + wd p)
// with bc1 = 1 - b1^step, bc2 = 1 - b2^step (train/adamw.cpp has the host loop).
struct AdamWCoefficients {
  double lr = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  double bias_correction1 = 1, bias_correction2 = 1;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // ---- the device ----
  virtual DeviceType type() const = 0;
  virtual int device_count() const = 0;               // 0 when the module is built but no device is present
  virtual std::string describe(int index) const = 0;  // e.g. "NVIDIA H200 (sm_90, 139 GiB)"
  virtual void synchronize(int index) = 0;            // waits for all queued work on the device
  // Names of the kernels this backend implements (kernels.h names: "unary", "attention", ...).
  virtual bool supports(const std::string& op) const = 0;

  // ---- memory (bytes; pointers are device addresses) ----
  virtual void* allocate(size_t nbytes, int index) = 0;  // throws on out-of-memory, naming the size
  virtual void deallocate(void* p, size_t nbytes, int index) noexcept = 0;
  virtual void copy_to_device(void* dst, const void* host_src, size_t nbytes, int index) = 0;
  virtual void copy_to_host(void* host_dst, const void* src, size_t nbytes, int index) = 0;
  virtual size_t bytes_in_use(int index) const = 0;
  virtual size_t bytes_peak(int index) const = 0;

  // ---- kernels (contracts in tensor/kernels.h; every tensor argument is on this backend's device,
  // inputs may be strided views; the front door has already checked shapes and dtypes) ----
  virtual void copy_(const Tensor& dst, const Tensor& src);  // same dtype, src broadcast to dst
  virtual Tensor to_dtype(const Tensor& x, DType dtype);
  virtual void fill_(const Tensor& dst, double value);
  virtual Tensor unary(kernels::UnaryOp op, const Tensor& x);
  virtual Tensor binary(kernels::BinaryOp op, const Tensor& a, const Tensor& b);
  virtual Tensor binary_scalar(kernels::BinaryOp op, const Tensor& a, double s);
  virtual Tensor pow_scalar(const Tensor& x, double exponent);
  virtual Tensor pow_scalar_backward(const Tensor& x, double exponent, const Tensor& dy);
  virtual Tensor compare(kernels::CompareOp op, const Tensor& a, const Tensor& b);
  virtual Tensor compare_scalar(kernels::CompareOp op, const Tensor& a, double s);
  virtual Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
  virtual Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi);
  virtual Tensor clamp_backward(const Tensor& x, std::optional<double> lo, std::optional<double> hi,
                                const Tensor& dy);
  virtual void axpby_(const Tensor& dst, double alpha, const Tensor& src, double beta);

  virtual Tensor reduce(kernels::ReduceOp op, const Tensor& x, const Shape& dims, bool keepdim);
  virtual Tensor arg_extremum(const Tensor& x, int64_t dim, bool keepdim, bool is_max);
  virtual Tensor var(const Tensor& x, const Shape& dims, int64_t correction, bool keepdim);

  virtual Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
  virtual Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
  virtual void scatter_add_(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src);
  virtual void index_add_(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src);
  virtual Tensor smoothed_one_hot(const Tensor& labels, int64_t num_classes, double smoothing, DType dtype);

  virtual Tensor matmul(const Tensor& a, const Tensor& b);
  virtual Tensor softmax(const Tensor& x, int64_t dim, bool log);
  virtual Tensor softmax_backward(const Tensor& y, const Tensor& dy, int64_t dim, bool log);
  virtual kernels::LayerNormResult layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                              double eps);
  virtual kernels::LayerNormResult layer_norm_select(const Tensor& x, const Tensor& index, const Tensor& weight,
                                                     const Tensor& bias, double eps);
  virtual kernels::LayerNormGrads layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& mean,
                                                      const Tensor& rstd, const Tensor& weight, bool has_bias);
  virtual Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);
  virtual kernels::LinearGrads linear_backward(const Tensor& dy, const Tensor& x, const Tensor& weight,
                                               bool need_dx, bool need_dweight, bool need_dbias);
  virtual kernels::AttentionResult attention(const Tensor& qkv, int64_t heads, double scale, bool keep_probs);
  virtual Tensor attention_backward(const Tensor& dout, const Tensor& qkv, const Tensor& probs, int64_t heads,
                                    double scale);
  // In place on contiguous f32/f64 tensors of one shape: the AdamW update above.
  virtual void adamw_update_(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                             const AdamWCoefficients& c);
  // Rényi entropy of order `alpha` (>= 0; +inf = min-entropy) of each row of a contiguous (rows, n)
  // f32/f64 tensor, over its entries [skip, n) normalised by their sum -> f64 (rows,): the host's
  // pruning::renyi_entropy(p + skip, n - skip, alpha) row by row (pruning/entropy.cpp: the same
  // branches, in double). A negative, NaN or non-finite entry is an error naming `op`, worded as
  // the host's.
  virtual Tensor row_entropy(const Tensor& x, double alpha, int64_t skip, const char* op);

 protected:
  [[noreturn]] void unsupported(const char* op) const;
};

// Called once by a module at start-up (a static registrar); a second registration for the same
// device type replaces the first.
void register_backend(DeviceType type, Backend* backend);
// The backend for `type`, or null when no module registered one.
Backend* find_backend(DeviceType type);
// The backend of a non-host device, checked: no module -> "built without CUDA; configure with
// -DSHEARS_WITH_CUDA=ON"; index out of range -> the error names the devices that exist.
Backend& backend_for(Device device);
// Number of devices of a type (0 without its module); cpu -> 1.
int device_count(DeviceType type);

// The device all `tensors` (undefined ones skipped) live on; tensors on two devices are an
// error naming `op` and both devices.
Device common_device(const char* op, std::initializer_list<const Tensor*> tensors);

}  // namespace shears
