// Tensor: a cheap handle (shared_ptr) to a strided view of a Storage: shape and strides
// in elements, an element offset, a dtype and a device, plus the autograd slots
// (requires_grad, grad, grad_fn) that autograd/ fills. Views share storage; ops live
// in tensor/kernels (raw, no gradient) and autograd/ (differentiable).
#pragma once
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/error.h"
#include "tensor/shape.h"
#include "tensor/storage.h"

namespace shears {

class Node;  // autograd graph node, defined in autograd/
class Tensor;
using TensorList = std::vector<Tensor>;

// Autograd slots of a tensor. Plain data here; autograd/ owns the semantics.
struct AutogradMeta {
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;          // set on outputs of recorded ops
  std::shared_ptr<struct TensorImpl> grad;  // accumulated gradient of a leaf
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  int64_t offset = 0;
  DType dtype = DType::F32;
  std::shared_ptr<AutogradMeta> autograd;  // null until needed
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // A fresh contiguous tensor (uninitialized memory).
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  // A view of `base`'s storage with the given geometry (no autograd history).
  static Tensor view_of(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset);

  bool defined() const { return impl_ != nullptr; }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t offset() const { return impl().offset; }
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t stride(int64_t d) const;
  int64_t numel() const { return shape_numel(impl().shape); }
  bool is_contiguous() const;

  // Typed host pointer to element 0 of the view; throws if T does not match the dtype or the
  // tensor is not on the host (host code must never touch device memory: move it with .cpu()).
  template <typename T> T* data() const {
    check_dtype(dtype_of<T>::value, "data");
    if (!impl().storage->device().is_cpu()) fail_not_on_host();
    return static_cast<T*>(impl().storage->data()) + impl().offset;
  }
  // Address of element 0 on the tensor's own device (a device address for a GPU tensor; only
  // a backend may dereference it).
  void* raw_data() const {
    return static_cast<char*>(impl().storage->data()) + impl().offset * dtype_size(dtype());
  }
  // The same values on `device` (a contiguous copy; the tensor itself when already there). Not
  // recorded by autograd: move leaves (Module::to) and batches, not intermediate results.
  Tensor to(Device device) const;
  Tensor cpu() const { return to(Device::cpu()); }
  Tensor cuda(int index = 0) const { return to(Device::cuda(index)); }

  // The single element of a one-element tensor, converted to T (copied to the host first).
  template <typename T> T item() const;
  // All elements in logical (row-major) order, converted to T (copied to the host first).
  template <typename T> std::vector<T> to_vector() const;

  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  TensorImpl* unsafe_impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

  // ---- autograd slots (semantics in autograd/) ----
  bool requires_grad() const;
  // Marks a leaf as requiring a gradient; throws on non-leaves and non-float dtypes.
  Tensor& set_requires_grad(bool value = true);
  bool is_leaf() const;
  Tensor grad() const;  // undefined until a backward pass reaches this leaf
  void set_grad(const Tensor& g);
  const std::shared_ptr<Node>& grad_fn() const;
  AutogradMeta& autograd_meta();  // creates the slots on first use

  void check_dtype(DType expected, const char* op) const;
  [[noreturn]] void fail_not_on_host() const;

 private:
  const TensorImpl& impl() const {
    if (!impl_) fail("tensor", "use of an undefined tensor");
    return *impl_;
  }
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace shears
