// Optimizer state following model surgery (see follow_surgery.h).
#include "train/follow_surgery.h"

#include <map>
#include <set>
#include <string>

#include "tensor/creation.h"
#include "tensor/kernels.h"

namespace shears::train {

namespace {

// One parameter the optimizer holds, followed through the slices.
struct Entry {
  size_t group = 0;
  std::string name;
  bool removed = false;
  std::vector<Tensor> state;  // one per state kind
};

}  // namespace

void follow_slices(const nn::Module& model, const std::vector<nn::ParameterSlice>& slices,
                   std::vector<ParamGroup>& groups, const std::vector<std::vector<std::vector<Tensor>>*>& states,
                   const char* op) {
  // ---- the entries, by current name
  std::vector<Entry> entries;
  for (size_t g = 0; g < groups.size(); ++g) {
    SHEARS_CHECK(groups[g].names.size() == groups[g].params.size(), op, "parameter group ", g, " has ",
                 groups[g].params.size(), " parameters but ", groups[g].names.size(),
                 " names; build the groups with decay_groups / layer_decay_groups or fill ParamGroup::names");
    for (size_t i = 0; i < groups[g].params.size(); ++i) {
      Entry e{g, groups[g].names[i], false, {}};
      for (auto* s : states) e.state.push_back((*s)[g][i]);
      entries.push_back(std::move(e));
    }
  }
  auto index_by_name = [&] {
    std::map<std::string, size_t> by_name;
    for (size_t k = 0; k < entries.size(); ++k) {
      if (entries[k].removed) continue;
      SHEARS_CHECK(by_name.emplace(entries[k].name, k).second, op, "two optimizer parameters are named '",
                   entries[k].name, "' after applying the slices");
    }
    return by_name;
  };
  std::map<std::string, size_t> by_name = index_by_name();

  // ---- runs of slices with distinct old names act at once
  size_t start = 0;
  while (start < slices.size()) {
    std::set<std::string> seen;
    size_t end = start;
    while (end < slices.size() && seen.insert(slices[end].old_name).second) ++end;
    for (size_t s = start; s < end; ++s) {
      const nn::ParameterSlice& sl = slices[s];
      auto it = by_name.find(sl.old_name);
      if (it == by_name.end()) continue;  // not held by this optimizer
      Entry& e = entries[it->second];
      if (sl.new_name.empty()) {
        e.removed = true;
        continue;
      }
      if (sl.dim >= 0) {
        const Tensor index = from_vector(sl.kept);
        for (Tensor& t : e.state) {
          SHEARS_CHECK(sl.dim < t.dim(), op, "slice of '", sl.old_name, "' along dim ", sl.dim,
                       " but its state has shape ", shape_str(t.shape()));
          for (int64_t k : sl.kept)
            SHEARS_CHECK(k >= 0 && k < t.size(sl.dim), op, "slice of '", sl.old_name, "' keeps index ", k,
                         " but its state has shape ", shape_str(t.shape()));
          t = kernels::index_select(t, sl.dim, index);
        }
      }
      e.name = sl.new_name;
    }
    by_name = index_by_name();
    start = end;
  }

  // ---- rebind to the model's current tensors and check shapes (before changing anything)
  std::map<std::string, Tensor> current;
  for (auto& [name, t] : model.named_parameters()) current.emplace(name, t);
  std::vector<Tensor> params(entries.size());
  for (size_t k = 0; k < entries.size(); ++k) {
    const Entry& e = entries[k];
    if (e.removed) continue;
    auto it = current.find(e.name);
    SHEARS_CHECK(it != current.end(), op, "optimizer parameter '", e.name,
                 "' is not in the model and no slice removes it (pass every slice the surgery returned)");
    for (const Tensor& t : e.state)
      SHEARS_CHECK(t.shape() == it->second.shape(), op, "state of '", e.name, "' has shape ", shape_str(t.shape()),
                   " but the parameter has shape ", shape_str(it->second.shape()),
                   " (a surgery not described by the slices?)");
    SHEARS_CHECK(it->second.is_contiguous() && it->second.dtype() == DType::F32, op, "parameter '", e.name,
                 "' must be contiguous f32");
    params[k] = it->second;
  }

  // ---- commit
  for (auto& g : groups) {
    g.params.clear();
    g.names.clear();
  }
  for (auto* s : states)
    for (auto& per_group : *s) per_group.clear();
  for (size_t k = 0; k < entries.size(); ++k) {
    const Entry& e = entries[k];
    if (e.removed) continue;
    groups[e.group].params.push_back(params[k]);
    groups[e.group].names.push_back(e.name);
    for (size_t j = 0; j < e.state.size(); ++j) (*states[j])[e.group].push_back(e.state[j]);
  }
}

}  // namespace shears::train
