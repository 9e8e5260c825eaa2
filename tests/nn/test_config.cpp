// Tests for nn/config: presets, validate() naming the bad field, JSON round trips (every preset
// and a structurally pruned config) and strict parsing that names the malformed/missing/mistyped key.
#include <catch2/catch.hpp>

#include <string>

#include "nn/config.h"
#include "tensor/error.h"

using namespace shears;
using namespace shears::nn;

namespace {

const char* kPresets[] = {"deit_tiny_patch16_224",      "deit_small_patch16_224",    "deit_base_patch16_224",
                          "vit_tiny_patch4_28",         "vit_tiny_patch4_32",        "videomae_small_patch16_224",
                          "videomae_base_patch16_224",  "videomae_small_patch4_32"};

void require_same(const ModelConfig& a, const ModelConfig& b) {
  REQUIRE(a.arch == b.arch);
  REQUIRE(a.image_size == b.image_size);
  REQUIRE(a.in_chans == b.in_chans);
  REQUIRE(a.patch_size == b.patch_size);
  REQUIRE(a.frames == b.frames);
  REQUIRE(a.tubelet == b.tubelet);
  REQUIRE(a.dim == b.dim);
  REQUIRE(a.num_classes == b.num_classes);
  REQUIRE(a.qkv_bias == b.qkv_bias);
  REQUIRE(a.ln_eps == b.ln_eps);  // exact: nlohmann writes shortest round-trip doubles
  REQUIRE(a.drop_path == b.drop_path);
  REQUIRE(a.mean == b.mean);
  REQUIRE(a.std == b.std);
  REQUIRE(a.blocks.size() == b.blocks.size());
  for (size_t i = 0; i < a.blocks.size(); ++i) {
    REQUIRE(a.blocks[i].heads == b.blocks[i].heads);
    REQUIRE(a.blocks[i].head_dim == b.blocks[i].head_dim);
    REQUIRE(a.blocks[i].mlp_hidden == b.blocks[i].mlp_hidden);
  }
}

// Replaces the first occurrence of `from` in `s` (which must be present).
std::string replaced(std::string s, const std::string& from, const std::string& to) {
  const auto pos = s.find(from);
  REQUIRE(pos != std::string::npos);
  return s.replace(pos, from.size(), to);
}

ModelConfig pruned_config() {
  ModelConfig c = deit_small_patch16_224(100);
  c.blocks.erase(c.blocks.begin() + 5);  // Gardener-style block removal
  c.blocks.erase(c.blocks.begin() + 9);
  c.blocks[0].mlp_hidden = 917;          // AMP-style per-block MLP widths
  c.blocks[3].mlp_hidden = 1;
  c.blocks[2].heads = 4;                 // head pruning
  c.blocks[7].head_dim = 48;             // head-dim pruning
  c.drop_path = 0.1;
  return c;
}

}  // namespace

TEST_CASE("config: presets have the published shapes", "[nn][config]") {
  const ModelConfig s = deit_small_patch16_224();
  CHECK(s.arch == "vit");
  CHECK(s.dim == 384);
  CHECK(s.depth() == 12);
  CHECK(s.blocks[0].heads == 6);
  CHECK(s.blocks[0].head_dim == 64);
  CHECK(s.blocks[11].mlp_hidden == 1536);
  CHECK(s.num_tokens() == 197);
  CHECK(s.num_classes == 1000);
  CHECK(s.ln_eps == 1e-6);
  CHECK(s.mean == std::vector<double>{0.485, 0.456, 0.406});
  CHECK(deit_tiny_patch16_224().dim == 192);
  CHECK(deit_tiny_patch16_224().blocks[0].heads == 3);
  CHECK(deit_base_patch16_224().blocks[0].heads == 12);
  CHECK(deit_base_patch16_224().blocks[0].mlp_hidden == 3072);

  const ModelConfig a = vit_tiny_patch4_28();
  CHECK(a.in_chans == 1);
  CHECK(a.num_tokens() == 50);
  CHECK(a.mean == std::vector<double>{0.2860});
  CHECK(a.std == std::vector<double>{0.3530});
  CHECK(vit_tiny_patch4_32().num_tokens() == 65);
  CHECK(vit_tiny_patch4_32().std == std::vector<double>{0.2470, 0.2435, 0.2616});

  const ModelConfig v = videomae_base_patch16_224();
  CHECK(v.arch == "videomae");
  CHECK(!v.has_cls_token());
  CHECK(v.num_tokens() == 1568);
  CHECK(v.patch_pixels() == 1536);
  CHECK(v.num_classes == 400);
  CHECK(videomae_small_patch16_224().dim == 384);
  CHECK(videomae_small_patch4_32().num_tokens() == 8 * 8 * 8);

  CHECK(preset("deit_small_patch16_224", 10).num_classes == 10);
  for (const char* name : kPresets) REQUIRE_NOTHROW(preset(name, 7).validate());
  CHECK_THROWS_WITH(preset("deit_smal", 10), Catch::Contains("deit_smal") &&
                                                 Catch::Contains("deit_small_patch16_224") &&
                                                 Catch::Contains("videomae_small_patch4_32"));
}

TEST_CASE("config: validate names the bad field", "[nn][config]") {
  auto bad = [](auto edit) {
    ModelConfig c = deit_small_patch16_224();
    edit(c);
    return c;
  };
  CHECK_THROWS_WITH(bad([](ModelConfig& c) { c.image_size = 225; }).validate(),
                    Catch::Contains("[model_config]") && Catch::Contains("image_size") &&
                        Catch::Contains("patch_size"));
  CHECK_THROWS_WITH(bad([](ModelConfig& c) { c.blocks.clear(); }).validate(), Catch::Contains("blocks"));
  CHECK_THROWS_WITH(bad([](ModelConfig& c) { c.blocks[4].heads = 0; }).validate(), Catch::Contains("blocks[4].heads"));
  CHECK_THROWS_WITH(bad([](ModelConfig& c) { c.blocks[1].head_dim = 0; }).validate(),
                    Catch::Contains("blocks[1].head_dim"));
  CHECK_THROWS_WITH(bad([](ModelConfig& c) { c.blocks[2].mlp_hidden = -3; }).validate(),
                    Catch::Contains("blocks[2].mlp_hidden"));
  CHECK_THROWS_WITH(bad([](ModelConfig& c) { c.mean = {0.5}; }).validate(), Catch::Contains("mean"));
  CHECK_THROWS_WITH(bad([](ModelConfig& c) { c.std = {0.2, 0.0, 0.2}; }).validate(), Catch::Contains("std[1]"));
  CHECK_THROWS_WITH(bad([](ModelConfig& c) { c.arch = "swin"; }).validate(), Catch::Contains("arch"));
  CHECK_THROWS_WITH(bad([](ModelConfig& c) { c.frames = 2; }).validate(), Catch::Contains("frames"));
  CHECK_THROWS_WITH(bad([](ModelConfig& c) { c.num_classes = -1; }).validate(), Catch::Contains("num_classes"));
  CHECK_THROWS_WITH(bad([](ModelConfig& c) { c.ln_eps = 0; }).validate(), Catch::Contains("ln_eps"));
  CHECK_THROWS_WITH(bad([](ModelConfig& c) { c.dim = 0; }).validate(), Catch::Contains("dim"));
  ModelConfig v = videomae_base_patch16_224();
  v.frames = 15;
  CHECK_THROWS_WITH(v.validate(), Catch::Contains("frames") && Catch::Contains("tubelet"));
  CHECK_THROWS_AS(bad([](ModelConfig& c) { c.patch_size = 0; }).validate(), shears::Error);
}

TEST_CASE("config: JSON round trip of every preset and of a pruned config", "[nn][config]") {
  for (const char* name : kPresets) {
    INFO(name);
    const ModelConfig c = preset(name, 13);
    require_same(ModelConfig::from_json(c.to_json()), c);
  }
  const ModelConfig p = pruned_config();
  REQUIRE_NOTHROW(p.validate());
  const std::string js = p.to_json();
  CHECK(js.find("\"arch\":\"vit\"") != std::string::npos);
  CHECK(js.find("{\"heads\":6,\"head_dim\":64,\"mlp_hidden\":917}") != std::string::npos);
  const ModelConfig q = ModelConfig::from_json(js);
  require_same(q, p);
  CHECK(q.depth() == 10);
  CHECK(q.to_json() == js);  // stable
  // Whitespace and key order do not matter.
  const ModelConfig r = ModelConfig::from_json(
      R"({ "blocks": [ {"mlp_hidden": 768, "head_dim": 64, "heads": 3} ], "std": [0.3530], "mean": [0.2860],
           "ln_eps": 1e-6, "qkv_bias": false, "num_classes": 0, "dim": 192, "tubelet": 1, "frames": 1,
           "patch_size": 4, "in_chans": 1, "image_size": 28, "arch": "vit" })");
  CHECK(r.depth() == 1);
  CHECK(!r.qkv_bias);
  CHECK(r.num_classes == 0);
  CHECK(r.drop_path == 0.0);  // optional, defaults to 0
}

TEST_CASE("config: from_json rejects bad documents naming the key", "[nn][config]") {
  const std::string good = deit_small_patch16_224().to_json();
  using Catch::Contains;
  // malformed
  CHECK_THROWS_WITH(ModelConfig::from_json("{\"arch\": \"vit\","), Contains("[model_config]") && Contains("malformed"));
  CHECK_THROWS_WITH(ModelConfig::from_json(""), Contains("malformed"));
  CHECK_THROWS_WITH(ModelConfig::from_json(good.substr(0, good.size() / 2)), Contains("malformed"));
  CHECK_THROWS_WITH(ModelConfig::from_json("[1, 2]"), Contains("object"));
  // missing keys
  CHECK_THROWS_WITH(ModelConfig::from_json(replaced(good, "\"blocks\"", "\"blocks_\"")),
                    Contains("key 'blocks' missing"));
  CHECK_THROWS_WITH(ModelConfig::from_json(replaced(good, "\"dim\"", "\"width\"")),
                    Contains("'dim' missing") && Contains("unknown keys present: 'width'"));
  CHECK_THROWS_WITH(ModelConfig::from_json(replaced(good, "\"mlp_hidden\"", "\"mlp\"")),
                    Contains("'blocks[0].mlp_hidden' missing"));
  // unknown keys (typos) are errors too
  CHECK_THROWS_WITH(ModelConfig::from_json(replaced(good, "{", "{\"num_clases\":3,")), Contains("num_clases"));
  CHECK_THROWS_WITH(ModelConfig::from_json(replaced(good, "\"heads\":6", "\"heads\":6,\"bias\":1")),
                    Contains("unknown key(s) 'blocks[0].bias'"));
  // wrong types
  CHECK_THROWS_WITH(ModelConfig::from_json(replaced(good, "\"image_size\":224", "\"image_size\":\"224\"")),
                    Contains("'image_size'") && Contains("integer"));
  CHECK_THROWS_WITH(ModelConfig::from_json(replaced(good, "\"image_size\":224", "\"image_size\":224.5")),
                    Contains("'image_size'") && Contains("integer"));
  CHECK_THROWS_WITH(ModelConfig::from_json(replaced(good, "\"qkv_bias\":true", "\"qkv_bias\":1")),
                    Contains("'qkv_bias'") && Contains("boolean"));
  CHECK_THROWS_WITH(ModelConfig::from_json(replaced(good, "\"arch\":\"vit\"", "\"arch\":3")), Contains("'arch'"));
  CHECK_THROWS_WITH(ModelConfig::from_json(replaced(good, "\"ln_eps\":1e-06", "\"ln_eps\":\"small\"")),
                    Contains("'ln_eps'"));
  CHECK_THROWS_WITH(ModelConfig::from_json(replaced(good, "\"mean\":[0.485", "\"mean\":[\"x\"")),
                    Contains("'mean[0]'"));
  CHECK_THROWS_WITH(ModelConfig::from_json(replaced(good, "\"std\":[0.229,0.224,0.225]", "\"std\":{\"a\":1}")),
                    Contains("'std'"));
  CHECK_THROWS_WITH(ModelConfig::from_json(replaced(good, "\"blocks\":[", "\"blocks\":[7,")),
                    Contains("'blocks[0]'") && Contains("object"));
  CHECK_THROWS_WITH(ModelConfig::from_json(replaced(good, "\"heads\":6", "\"heads\":6.0")),
                    Contains("'blocks[0].heads'"));
  CHECK_THROWS_WITH(ModelConfig::from_json(replaced(good, "\"dim\":384", "\"dim\":18446744073709551615")),
                    Contains("'dim'") && Contains("range"));
  // invalid values pass parsing and fail validate(), naming the field
  CHECK_THROWS_WITH(ModelConfig::from_json(replaced(good, "\"image_size\":224", "\"image_size\":100")),
                    Contains("image_size"));
  const std::string no_blocks = good.substr(0, good.find("\"blocks\":[")) + "\"blocks\":[]}";
  CHECK_THROWS_WITH(ModelConfig::from_json(no_blocks), Contains("blocks") && Contains("empty"));
  CHECK_THROWS_WITH(ModelConfig::from_json(replaced(good, "\"heads\":6", "\"heads\":0")),
                    Contains("blocks[0].heads"));
  CHECK_THROWS_WITH(ModelConfig::from_json(replaced(good, "\"mean\":[0.485,", "\"mean\":[")), Contains("mean"));
  CHECK_THROWS_WITH(ModelConfig::from_json(replaced(good, "\"arch\":\"vit\"", "\"arch\":\"VIT\"")),
                    Contains("arch"));
}
