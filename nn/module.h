// Module: the base of every model part. It keeps named parameters (pointers to its own
// Tensor members, so surgery that swaps a weight is seen at once) and named children,
// yields timm-style dotted names ("blocks.3.attn.qkv.weight"), and carries train/eval mode.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace shears::nn {

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // All parameters of this module and its children, depth first, with dotted names.
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  TensorList parameters() const;
  // Children by dotted name ("" is this module).
  std::vector<std::pair<std::string, Module*>> named_modules();
  int64_t parameter_count() const;

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Looks up a parameter slot by dotted name (nullptr when absent).
  Tensor* find_parameter(const std::string& name);

  // Moves every parameter (with its gradient) and every registered buffer of this module and its
  // children to `device`, in place: handles to the parameters held elsewhere (an optimizer) see
  // the new storage. Optimizer state created before the move is not moved: move first.
  void to(Device device);
  // The device of the first parameter (cpu for a module without parameters).
  Device device() const;

 public:
  // Registers a Tensor member as a parameter (marks it requires_grad).
  void register_parameter(const std::string& name, Tensor* slot);
  // Registers a non-trainable tensor member (a fixed table, running statistics) that `to` moves.
  void register_buffer(const std::string& name, Tensor* slot);
  // Registers a child; `name` may be a number for list entries ("blocks.0").
  void register_module(const std::string& name, std::shared_ptr<Module> child);
  // Removes a child by name (used by block surgery); the others keep their names.
  void unregister_module(const std::string& name);
  void clear_modules() { children_.clear(); }

 private:
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const;
  std::vector<std::pair<std::string, Tensor*>> params_;
  std::vector<std::pair<std::string, Tensor*>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace shears::nn
