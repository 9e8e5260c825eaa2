// Extension (de)serialisation for checkpoints (see model_extension.h).
#include "nn/model_extension.h"

#include <nlohmann/json.hpp>

#include "nn/io/bounded_json.h"
#include "tensor/error.h"

namespace shears::nn {

using nlohmann::json;

std::string extensions_to_json(const std::vector<std::shared_ptr<ModelExtension>>& extensions) {
  json out = json::array();
  for (const auto& ext : extensions) {
    SHEARS_CHECK(ext != nullptr, "save_model", "the model holds a null extension");
    const std::string kind = ext->kind();
    json state;
    try {
      state = json::parse(ext->to_json());
    } catch (const json::exception& e) {
      fail("save_model", "extension '", kind, "' wrote invalid JSON: ", e.what());
    }
    SHEARS_CHECK(state.is_object(), "save_model", "extension '", kind, "' must write a JSON object, got ",
                 state.type_name());
    out.push_back({{"kind", kind}, {"state", state}});
  }
  return out.dump();
}

std::vector<SavedExtension> extensions_from_json(const std::string& text, const std::string& where) {
  json root;
  try {
    root = parse_bounded_json<json>(text, "load_model", where, "the extensions");  // depth-limited: dump() stays safe
  } catch (const json::exception& e) {
    fail("load_model", where, ": the extensions are not valid JSON: ", e.what());
  }
  SHEARS_CHECK(root.is_array(), "load_model", where, ": the extensions must be a JSON array, got ", root.type_name());
  std::vector<SavedExtension> out;
  for (size_t i = 0; i < root.size(); ++i) {
    const json& j = root[i];
    SHEARS_CHECK(j.is_object() && j.contains("kind") && j["kind"].is_string() && j.contains("state") &&
                     j["state"].is_object(),
                 "load_model", where, ": extension ", i, " must be {\"kind\": string, \"state\": object}, got ",
                 j.dump());
    out.push_back({j["kind"].get<std::string>(), j["state"].dump()});
  }
  return out;
}

}  // namespace shears::nn
