// Float64 central-difference gradient check for users and tests. f maps inputs to any
// tensor; the check compares the analytic gradient of sum(f(x) * w), with w a fixed
// random weighting, to (F(x + h e_i) - F(x - h e_i)) / 2h for every input element.
#pragma once
#include <functional>
#include <string>

#include "tensor/tensor.h"

namespace shears {

struct GradcheckOptions {
  double step = 1e-5;           // h (near the optimum (eps_f64)^(1/3) for O(1) inputs)
  double tolerance = 1e-6;      // on the relative error below
  double abs_floor = 1e-3;      // denominators below this count as this (near-zero grads)
  uint64_t seed = 1234;         // for the weighting w
};

struct GradcheckResult {
  bool ok = false;
  double max_rel_error = 0;  // max over elements of |a - n| / max(|a|, |n|, abs_floor)
  std::string report;        // which input and element was worst
};

// Inputs must be f64 and are treated as leaves requiring grad (integer inputs such as
// indices are passed through unchecked). Inputs on a device are checked there: f runs on the
// device, each element is perturbed in place on it.
GradcheckResult gradcheck(const std::function<Tensor(const TensorList&)>& f,
                          const TensorList& inputs, const GradcheckOptions& opts = {});

}  // namespace shears
