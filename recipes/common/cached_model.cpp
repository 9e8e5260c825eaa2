// Build-once model cache keyed by the recipe text in the checkpoint metadata (see cached_model.h).
#include "common/cached_model.h"

#include <filesystem>

#include "nn/checkpoint.h"
#include "nn/io/safetensors.h"

namespace shears::recipes {

CachedModel load_or_build_model(const std::string& path, const std::string& recipe_text, bool force_rebuild,
                                const std::function<std::shared_ptr<nn::VisionTransformer>()>& build,
                                const std::map<std::string, std::string>& extra) {
  SHEARS_CHECK(!recipe_text.empty(), "load_or_build_model", path, ": the recipe text is empty");
  CachedModel out;
  if (force_rebuild) {
    out.reason = "forced";
  } else if (!std::filesystem::is_regular_file(path)) {
    out.reason = "no file";
  } else {
    const auto meta = nn::read_safetensors_metadata(path);
    const auto it = meta.find(kCachedModelRecipeKey);
    if (it == meta.end()) {
      out.reason = "no recipe in file";
    } else if (it->second != recipe_text) {
      out.reason = "recipe differs (cached: " + it->second + ")";
    } else {
      out.model = nn::load_model(path);
      out.reused = true;
      out.reason = "cached";
      return out;
    }
  }
  out.model = build();
  SHEARS_CHECK(out.model != nullptr, "load_or_build_model", path, ": build() returned no model");
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  std::map<std::string, std::string> meta = extra;
  meta[kCachedModelRecipeKey] = recipe_text;
  nn::save_model(path, *out.model, meta);
  return out;
}

}  // namespace shears::recipes
