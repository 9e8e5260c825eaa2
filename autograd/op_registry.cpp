// The list of differentiable op names (see op_registry.h). Add a name here when adding
// an op; tests/autograd/test_gradcheck.cpp must then get a gradient check for it.
#include "autograd/op_registry.h"

#include <algorithm>

namespace shears {

const std::vector<std::string>& registered_ops() {
  static const std::vector<std::string> ops = {
      // views and shape
      "reshape", "permute", "slice", "expand", "squeeze", "unsqueeze", "contiguous", "concat", "stack",
      "to_dtype",
      // indexing
      "index_select", "gather", "scatter_add", "index_add",
      // elementwise
      "add", "sub", "mul", "div", "add_scalar", "mul_scalar", "neg", "exp", "log", "sqrt", "rsqrt", "pow",
      "abs", "tanh", "sigmoid", "relu", "gelu", "where", "clamp",
      // reductions
      "sum", "mean", "amax", "amin", "var",
      // linear algebra and nn
      "matmul", "softmax", "log_softmax", "layer_norm", "layer_norm_select", "dropout", "linear", "attention",
      "attention_probs", "conv2d", "batch_norm",
      // losses
      "cross_entropy",
  };
  return ops;
}

bool is_registered_op(const std::string& name) {
  const auto& ops = registered_ops();
  return std::find(ops.begin(), ops.end(), name) != ops.end();
}

}  // namespace shears
