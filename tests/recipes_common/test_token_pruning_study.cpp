// recipes/common/token_pruning_study on a generated Fashion-MNIST folder (raw IDX files, 28x28): the
// patch-4 base trained once, cached under --out and reused (through the root_first hook), the limits
// and timing batch applied, a --base-checkpoint loaded as is, and a checkpoint of another input size
// refused naming the program and the flag.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/token_pruning_study.h"
#include "nn/checkpoint.h"
#include "tensor/error.h"
#include "tiny_vit_task.h"

namespace fs = std::filesystem;
using namespace shears;
using Catch::Contains;

namespace {

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(v >> shift));
}

// Raw IDX files of one split: n 28x28 images (a pattern that depends on the label) and labels i % 10.
void write_split(const fs::path& dir, const std::string& prefix, uint32_t n) {
  std::vector<uint8_t> images, labels;
  put_u32(images, 0x803), put_u32(images, n), put_u32(images, 28), put_u32(images, 28);
  put_u32(labels, 0x801), put_u32(labels, n);
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t p = 0; p < 28 * 28; ++p) images.push_back(uint8_t((p / 28) % 10 == i % 10 ? 200 : (i * 7 + p) % 40));
    labels.push_back(uint8_t(i % 10));
  }
  std::ofstream(dir / (prefix + "-images-idx3-ubyte"), std::ios::binary)
      .write(reinterpret_cast<const char*>(images.data()), std::streamsize(images.size()));
  std::ofstream(dir / (prefix + "-labels-idx1-ubyte"), std::ios::binary)
      .write(reinterpret_cast<const char*>(labels.data()), std::streamsize(labels.size()));
}

}  // namespace

TEST_CASE("token pruning study: patch-4 base trained, cached and reused, with limits and a timing batch",
          "[recipes_common][token_pruning_study]") {
  const fs::path root = fs::temp_directory_path() / ("shears_token_pruning_study_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "fmnist");
  write_split(root / "fmnist", "train", 48);
  write_split(root / "fmnist", "t10k", 20);

  recipes::TokenPruningSettings s = recipes::token_pruning_preset("smoke", "prog").settings;
  s.data_dir = (root / "fmnist").string();
  s.out = (root / "out").string();
  fs::create_directories(s.out);
  s.train_limit = 40, s.eval_limit = 12, s.throughput_batch = 5;
  s.base.dim = 8, s.base.depth = 1, s.base.heads = 2, s.base.mlp = 16;
  s.base.train_images = 32, s.base.batch_size = 16, s.base.epochs = 1;

  int root_first_calls = 0;
  const recipes::RootFirst count_calls = [&](const std::function<void()>& fn) {
    ++root_first_calls;
    fn();
  };
  const recipes::TokenPruningStudy a = recipes::prepare_token_pruning_study(s, "prog", count_calls);
  REQUIRE(root_first_calls == 1);
  REQUIRE(a.base != nullptr);
  REQUIRE(a.base->config().patch_size == 4);
  REQUIRE(a.base->config().dim == 8);
  REQUIRE(a.base_train_seconds > 0);
  REQUIRE_THAT(a.base_desc, Contains("patch-4 base trained here (") && Contains("32 training images"));
  const std::string cached = (root / "out" / "base_model.safetensors").string();
  REQUIRE(fs::is_regular_file(cached));
  REQUIRE(a.dataset_name == "Fashion-MNIST");
  REQUIRE(a.train->size() == 40);
  REQUIRE(a.test->size() == 12);
  REQUIRE(a.timing_images.shape() == Shape{5, 1, 28, 28});

  // the same recipe again: loaded from the cache, not trained
  const recipes::TokenPruningStudy b = recipes::prepare_token_pruning_study(s, "prog");
  REQUIRE(b.base_train_seconds == 0);
  REQUIRE_THAT(b.base_desc, Contains("patch-4 base cached in " + cached));
  REQUIRE(b.base->named_parameters().size() == a.base->named_parameters().size());
  for (size_t i = 0; i < a.base->named_parameters().size(); ++i)
    REQUIRE(b.base->named_parameters()[i].second.to_vector<float>() ==
            a.base->named_parameters()[i].second.to_vector<float>());

  // --base-checkpoint: loaded as is, described by its path
  s.base_checkpoint = cached;
  const recipes::TokenPruningStudy c = recipes::prepare_token_pruning_study(s, "prog");
  REQUIRE(c.base_desc == cached);
  REQUIRE(c.base_train_seconds == 0);

  // a model for 8x8 inputs is not a Fashion-MNIST base
  const std::string small = (root / "small.safetensors").string();
  nn::save_model(small, nn::VisionTransformer(test::tiny_vit_config(10), 1));
  s.base_checkpoint = small;
  REQUIRE_THROWS_WITH(recipes::prepare_token_pruning_study(s, "prog"),
                      Contains("[prog] --base-checkpoint '" + small + "' holds a vit model for 8x8x1 inputs"));
  fs::remove_all(root);
}
