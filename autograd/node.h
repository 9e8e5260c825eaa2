// The autograd graph: one Node per recorded op, holding the backward function and one
// Edge per input (to the producing Node, or to a leaf's gradient slot). record() is the
// single entry point ops use to attach their backward to an output.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "tensor/tensor.h"

namespace shears {

struct Edge {
  std::shared_ptr<Node> fn;            // producer of a non-leaf input
  std::shared_ptr<AutogradMeta> leaf;  // slot of a leaf input that requires grad
  bool active() const { return fn || leaf; }
};

class Node {
 public:
  // Maps the gradient of the output to one gradient per input (undefined = zero).
  using BackwardFn = std::function<TensorList(const Tensor& grad_output)>;

  const char* name = "";
  uint64_t sequence_nr = 0;  // creation order; reverse order is a topological order
  std::vector<Edge> next_edges;
  std::vector<Shape> input_shapes;
  std::vector<DType> input_dtypes;
  BackwardFn backward;  // reset after use unless the graph is retained
};

// Grad mode (thread-local, on by default). NoGradGuard turns recording off in a scope.
bool grad_mode_enabled();
void set_grad_mode(bool enabled);
class NoGradGuard {
 public:
  NoGradGuard() : prev_(grad_mode_enabled()) { set_grad_mode(false); }
  ~NoGradGuard() { set_grad_mode(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// Attaches `backward` to `output` when grad mode is on and some input requires grad;
// returns the output (a fresh handle if it aliases an input). `op` must be a name in
// the op registry (autograd/op_registry.h).
Tensor record(const char* op, const Tensor& output, const TensorList& inputs,
              Node::BackwardFn backward);

// Inside a backward function: whether input i of the node being run needs a gradient
// (lets ops skip work, e.g. the weight gradient of a frozen layer).
bool input_needs_grad(size_t i);

}  // namespace shears
