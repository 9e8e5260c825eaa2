// The registry of differentiable ops: every name passed to record() must be listed here,
// and the test suite fails when a registered op has no float64 gradient check.
#pragma once
#include <string>
#include <vector>

namespace shears {

const std::vector<std::string>& registered_ops();
bool is_registered_op(const std::string& name);

}  // namespace shears
