// Module bookkeeping: parameter/child registries, dotted names, train/eval.
#include "nn/module.h"

#include "tensor/error.h"

namespace shears::nn {

void Module::register_parameter(const std::string& name, Tensor* slot) {
  for (auto& p : params_)
    SHEARS_CHECK(p.first != name, "register_parameter", "duplicate parameter name '", name, "'");
  if (slot->defined() && !slot->requires_grad()) slot->set_requires_grad(true);
  params_.emplace_back(name, slot);
}

void Module::register_buffer(const std::string& name, Tensor* slot) {
  for (auto& b : buffers_)
    SHEARS_CHECK(b.first != name, "register_buffer", "duplicate buffer name '", name, "'");
  buffers_.emplace_back(name, slot);
}

namespace {
// Re-points t's impl at a copy of its values on `device`, so every handle sharing the impl follows.
void move_in_place(const Tensor& t, Device device) {
  if (!t.defined() || t.device() == device) return;
  const Tensor moved = t.to(device);
  TensorImpl* impl = t.unsafe_impl();
  impl->storage = moved.storage();
  impl->strides = moved.strides();
  impl->offset = 0;
}
}  // namespace

void Module::to(Device device) {
  for (auto& p : params_) {
    Tensor& t = *p.second;
    move_in_place(t, device);
    if (t.defined() && t.grad().defined()) move_in_place(t.grad(), device);
  }
  for (auto& b : buffers_) move_in_place(*b.second, device);
  for (auto& c : children_) c.second->to(device);
}

Device Module::device() const {
  std::vector<std::pair<std::string, Tensor>> all;
  collect("", all);
  for (auto& p : all)
    if (p.second.defined()) return p.second.device();
  return Device::cpu();
}

void Module::register_module(const std::string& name, std::shared_ptr<Module> child) {
  for (auto& c : children_)
    SHEARS_CHECK(c.first != name, "register_module", "duplicate child name '", name, "'");
  child->train(training_);
  children_.emplace_back(name, std::move(child));
}

void Module::unregister_module(const std::string& name) {
  for (auto it = children_.begin(); it != children_.end(); ++it)
    if (it->first == name) {
      children_.erase(it);
      return;
    }
  fail("unregister_module", "no child named '", name, "'");
}

void Module::collect(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& p : params_)
    if (p.second->defined()) out.emplace_back(prefix + p.first, *p.second);
  for (const auto& c : children_) c.second->collect(prefix + c.first + ".", out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", out);
  return out;
}

TensorList Module::parameters() const {
  TensorList out;
  for (auto& p : named_parameters()) out.push_back(p.second);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (auto& c : children_)
    for (auto& sub : c.second->named_modules())
      out.emplace_back(sub.first.empty() ? c.first : c.first + "." + sub.first, sub.second);
  return out;
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (auto& p : named_parameters()) n += p.second.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& c : children_) c.second->train(on);
}

Tensor* Module::find_parameter(const std::string& name) {
  for (auto& p : params_)
    if (p.first == name) return p.second;
  auto dot = name.find('.');
  if (dot == std::string::npos) return nullptr;
  std::string head = name.substr(0, dot), rest = name.substr(dot + 1);
  for (auto& c : children_)
    if (c.first == head) return c.second->find_parameter(rest);
  return nullptr;
}

}  // namespace shears::nn
