// Grad mode, op recording and the backward engine. Nodes are numbered at creation;
// running them in decreasing number is a topological order of the reverse graph. Each
// node's incoming gradients are summed before it runs; leaves accumulate into grad().
#include "autograd/engine.h"

#include <algorithm>
#include <atomic>
#include <unordered_map>
#include <unordered_set>

#include "autograd/node.h"
#include "autograd/op_registry.h"
#include "tensor/creation.h"
#include "tensor/kernels.h"

namespace shears {

namespace {
thread_local bool t_grad_mode = true;
thread_local const std::vector<Edge>* t_current_edges = nullptr;
std::atomic<uint64_t> g_sequence{0};
}  // namespace

bool grad_mode_enabled() { return t_grad_mode; }
void set_grad_mode(bool enabled) { t_grad_mode = enabled; }

bool input_needs_grad(size_t i) {
  return t_current_edges == nullptr || (i < t_current_edges->size() && (*t_current_edges)[i].active());
}

Tensor record(const char* op, const Tensor& output, const TensorList& inputs, Node::BackwardFn backward) {
  if (!t_grad_mode) return output;
  bool any = false;
  for (const Tensor& t : inputs) any = any || (t.defined() && t.requires_grad());
  if (!any) return output;
  if (!is_registered_op(op)) fail("autograd", "op '", op, "' is not in the op registry (autograd/op_registry.cpp)");

  auto node = std::make_shared<Node>();
  node->name = op;
  node->sequence_nr = g_sequence.fetch_add(1);
  node->backward = std::move(backward);
  node->next_edges.resize(inputs.size());
  node->input_shapes.resize(inputs.size());
  node->input_dtypes.resize(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    if (!t.defined()) continue;
    node->input_shapes[i] = t.shape();
    node->input_dtypes[i] = t.dtype();
    if (!t.requires_grad()) continue;
    Tensor& mt = const_cast<Tensor&>(t);
    if (t.grad_fn()) node->next_edges[i].fn = t.grad_fn();
    else node->next_edges[i].leaf = mt.impl_ptr()->autograd;
  }
  // The returned tensor is always a fresh handle on the output's storage: the backward
  // function may capture `output` (e.g. exp keeps y), and a captured handle that also
  // owned the node would form a reference cycle; a kernel may also hand back an input.
  Tensor out = Tensor::view_of(output, output.shape(), output.strides(), output.offset());
  AutogradMeta& meta = out.autograd_meta();
  meta.requires_grad = true;
  meta.grad_fn = std::move(node);
  return out;
}

namespace {
void accumulate_leaf(AutogradMeta& leaf, const Tensor& g) {
  if (leaf.grad) {
    kernels::axpby_(Tensor(leaf.grad), 1.0, g);
  } else {
    leaf.grad = kernels::clone(g).impl_ptr();  // own copy: backward outputs may be shared
  }
}
}  // namespace

void backward(const Tensor& root, const Tensor& seed_in, bool retain_graph) {
  SHEARS_CHECK(root.requires_grad(), "backward", "the tensor does not require grad (shape ",
               shape_str(root.shape()), "); did an input have set_requires_grad()?");
  Tensor seed = seed_in;
  if (!seed.defined()) {
    SHEARS_CHECK(root.numel() == 1, "backward", "a seed gradient is required for a non-scalar output of shape ",
                 shape_str(root.shape()));
    seed = ones(root.shape(), root.dtype(), root.device());
  }
  SHEARS_CHECK(seed.shape() == root.shape() && seed.dtype() == root.dtype(), "backward", "seed ",
               shape_str(seed.shape()), " ", dtype_name(seed.dtype()), " does not match output ",
               shape_str(root.shape()), " ", dtype_name(root.dtype()));
  NoGradGuard no_grad;
  if (!root.grad_fn()) {
    accumulate_leaf(*root.impl_ptr()->autograd, seed);
    return;
  }
  // Collect the reachable nodes.
  std::vector<Node*> nodes;
  std::unordered_set<Node*> seen;
  std::vector<Node*> stack{root.grad_fn().get()};
  seen.insert(stack.back());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    nodes.push_back(n);
    for (const Edge& e : n->next_edges)
      if (e.fn && seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
  }
  std::sort(nodes.begin(), nodes.end(), [](Node* a, Node* b) { return a->sequence_nr > b->sequence_nr; });

  std::unordered_map<Node*, Tensor> pending;
  pending[root.grad_fn().get()] = seed;
  for (Node* n : nodes) {
    auto it = pending.find(n);
    if (it == pending.end()) continue;  // no gradient reached this node
    Tensor g = std::move(it->second);
    pending.erase(it);
    if (!n->backward)
      fail("backward", "the graph through op '", n->name,
           "' was already freed by an earlier backward(); pass retain_graph=true to backward twice");
    t_current_edges = &n->next_edges;
    TensorList grads;
    try {
      grads = n->backward(g);
    } catch (...) {
      t_current_edges = nullptr;
      throw;
    }
    t_current_edges = nullptr;
    if (!retain_graph) n->backward = nullptr;
    SHEARS_CHECK(grads.size() == n->next_edges.size(), "backward", "op '", n->name, "' returned ", grads.size(),
                 " gradients for ", n->next_edges.size(), " inputs");
    for (size_t i = 0; i < grads.size(); ++i) {
      const Edge& e = n->next_edges[i];
      const Tensor& gi = grads[i];
      if (!e.active() || !gi.defined()) continue;
      if (gi.shape() != n->input_shapes[i] || gi.dtype() != n->input_dtypes[i])
        fail("backward", "op '", n->name, "' produced a gradient of shape ", shape_str(gi.shape()), " ",
             dtype_name(gi.dtype()), " for input ", i, " of shape ", shape_str(n->input_shapes[i]), " ",
             dtype_name(n->input_dtypes[i]));
      if (e.leaf) {
        accumulate_leaf(*e.leaf, gi);
      } else {
        auto [slot, inserted] = pending.emplace(e.fn.get(), gi);
        if (!inserted) slot->second = kernels::binary(kernels::BinaryOp::Add, slot->second, gi);
      }
    }
  }
}

void zero_grad(const TensorList& params) {
  for (const Tensor& p : params)
    if (p.defined() && p.unsafe_impl()->autograd) p.unsafe_impl()->autograd->grad = nullptr;
}

Tensor detach(const Tensor& x) { return Tensor::view_of(x, x.shape(), x.strides(), x.offset()); }

}  // namespace shears
