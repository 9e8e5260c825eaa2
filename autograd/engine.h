// Reverse-mode backward pass: runs the recorded graph from a root tensor and
// accumulates gradients into the leaves' grad() slots.
#pragma once
#include "tensor/tensor.h"

namespace shears {

// root: a scalar (seed = 1) or any tensor with an explicit seed of its shape.
// Gradients add up across calls until cleared (zero_grad / set_grad({})).
void backward(const Tensor& root, const Tensor& seed = Tensor(), bool retain_graph = false);

// Clears the gradients of the given tensors.
void zero_grad(const TensorList& params);

// A tensor sharing x's data with no autograd history.
Tensor detach(const Tensor& x);

}  // namespace shears
