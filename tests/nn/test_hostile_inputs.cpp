// Hostile model files (issue 15): config sizes beyond the caps or with zero heads, deeply nested
// JSON in a safetensors header or in the shears.config string (used to overflow the stack when an
// error formatted an excerpt), duplicate keys (used to keep the last silently), and a tiny file whose
// config claims a huge model (used to build it, allocating gigabytes, before checking any tensor).
#include <catch2/catch.hpp>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "nn/checkpoint.h"
#include "nn/flop_count.h"
#include "nn/io/safetensors.h"
#include "nn/io/state_dict.h"
#include "tensor/creation.h"
#include "tensor/storage.h"

namespace fs = std::filesystem;
using namespace shears;
using Catch::Contains;

namespace {

std::string temp_path(const std::string& tag) {
  static int counter = 0;
  return (fs::temp_directory_path() /
          ("shears_hostile_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + tag + ".safetensors"))
      .string();
}

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

void write_raw(const std::string& path, const std::string& header, const std::string& data = "") {
  std::ofstream out(path, std::ios::binary);
  const std::string bytes = le64(header.size()) + header + data;
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

}  // namespace

TEST_CASE("hostile: config sizes are checked before any division, naming the field", "[nn][hostile]") {
  nn::ModelConfig c = nn::vit_tiny_patch4_28(10);
  c.blocks[0].heads = 0;
  REQUIRE_THROWS_WITH(c.validate(), Contains("blocks[0].heads must be >= 1"));
  c = nn::vit_tiny_patch4_28(10);
  c.patch_size = 0;  // image_size % patch_size would divide by zero
  REQUIRE_THROWS_WITH(c.validate(), Contains("patch_size must be >= 1"));
  c = nn::vit_tiny_patch4_28(10);
  c.tubelet = 0;
  REQUIRE_THROWS_WITH(c.validate(), Contains("tubelet must be >= 1"));
  // sizes near 2^62: refused by the caps, no product wraps
  const int64_t huge = int64_t(1) << 62;
  c = nn::vit_tiny_patch4_28(10);
  c.dim = huge;
  REQUIRE_THROWS_WITH(c.validate(), Contains("dim is") && Contains("above the cap"));
  c = nn::vit_tiny_patch4_28(10);
  c.blocks[1].mlp_hidden = huge;
  REQUIRE_THROWS_WITH(c.validate(), Contains("blocks[1].mlp_hidden") && Contains("above the cap"));
  c = nn::vit_tiny_patch4_28(10);
  c.blocks[0].heads = nn::kMaxHeads;
  c.blocks[0].head_dim = nn::kMaxHeadDim;
  REQUIRE_THROWS_WITH(c.validate(), Contains("heads * head_dim"));
  c = nn::vit_tiny_patch4_28(10);
  c.image_size = nn::kMaxImageSize;
  c.patch_size = 1;
  REQUIRE_THROWS_WITH(c.validate(), Contains("tokens") && Contains("above the cap"));
  c = nn::vit_tiny_patch4_28(10);
  c.blocks = nn::uniform_blocks(600000, 3, 64, 768);
  REQUIRE_THROWS_WITH(c.validate(), Contains("depth") && Contains("above the cap"));
  c = nn::vit_tiny_patch4_28(10);
  c.num_classes = huge;
  REQUIRE_THROWS_WITH(c.validate(), Contains("num_classes") && Contains("above the cap"));
  // the presets stay valid
  REQUIRE_NOTHROW(nn::deit_base_patch16_224().validate());
  REQUIRE_NOTHROW(nn::videomae_base_patch16_224().validate());
}

TEST_CASE("hostile: deeply nested config JSON is refused, not formatted", "[nn][hostile]") {
  REQUIRE_THROWS_WITH(nn::ModelConfig::from_json(nested(100000)), Contains("nested deeper than"));
  // a nested value where an integer belongs: the error excerpt used to dump() it recursively
  std::string j = nn::vit_tiny_patch4_28(10).to_json();
  const std::string key = "\"dim\":";
  const size_t at = j.find(key);
  REQUIRE(at != std::string::npos);
  const size_t end = j.find(',', at);
  std::string bad = j.substr(0, at + key.size()) + nested(100000) + j.substr(end);
  REQUIRE_THROWS_WITH(nn::ModelConfig::from_json(bad), Contains("nested deeper than"));
  // moderately nested (within the limit) still gets a bounded excerpt naming the key
  bad = j.substr(0, at + key.size()) + nested(40) + j.substr(end);
  REQUIRE_THROWS_WITH(nn::ModelConfig::from_json(bad), Contains("key 'dim' must be an integer"));
}

TEST_CASE("hostile: duplicate keys in config JSON are refused", "[nn][hostile]") {
  std::string j = nn::vit_tiny_patch4_28(10).to_json();
  j.insert(1, "\"dim\":7,");
  REQUIRE_THROWS_WITH(nn::ModelConfig::from_json(j), Contains("duplicate key 'dim'"));
}

TEST_CASE("hostile: a safetensors header nested 100,000 deep is refused naming the file", "[nn][hostile]") {
  const std::string path = temp_path("nested");
  write_raw(path, nested(100000));
  REQUIRE_THROWS_WITH(nn::read_safetensors(path), Contains(path) && Contains("nested deeper than"));
  // inside a tensor entry, where an error would quote an excerpt of it
  write_raw(path, "{\"w\":{\"dtype\":\"F32\",\"shape\":" + nested(100000) + ",\"data_offsets\":[0,0]}}");
  REQUIRE_THROWS_WITH(nn::read_safetensors(path), Contains(path) && Contains("nested deeper than"));
  // inside __metadata__
  write_raw(path, "{\"__metadata__\":{\"x\":" + nested(100000) + "}}");
  REQUIRE_THROWS_WITH(nn::read_safetensors_metadata(path), Contains(path) && Contains("nested deeper than"));
  fs::remove(path);
}

TEST_CASE("hostile: a shears.config string nested 100,000 deep is refused naming the file", "[nn][hostile]") {
  const std::string path = temp_path("nested_config");
  nn::write_safetensors(path, {{"w", zeros({2})}}, {{"shears.config", nested(100000)}});
  REQUIRE_THROWS_WITH(nn::read_model_config(path), Contains(path) && Contains("nested deeper than"));
  REQUIRE_THROWS_WITH(nn::load_model(path), Contains(path) && Contains("nested deeper than"));
  fs::remove(path);
}

TEST_CASE("hostile: duplicate tensor keys in a safetensors header are refused naming the key", "[nn][hostile]") {
  const std::string path = temp_path("dup");
  const std::string e0 = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
  const std::string e1 = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}";
  write_raw(path, "{\"weight\":" + e0 + ",\"weight\":" + e1 + "}", std::string(8, '\0'));
  REQUIRE_THROWS_WITH(nn::read_safetensors(path), Contains(path) && Contains("duplicate key 'weight'"));
  write_raw(path, "{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}");
  REQUIRE_THROWS_WITH(nn::read_safetensors_metadata(path), Contains("duplicate key 'a'"));
  // distinct keys still read
  write_raw(path, "{\"weight\":" + e0 + ",\"bias\":" + e1 + "}", std::string(8, '\0'));
  REQUIRE(nn::read_safetensors(path).tensors.size() == 2);
  fs::remove(path);
}

TEST_CASE("hostile: safetensors shapes whose strides overflow are refused naming the file", "[nn][hostile]") {
  const std::string path = temp_path("strides");
  write_raw(path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[0,4611686018427387904,4611686018427387904],"
                  "\"data_offsets\":[0,0]}}");
  REQUIRE_THROWS_WITH(nn::read_safetensors(path), Contains(path) && Contains("overflows int64"));
  fs::remove(path);
}

TEST_CASE("parameter_shapes matches the built model's state dict", "[nn][checkpoint]") {
  std::vector<nn::ModelConfig> configs = {nn::vit_tiny_patch4_28(10), nn::videomae_small_patch4_32(5)};
  nn::ModelConfig pruned = nn::vit_tiny_patch4_32(7);
  pruned.blocks = {{3, 64, 768}, {2, 48, 300}, {1, 64, 96}};
  configs.push_back(pruned);
  nn::ModelConfig bare = nn::videomae_small_patch4_32(0);  // no head, no q/v bias
  bare.qkv_bias = false;
  bare.blocks.resize(2);
  configs.push_back(bare);
  nn::ModelConfig vit_nobias = nn::vit_tiny_patch4_28(0);
  vit_nobias.qkv_bias = false;
  configs.push_back(vit_nobias);
  for (const nn::ModelConfig& cfg : configs) {
    nn::VisionTransformer model(cfg, 0);
    std::vector<std::pair<std::string, Shape>> built;
    for (const auto& [name, t] : nn::state_dict(model)) built.emplace_back(name, t.shape());
    auto expected = nn::parameter_shapes(cfg);
    std::sort(built.begin(), built.end());
    std::sort(expected.begin(), expected.end());
    CHECK(expected == built);
  }
}

TEST_CASE("hostile: a tiny file with a huge config fails before the model is built", "[nn][hostile]") {
  const std::string path = temp_path("huge_config");
  nn::ModelConfig c = nn::vit_tiny_patch4_28(10);
  c.dim = 512;
  c.blocks = nn::uniform_blocks(8, 8, 64, 2048);  // ~25 M weights (~100 MB) if built
  nn::write_safetensors(path, {{"w", zeros({2})}}, {{"shears.config", c.to_json()}});
  const size_t before = cpu_bytes_in_use();
  reset_cpu_bytes_peak();
  REQUIRE_THROWS_WITH(nn::load_model(path), Contains(path) && Contains("does not match the file"));
  CHECK(cpu_bytes_peak() - before < (size_t(4) << 20));  // no model was built

  // width 40,000: ~ hundreds of GB if built
  c.dim = 40000;
  c.blocks = nn::uniform_blocks(12, 40, 1000, 160000);
  nn::write_safetensors(path, {{"w", zeros({2})}}, {{"shears.config", c.to_json()}});
  REQUIRE_THROWS_WITH(nn::load_model(path), Contains(path) && Contains("does not match the file"));
  // 600,000 blocks: refused by the depth cap, naming the file
  std::string j = nn::vit_tiny_patch4_28(10).to_json();
  const std::string block = "{\"heads\":3,\"head_dim\":64,\"mlp_hidden\":768}";
  std::string blocks = "[";
  for (int i = 0; i < 600000; ++i) blocks += (i ? "," : "") + block;
  blocks += "]";
  const size_t b0 = j.find("\"blocks\":") + 9;
  j = j.substr(0, b0) + blocks + j.substr(j.find(']', b0) + 1);
  nn::write_safetensors(path, {{"w", zeros({2})}}, {{"shears.config", j}});
  REQUIRE_THROWS_WITH(nn::load_model(path), Contains(path) && Contains("above the cap"));
  // a videomae config whose position table (not stored in the file) would be huge
  nn::ModelConfig v = nn::videomae_small_patch4_32(10);
  v.image_size = 4096;
  v.frames = 2048;  // 1024 * 32768 tokens: over the token cap
  nn::write_safetensors(path, {{"w", zeros({2})}}, {{"shears.config", v.to_json()}});
  REQUIRE_THROWS_WITH(nn::load_model(path), Contains(path) && Contains("tokens"));
  fs::remove(path);
}

TEST_CASE("hostile: a config that disagrees with the tensor shapes is named before building", "[nn][hostile]") {
  const std::string path = temp_path("mismatch");
  nn::ModelConfig c = nn::vit_tiny_patch4_28(10);
  c.blocks.resize(2);
  nn::VisionTransformer model(c, 1);
  nn::save_model(path, model);
  REQUIRE_NOTHROW(nn::load_model(path));
  // same weights, config claiming another MLP width in block 1 (within the size budget)
  auto file = nn::read_safetensors(path);
  nn::ModelConfig other = c;
  other.blocks[1].mlp_hidden = 700;
  file.metadata["shears.config"] = other.to_json();
  nn::write_safetensors(path, file.tensors, file.metadata);
  REQUIRE_THROWS_WITH(nn::load_model(path),
                      Contains(path) && Contains("blocks.1.mlp.fc1.weight") && Contains("does not match the file"));
  fs::remove(path);
}

TEST_CASE("hostile: FLOP and parameter counts cannot overflow", "[nn][hostile][flops]") {
  // the largest config the caps allow: every count fits and matches a double computation
  nn::ModelConfig c = nn::vit_tiny_patch4_28(nn::kMaxClasses);
  c.dim = nn::kMaxModelDim;
  c.blocks = nn::uniform_blocks(nn::kMaxDepth, 16, nn::kMaxModelDim / 16, nn::kMaxMlpHidden);
  REQUIRE_NOTHROW(c.validate());
  const double d = double(c.dim), aw = double(nn::kMaxModelDim), m = double(nn::kMaxMlpHidden);
  const double block = 2 * d + 3 * aw * d + 3 * aw + d * aw + d + 2 * d + m * d + m + d * m + d;
  const double expected = d * double(c.patch_pixels()) + d + d + double(c.num_tokens()) * d + double(nn::kMaxDepth) * block +
                          2 * d + double(c.num_classes) * d + double(c.num_classes);
  CHECK(double(nn::count_parameters(c)) == expected);
  const nn::FlopReport r = nn::count_flops(c);
  CHECK(std::isfinite(r.total));
  CHECK(r.total > 0);
  // a block beyond the caps is refused instead of wrapping
  nn::BlockConfig huge{int64_t(1) << 40, int64_t(1) << 20, int64_t(1) << 40};
  REQUIRE_THROWS_WITH(nn::count_block_parameters(c, huge), Contains("out of range"));
  c.blocks[0].mlp_hidden = int64_t(1) << 62;
  REQUIRE_THROWS_WITH(nn::count_flops(c), Contains("above the cap"));
  REQUIRE_THROWS_WITH(nn::count_parameters(c), Contains("above the cap"));
}

TEST_CASE("hostile: nested prune logs and extensions in the metadata are refused", "[nn][hostile]") {
  const std::string path = temp_path("nested_meta");
  const std::string cfg = nn::vit_tiny_patch4_28(10).to_json();
  // a step whose value is nested: an error (or a params dump) used to recurse 100,000 deep
  nn::write_safetensors(path, {{"w", zeros({2})}},
                        {{"shears.config", cfg}, {"shears.prune_log", "[" + nested(100000) + "]"}});
  REQUIRE_THROWS_WITH(nn::load_model(path), Contains(path) && Contains("nested deeper than"));
  nn::write_safetensors(path, {{"w", zeros({2})}},
                        {{"shears.config", cfg}, {"shears.extensions", "[" + nested(100000) + "]"}});
  REQUIRE_THROWS_WITH(nn::load_model(path), Contains(path) && Contains("nested deeper than"));
  fs::remove(path);
}
