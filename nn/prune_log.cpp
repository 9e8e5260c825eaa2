// Prune log JSON (see prune_log.h).
#include "nn/prune_log.h"

#include <nlohmann/json.hpp>

#include "nn/io/bounded_json.h"
#include "tensor/error.h"

namespace shears::nn {

using nlohmann::json;

namespace {

json params_object(const PruneStep& step, size_t index) {
  json params;
  try {
    params = json::parse(step.params_json);
  } catch (const json::exception& e) {
    fail("prune_log", "step ", index, " ('", step.method, "'): params_json is not valid JSON: ", e.what());
  }
  SHEARS_CHECK(params.is_object(), "prune_log", "step ", index, " ('", step.method,
               "'): params_json must be a JSON object, got ", step.params_json);
  return params;
}

}  // namespace

bool operator==(const PruneStep& a, const PruneStep& b) {
  return a.kind == b.kind && a.method == b.method && a.kept == b.kept &&
         json::parse(a.params_json) == json::parse(b.params_json);
}

std::string prune_log_to_json(const std::vector<PruneStep>& log) {
  json out = json::array();
  for (size_t i = 0; i < log.size(); ++i) {
    const PruneStep& s = log[i];
    json kept = json::object();
    for (const auto& [key, indices] : s.kept) kept[key] = indices;
    out.push_back({{"kind", s.kind}, {"method", s.method}, {"params", params_object(s, i)}, {"kept", kept}});
  }
  return out.dump();
}

std::vector<PruneStep> prune_log_from_json(const std::string& text, const std::string& where) {
  json root;
  try {
    root = parse_bounded_json<json>(text, "prune_log", where, "the prune log");  // depth-limited: dump() stays safe
  } catch (const json::exception& e) {
    fail("prune_log", where, ": the prune log is not valid JSON: ", e.what());
  }
  SHEARS_CHECK(root.is_array(), "prune_log", where, ": the prune log must be a JSON array of steps, got ",
               root.type_name());
  std::vector<PruneStep> log;
  for (size_t i = 0; i < root.size(); ++i) {
    const json& j = root[i];
    SHEARS_CHECK(j.is_object(), "prune_log", where, ": prune log step ", i, " must be an object, got ", j.type_name());
    PruneStep s;
    for (const char* key : {"kind", "method"}) {
      SHEARS_CHECK(j.contains(key) && j[key].is_string(), "prune_log", where, ": prune log step ", i,
                   " needs a string '", key, "'");
    }
    s.kind = j["kind"].get<std::string>();
    s.method = j["method"].get<std::string>();
    if (j.contains("params")) {
      SHEARS_CHECK(j["params"].is_object(), "prune_log", where, ": prune log step ", i, " ('", s.method,
                   "'): 'params' must be an object");
      s.params_json = j["params"].dump();
    }
    if (j.contains("kept")) {
      SHEARS_CHECK(j["kept"].is_object(), "prune_log", where, ": prune log step ", i, " ('", s.method,
                   "'): 'kept' must be an object of index lists");
      for (const auto& [key, value] : j["kept"].items()) {
        SHEARS_CHECK(value.is_array(), "prune_log", where, ": prune log step ", i, " ('", s.method, "'): kept '", key,
                     "' must be an array of integers");
        std::vector<int64_t> indices;
        for (const json& v : value) {
          SHEARS_CHECK(v.is_number_integer(), "prune_log", where, ": prune log step ", i, " ('", s.method, "'): kept '",
                       key, "' holds a non-integer entry ", v.dump());
          indices.push_back(v.get<int64_t>());
        }
        s.kept[key] = std::move(indices);
      }
    }
    log.push_back(std::move(s));
  }
  return log;
}

}  // namespace shears::nn
