// ParameterSlice: what surgery did to one parameter (renamed, sliced along one dim, or removed),
// so that state keyed by parameter name (optimizer moments) can follow the model. It lives in nn/
// so that train/ can follow surgery without depending on pruning/.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace shears::nn {

struct ParameterSlice {
  std::string old_name;           // the parameter's name before surgery ("blocks.3.mlp.fc1.weight")
  std::string new_name;           // its name after surgery; "" = removed (its block was dropped)
  int64_t dim = -1;               // the dim that was sliced; -1 = renamed (or removed) only
  std::vector<int64_t> kept;      // indices kept along `dim`, sorted, in the old numbering
};

}  // namespace shears::nn
