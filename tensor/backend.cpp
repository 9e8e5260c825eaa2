// The backend registry, the device checks of the kernels' front door, and the default
// "not implemented on this device" answers of Backend (tensor/backend.h).
#include "tensor/backend.h"

#include <array>
#include <atomic>

#include "tensor/error.h"

namespace shears {

namespace {
std::array<std::atomic<Backend*>, 2>& registry() {
  static std::array<std::atomic<Backend*>, 2> r{};
  return r;
}
}  // namespace

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : std::string(device_type_name(type)) + ":" + std::to_string(index);
}

const Device Device::CPU = Device::cpu();
const Device Device::CUDA = Device::cuda(0);

Device parse_device(const std::string& text, const std::string& what) {
  if (text == "cpu") return Device::cpu();
  if (text == "cuda") return Device::cuda(0);
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5 && text.size() <= 8) {
    int index = 0;
    for (size_t i = 5; i < text.size(); ++i) {
      if (text[i] < '0' || text[i] > '9') index = -1;
      if (index < 0) break;
      index = index * 10 + (text[i] - '0');
    }
    if (index >= 0) return Device::cuda(index);
  }
  fail(what.c_str(), "unknown device '", text, "': expected cpu, cuda or cuda:N (N = 0, 1, ...)");
}

void register_backend(DeviceType type, Backend* backend) {
  registry()[static_cast<size_t>(type)].store(backend);
}

Backend* find_backend(DeviceType type) { return registry()[static_cast<size_t>(type)].load(); }

Backend& backend_for(Device device) {
  if (device.is_cpu()) fail("device", "the host has no backend object; its kernels are tensor/kernels.h");
  Backend* b = find_backend(device.type);
  if (!b) fail("device", device.str(), ": built without CUDA; configure with -DSHEARS_WITH_CUDA=ON");
  int n = b->device_count();
  if (device.index < 0 || device.index >= n)
    fail("device", device.str(), " does not exist: this machine has ", n, " ", device_type_name(device.type),
         " device(s)", n == 0 ? " (no GPU found or no driver)" : "");
  return *b;
}

int device_count(DeviceType type) {
  if (type == DeviceType::CPU) return 1;
  Backend* b = find_backend(type);
  return b ? b->device_count() : 0;
}

Device common_device(const char* op, std::initializer_list<const Tensor*> tensors) {
  const Tensor* first = nullptr;
  for (const Tensor* t : tensors) {
    if (!t || !t->defined()) continue;
    if (!first) {
      first = t;
    } else if (t->device() != first->device()) {
      fail(op, "tensors on two devices: ", first->device().str(), " and ", t->device().str(),
           "; move them to one device with .to(...) first");
    }
  }
  return first ? first->device() : Device::cpu();
}

void Backend::unsupported(const char* op) const {
  fail(op, "not implemented on ", device_type_name(type()), " (the ", device_type_name(type()),
       " backend has no kernel for it); move the tensors to the cpu with .cpu() to run it there");
}

void Backend::copy_(const Tensor&, const Tensor&) { unsupported("copy_"); }
Tensor Backend::to_dtype(const Tensor&, DType) { unsupported("to_dtype"); }
void Backend::fill_(const Tensor&, double) { unsupported("fill_"); }
Tensor Backend::unary(kernels::UnaryOp, const Tensor&) { unsupported("unary"); }
Tensor Backend::binary(kernels::BinaryOp, const Tensor&, const Tensor&) { unsupported("binary"); }
Tensor Backend::binary_scalar(kernels::BinaryOp, const Tensor&, double) { unsupported("binary_scalar"); }
Tensor Backend::pow_scalar(const Tensor&, double) { unsupported("pow_scalar"); }
Tensor Backend::pow_scalar_backward(const Tensor&, double, const Tensor&) { unsupported("pow_scalar_backward"); }
Tensor Backend::compare(kernels::CompareOp, const Tensor&, const Tensor&) { unsupported("compare"); }
Tensor Backend::compare_scalar(kernels::CompareOp, const Tensor&, double) { unsupported("compare_scalar"); }
Tensor Backend::where(const Tensor&, const Tensor&, const Tensor&) { unsupported("where"); }
Tensor Backend::clamp(const Tensor&, std::optional<double>, std::optional<double>) { unsupported("clamp"); }
Tensor Backend::clamp_backward(const Tensor&, std::optional<double>, std::optional<double>, const Tensor&) {
  unsupported("clamp_backward");
}
void Backend::axpby_(const Tensor&, double, const Tensor&, double) { unsupported("axpby_"); }
Tensor Backend::reduce(kernels::ReduceOp, const Tensor&, const Shape&, bool) { unsupported("reduce"); }
Tensor Backend::arg_extremum(const Tensor&, int64_t, bool, bool) { unsupported("argmax/argmin"); }
Tensor Backend::var(const Tensor&, const Shape&, int64_t, bool) { unsupported("var"); }
Tensor Backend::index_select(const Tensor&, int64_t, const Tensor&) { unsupported("index_select"); }
Tensor Backend::gather(const Tensor&, int64_t, const Tensor&) { unsupported("gather"); }
void Backend::scatter_add_(const Tensor&, int64_t, const Tensor&, const Tensor&) { unsupported("scatter_add_"); }
void Backend::index_add_(const Tensor&, int64_t, const Tensor&, const Tensor&) { unsupported("index_add_"); }
Tensor Backend::smoothed_one_hot(const Tensor&, int64_t, double, DType) { unsupported("smoothed_one_hot"); }
Tensor Backend::matmul(const Tensor&, const Tensor&) { unsupported("matmul"); }
Tensor Backend::softmax(const Tensor&, int64_t, bool) { unsupported("softmax"); }
Tensor Backend::softmax_backward(const Tensor&, const Tensor&, int64_t, bool) { unsupported("softmax_backward"); }
kernels::LayerNormResult Backend::layer_norm(const Tensor&, const Tensor&, const Tensor&, double) {
  unsupported("layer_norm");
}
kernels::LayerNormResult Backend::layer_norm_select(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                                    double) {
  unsupported("layer_norm_select");
}
kernels::LayerNormGrads Backend::layer_norm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                                     const Tensor&, bool) {
  unsupported("layer_norm_backward");
}
Tensor Backend::linear(const Tensor&, const Tensor&, const Tensor&) { unsupported("linear"); }
kernels::LinearGrads Backend::linear_backward(const Tensor&, const Tensor&, const Tensor&, bool, bool, bool) {
  unsupported("linear_backward");
}
kernels::AttentionResult Backend::attention(const Tensor&, int64_t, double, bool) { unsupported("attention"); }
Tensor Backend::attention_backward(const Tensor&, const Tensor&, const Tensor&, int64_t, double) {
  unsupported("attention_backward");
}
void Backend::adamw_update_(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const AdamWCoefficients&) {
  unsupported("adamw_update_");
}
Tensor Backend::row_entropy(const Tensor&, double, int64_t, const char*) { unsupported("row_entropy"); }

}  // namespace shears
