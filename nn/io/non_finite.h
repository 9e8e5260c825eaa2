// The save guard against diverged runs: finds the first NaN/inf in a list of named tensors (one
// pass, f32/f64 only; integer and bool tensors are always finite) so checkpoint writers can
// refuse to replace a good file with poisoned weights, naming the tensor and element.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace shears::nn {

struct NonFiniteValue {
  std::string tensor;  // its name in the list
  int64_t index = 0;   // flat (row-major) element index
  double value = 0;    // nan, inf or -inf
};

// "nan" (whatever its sign bit), "inf" or "-inf"; other values as the stream writes them.
std::string value_text(double v);

// The first non-finite element in list order, or nullopt when every value is finite.
std::optional<NonFiniteValue> first_non_finite(const std::vector<std::pair<std::string, Tensor>>& tensors);

// Throws shears::Error "[op] <path>: refusing to save non-finite weights: tensor '<name>' holds
// <value> at element <i> ...; the previous file at <path> is kept" (or "no file was written" when
// there is none) when first_non_finite finds something; returns otherwise. Call before writing.
void refuse_non_finite(const char* op, const std::string& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors);

}  // namespace shears::nn
