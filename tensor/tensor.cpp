// Tensor handle methods: geometry queries, typed element access, autograd slots, printing.
#include "tensor/tensor.h"

#include <iomanip>
#include <ostream>

#include "tensor/backend.h"
#include "tensor/kernels.h"

namespace shears {

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t s : shape)
    SHEARS_CHECK(s >= 0, "empty", "negative size in shape ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(
      static_cast<size_t>(shape_nbytes(shape, static_cast<int64_t>(dtype_size(dtype)))), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::view_of(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

int64_t Tensor::size(int64_t d) const { return shape()[normalize_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[normalize_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;  // no element to lay out (zero-size dims get stride-1 placeholders)
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (shape()[i] == 1) continue;
    if (strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

void Tensor::check_dtype(DType expected, const char* op) const {
  if (dtype() != expected)
    fail(op, "expected dtype ", dtype_name(expected), ", got ", dtype_name(dtype()), " for a tensor of shape ",
         shape_str(shape()));
}

void Tensor::fail_not_on_host() const {
  fail("data", "the tensor of shape ", shape_str(shape()), " is on ", device().str(),
       ": host code cannot read device memory; an op without a ", device_type_name(device().type),
       " kernel reached it, or call .cpu() first");
}

Tensor Tensor::to(Device target) const {
  if (device() == target) return *this;
  if (!device().is_cpu() && !target.is_cpu()) return cpu().to(target);  // device -> device via the host
  Tensor src = kernels::contiguous(*this);  // packed on its own device
  Tensor out = Tensor::empty(shape(), dtype(), target);
  const size_t n = static_cast<size_t>(numel()) * dtype_size(dtype());
  if (n == 0) return out;
  if (target.is_cpu())
    backend_for(device()).copy_to_host(out.raw_data(), src.raw_data(), n, device().index);
  else
    backend_for(target).copy_to_device(out.raw_data(), src.raw_data(), n, target.index);
  return out;
}

template <typename T>
T Tensor::item() const {
  SHEARS_CHECK(numel() == 1, "item", "expected a one-element tensor, got shape ", shape_str(shape()));
  if (!device().is_cpu()) return cpu().item<T>();
  return SHEARS_DISPATCH_ALL(dtype(), "item", [&] {
    return static_cast<T>(*(static_cast<const scalar_t*>(raw_data())));
  });
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  if (!device().is_cpu()) return cpu().to_vector<T>();
  Tensor c = kernels::contiguous(*this);
  std::vector<T> out(static_cast<size_t>(numel()));
  SHEARS_DISPATCH_ALL(dtype(), "to_vector", [&] {
    const scalar_t* p = static_cast<const scalar_t*>(c.raw_data());
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(p[i]);
  });
  return out;
}

template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template int64_t Tensor::item<int64_t>() const;
template bool Tensor::item<bool>() const;
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<bool> Tensor::to_vector<bool>() const;

AutogradMeta& Tensor::autograd_meta() {
  if (!impl().autograd) impl_->autograd = std::make_shared<AutogradMeta>();
  return *impl_->autograd;
}

bool Tensor::requires_grad() const { return impl().autograd && impl_->autograd->requires_grad; }

bool Tensor::is_leaf() const { return !impl().autograd || !impl_->autograd->grad_fn; }

Tensor& Tensor::set_requires_grad(bool value) {
  SHEARS_CHECK(is_leaf(), "set_requires_grad", "only leaf tensors can be marked; detach() this one first");
  SHEARS_CHECK(!value || is_floating(dtype()), "set_requires_grad",
               "only floating tensors can require grad, got ", dtype_name(dtype()));
  autograd_meta().requires_grad = value;
  return *this;
}

Tensor Tensor::grad() const {
  if (!impl().autograd || !impl_->autograd->grad) return Tensor();
  return Tensor(impl_->autograd->grad);
}

void Tensor::set_grad(const Tensor& g) {
  if (g.defined())
    SHEARS_CHECK(g.shape() == shape() && g.dtype() == dtype(), "set_grad", "gradient of shape ",
                 shape_str(g.shape()), " ", dtype_name(g.dtype()), " does not match tensor ",
                 shape_str(shape()), " ", dtype_name(dtype()));
  autograd_meta().grad = g.defined() ? g.impl_ptr() : nullptr;
}

const std::shared_ptr<Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<Node> none;
  return impl().autograd ? impl_->autograd->grad_fn : none;
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "Tensor(undefined)";
  os << "Tensor(shape=" << shape_str(t.shape()) << ", dtype=" << dtype_name(t.dtype());
  if (!t.device().is_cpu()) os << ", device=" << t.device().str();
  if (t.requires_grad()) os << ", requires_grad";
  os << ")";
  const int64_t n = t.numel();
  if (n <= 64) {
    auto v = t.to_vector<double>();
    os << " [";
    for (int64_t i = 0; i < n; ++i) os << (i ? ", " : "") << std::setprecision(6) << v[i];
    os << "]";
  }
  return os;
}

}  // namespace shears
