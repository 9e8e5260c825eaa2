// A model a recipe builds once (e.g. trains from scratch) and caches as a checkpoint: the text of
// the recipe that built it travels in the file's metadata, and a later call with the same text
// loads the file instead of building again; a different text, a file without it, or a forced
// rebuild builds and overwrites the file.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "nn/vision_transformer.h"

namespace shears::recipes {

// The metadata key holding the recipe text.
inline constexpr const char* kCachedModelRecipeKey = "shears.cached_model_recipe";

struct CachedModel {
  std::shared_ptr<nn::VisionTransformer> model;
  bool reused = false;  // loaded from the file (build was not called)
  std::string reason;   // why: "cached", "no file", "forced", "recipe differs (cached: ...)", "no recipe in file"
};

// Loads `path` when it exists, holds `recipe_text` under kCachedModelRecipeKey and !force_rebuild;
// otherwise calls build() and saves its model to `path` (parent folders created, atomic write) with
// recipe_text and `extra` metadata. Throws when `recipe_text` is empty or build() returns nullptr.
CachedModel load_or_build_model(const std::string& path, const std::string& recipe_text, bool force_rebuild,
                                const std::function<std::shared_ptr<nn::VisionTransformer>()>& build,
                                const std::map<std::string, std::string>& extra = {});

}  // namespace shears::recipes
