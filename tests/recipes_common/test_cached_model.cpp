// recipes::load_or_build_model: the first call builds and writes the file with the recipe text;
// the same text loads it (identical weights, build not called); a different text, a file without
// the text, or a forced rebuild builds again and overwrites; an empty text and a null model throw.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>

#include <unistd.h>

#include "common/cached_model.h"
#include "nn/checkpoint.h"
#include "nn/io/safetensors.h"
#include "test_util.h"
#include "tiny_vit_task.h"

using namespace shears;

namespace {

std::map<std::string, std::vector<double>> weights_of(const nn::VisionTransformer& model) {
  std::map<std::string, std::vector<double>> out;
  for (const auto& [name, p] : model.named_parameters()) out[name] = test::ref_values(p);
  return out;
}

std::string temp_path(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("shears_cached_model_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

}  // namespace

TEST_CASE("load_or_build_model builds once and reuses the file while the recipe text matches",
          "[recipes_common][cached_model]") {
  const std::string path = temp_path("sub/base.safetensors");
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
  int builds = 0;
  uint64_t seed = 1;
  auto build = [&] {
    ++builds;
    return std::make_shared<nn::VisionTransformer>(test::tiny_vit_config(), seed);
  };
  auto first = recipes::load_or_build_model(path, "recipe A", false, build, {{"note", "x"}});
  CHECK_FALSE(first.reused);
  CHECK(first.reason == "no file");
  CHECK(builds == 1);
  REQUIRE(std::filesystem::is_regular_file(path));
  const auto meta = nn::read_safetensors_metadata(path);
  CHECK(meta.at(recipes::kCachedModelRecipeKey) == "recipe A");
  CHECK(meta.at("note") == "x");

  seed = 2;  // a rebuild would give other weights
  auto second = recipes::load_or_build_model(path, "recipe A", false, build);
  CHECK(second.reused);
  CHECK(second.reason == "cached");
  CHECK(builds == 1);
  CHECK(weights_of(*second.model) == weights_of(*first.model));

  auto changed = recipes::load_or_build_model(path, "recipe B", false, build);
  CHECK_FALSE(changed.reused);
  CHECK(changed.reason == "recipe differs (cached: recipe A)");
  CHECK(builds == 2);
  CHECK(nn::read_safetensors_metadata(path).at(recipes::kCachedModelRecipeKey) == "recipe B");
  CHECK(weights_of(*nn::load_model(path)) == weights_of(*changed.model));
  CHECK(weights_of(*changed.model) != weights_of(*first.model));

  auto forced = recipes::load_or_build_model(path, "recipe B", true, build);
  CHECK_FALSE(forced.reused);
  CHECK(forced.reason == "forced");
  CHECK(builds == 3);
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

TEST_CASE("load_or_build_model rebuilds a file without a recipe text and refuses bad input",
          "[recipes_common][cached_model]") {
  const std::string path = temp_path("plain.safetensors");
  nn::VisionTransformer plain(test::tiny_vit_config(), 3);
  nn::save_model(path, plain);
  int builds = 0;
  auto build = [&] {
    ++builds;
    return std::make_shared<nn::VisionTransformer>(test::tiny_vit_config(), 4);
  };
  auto got = recipes::load_or_build_model(path, "recipe", false, build);
  CHECK(got.reason == "no recipe in file");
  CHECK(builds == 1);
  CHECK_THROWS_WITH(recipes::load_or_build_model(path, "", false, build), Catch::Contains("recipe text is empty"));
  CHECK_THROWS_WITH(recipes::load_or_build_model(path, "other", false, [] {
                      return std::shared_ptr<nn::VisionTransformer>();
                    }),
                    Catch::Contains("build() returned no model"));
  std::filesystem::remove(path);
}
