// load_state_dict tests on a small hand-built Module tree (every missing/unexpected/mis-shaped
// key reported at once, strict copies nothing, prefix unwrapping, dtype conversion), and the
// Hugging Face VideoMAE name map (round trip, qkv rows q|k|v, loud failures, file loading).
#include <catch2/catch.hpp>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "nn/io/hf_videomae.h"
#include "nn/io/safetensors.h"
#include "nn/io/state_dict.h"
#include "tensor/creation.h"
#include "tensor/kernels.h"

using namespace shears;
using Catch::Contains;
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

namespace {

// A Module whose parameters and children are added from the outside.
struct TestModule : nn::Module {
  std::deque<Tensor> slots;  // stable addresses
  Tensor& param(const std::string& name, const Shape& shape, double value = 0.0) {
    slots.push_back(full(shape, value));
    register_parameter(name, &slots.back());
    return slots.back();
  }
  std::shared_ptr<TestModule> child(const std::string& name) {
    auto c = std::make_shared<TestModule>();
    register_module(name, c);
    return c;
  }
};

// scale (3), fc.weight (4, 4), fc.bias (4)
std::unique_ptr<TestModule> tiny_model() {
  auto m = std::make_unique<TestModule>();
  m->param("scale", {3}, 1.0);
  auto fc = m->child("fc");
  fc->param("weight", {4, 4}, 0.5);
  fc->param("bias", {4}, 0.25);
  return m;
}

Tensor iota(const Shape& shape, double start = 0.0) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return kernels::reshape(arange(start, start + double(n), 1.0, DType::F32), shape);
}

std::map<std::string, std::vector<float>> values(const nn::Module& m) {
  std::map<std::string, std::vector<float>> out;
  for (auto& [n, t] : m.named_parameters()) out[n] = t.to_vector<float>();
  return out;
}

// A 2-layer HF VideoMAEForVideoClassification state dict: C = 4, MLP 8, 3 classes.
NamedTensors hf_tiny() {
  NamedTensors t;
  double next = 0;
  auto add = [&](const std::string& n, const Shape& s) {
    t.emplace_back(n, iota(s, next));
    next += 1000;
  };
  add("videomae.embeddings.patch_embeddings.projection.weight", {4, 3, 2, 2, 2});
  add("videomae.embeddings.patch_embeddings.projection.bias", {4});
  for (int i = 0; i < 2; ++i) {
    const std::string l = "videomae.encoder.layer." + std::to_string(i) + ".";
    for (const char* ln : {"layernorm_before.", "layernorm_after."})
      for (const char* wb : {"weight", "bias"}) add(l + ln + wb, {4});
    for (const char* q : {"query", "key", "value"}) add(l + "attention.attention." + q + ".weight", {4, 4});
    add(l + "attention.attention.q_bias", {4});
    add(l + "attention.attention.v_bias", {4});
    add(l + "attention.output.dense.weight", {4, 4});
    add(l + "attention.output.dense.bias", {4});
    add(l + "intermediate.dense.weight", {8, 4});
    add(l + "intermediate.dense.bias", {8});
    add(l + "output.dense.weight", {4, 8});
    add(l + "output.dense.bias", {4});
  }
  add("fc_norm.weight", {4});
  add("fc_norm.bias", {4});
  add("classifier.weight", {3, 4});
  add("classifier.bias", {3});
  return t;
}

const Tensor& get(const NamedTensors& t, const std::string& name) {
  for (auto& p : t)
    if (p.first == name) return p.second;
  FAIL("no tensor named " << name);
  throw 0;
}

std::set<std::string> names_of(const NamedTensors& t) {
  std::set<std::string> s;
  for (auto& p : t) s.insert(p.first);
  return s;
}

}  // namespace

TEST_CASE("state_dict lists the model's dotted parameter names", "[nn][io]") {
  auto m = tiny_model();
  auto sd = nn::state_dict(*m);
  REQUIRE(sd.size() == 3);
  CHECK(sd[0].first == "scale");
  CHECK(sd[1].first == "fc.weight");
  CHECK(sd[2].first == "fc.bias");
  CHECK(sd[1].second.is_same(*m->find_parameter("fc.weight")));
}

TEST_CASE("load_state_dict copies every tensor, converting the dtype", "[nn][io]") {
  auto m = tiny_model();
  Tensor w64 = kernels::to_dtype(iota({4, 4}), DType::F64);
  nn::LoadReport r = nn::load_state_dict(*m, {{"fc.weight", w64}, {"fc.bias", iota({4}, 10)}, {"scale", iota({3}, 20)}});
  CHECK(r.ok());
  CHECK(r.loaded == 3);
  CHECK(r.str() == "all 3 keys matched");
  CHECK(m->find_parameter("fc.weight")->dtype() == DType::F32);
  CHECK(m->find_parameter("fc.weight")->to_vector<float>() == iota({4, 4}).to_vector<float>());
  CHECK(m->find_parameter("scale")->to_vector<float>() == std::vector<float>{20, 21, 22});
  CHECK(m->find_parameter("fc.bias")->requires_grad());
}

TEST_CASE("load_state_dict reports every missing, unexpected and mis-shaped key at once", "[nn][io]") {
  auto m = tiny_model();
  const auto before = values(*m);
  NamedTensors file{{"scale", iota({3}, 5)},            // good
                    {"fc.weight", iota({3, 4})},        // mis-shaped
                    {"fc.extra", iota({2})},            // unexpected
                    {"head.weight", iota({2, 2})}};     // unexpected; fc.bias missing

  SECTION("strict throws one error listing all of them and copies nothing") {
    REQUIRE_THROWS_WITH(nn::load_state_dict(*m, file),
                        Contains("[load_state_dict]") && Contains("1 missing, 2 unexpected, 1 mis-shaped") &&
                            Contains("fc.bias") && Contains("fc.extra") && Contains("head.weight") &&
                            Contains("fc.weight: file (3, 4) vs model (4, 4)") && Contains("nothing was loaded"));
    CHECK(values(*m) == before);
  }
  SECTION("non-strict copies the good keys and returns the report") {
    nn::LoadReport r = nn::load_state_dict(*m, file, /*strict=*/false);
    CHECK_FALSE(r.ok());
    CHECK(r.missing == std::vector<std::string>{"fc.bias"});
    CHECK(r.unexpected == std::vector<std::string>{"fc.extra", "head.weight"});
    CHECK(r.mismatched == std::vector<std::string>{"fc.weight: file (3, 4) vs model (4, 4)"});
    CHECK(r.loaded == 1);
    CHECK(m->find_parameter("scale")->to_vector<float>() == std::vector<float>{5, 6, 7});
    CHECK(m->find_parameter("fc.weight")->to_vector<float>() == before.at("fc.weight"));
    CHECK_THAT(r.str(), Contains("missing from the file (1):\n    fc.bias"));
  }
  SECTION("a key given twice is reported") {
    NamedTensors dup{{"scale", iota({3})}, {"scale", iota({3})}, {"fc.weight", iota({4, 4})}, {"fc.bias", iota({4})}};
    REQUIRE_THROWS_WITH(nn::load_state_dict(*m, dup), Contains("scale: appears more than once"));
  }
}

TEST_CASE("load_state_dict unwraps model./module./state_dict. prefixes", "[nn][io]") {
  auto m = tiny_model();
  SECTION("one prefix") {
    nn::LoadReport r = nn::load_state_dict(
        *m, {{"module.scale", iota({3})}, {"module.fc.weight", iota({4, 4})}, {"module.fc.bias", iota({4})}});
    CHECK(r.ok());
    CHECK(r.stripped_prefixes == std::vector<std::string>{"module."});
    CHECK_THAT(r.str(), Contains("stripped the prefix \"module.\""));
  }
  SECTION("nested prefixes") {
    nn::LoadReport r = nn::load_state_dict(*m, {{"state_dict.model.scale", iota({3})},
                                                {"state_dict.model.fc.weight", iota({4, 4})},
                                                {"state_dict.model.fc.bias", iota({4}, 9)}});
    CHECK(r.ok());
    CHECK(r.stripped_prefixes == std::vector<std::string>{"state_dict.", "model."});
    CHECK(m->find_parameter("fc.bias")->to_vector<float>() == std::vector<float>{9, 10, 11, 12});
  }
  SECTION("no stripping when some keys already match or not all share the prefix") {
    nn::LoadReport r = nn::load_state_dict(*m, {{"scale", iota({3})}, {"model.fc.weight", iota({4, 4})}}, false);
    CHECK(r.stripped_prefixes.empty());
    CHECK(r.unexpected == std::vector<std::string>{"model.fc.weight"});
    nn::LoadReport r2 = nn::load_state_dict(*m, {{"module.scale", iota({3})}, {"other.fc.bias", iota({4})}}, false);
    CHECK(r2.stripped_prefixes.empty());
    CHECK(r2.unexpected.size() == 2);
  }
}

TEST_CASE("HF VideoMAE names map to shears names and back", "[nn][io]") {
  NamedTensors hf = hf_tiny();
  REQUIRE(nn::looks_like_hf_videomae({"videomae.encoder.layer.0.output.dense.weight"}));
  REQUIRE(nn::looks_like_hf_videomae({"encoder.layer.3.layernorm_before.bias"}));
  REQUIRE_FALSE(nn::looks_like_hf_videomae({"blocks.0.attn.qkv.weight", "patch_embed.proj.weight", "head.bias"}));

  NamedTensors ours = nn::hf_videomae_to_shears(hf);
  std::set<std::string> want{"patch_embed.proj.weight", "patch_embed.proj.bias", "fc_norm.weight", "fc_norm.bias",
                             "head.weight", "head.bias"};
  for (int i = 0; i < 2; ++i)
    for (const char* s : {"norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias", "attn.qkv.weight",
                          "attn.q_bias", "attn.v_bias", "attn.proj.weight", "attn.proj.bias", "mlp.fc1.weight",
                          "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"})
      want.insert("blocks." + std::to_string(i) + "." + s);
  CHECK(names_of(ours) == want);
  CHECK(ours.size() == want.size());

  // qkv rows are q | k | v
  const Tensor& qkv = get(ours, "blocks.1.attn.qkv.weight");
  REQUIRE(qkv.shape() == Shape{12, 4});
  const char* parts[3] = {"query", "key", "value"};
  for (int q = 0; q < 3; ++q)
    CHECK(kernels::narrow(qkv, 0, 4 * q, 4).to_vector<float>() ==
          get(hf, std::string("videomae.encoder.layer.1.attention.attention.") + parts[q] + ".weight").to_vector<float>());
  CHECK(get(ours, "blocks.0.mlp.fc1.weight").is_same(get(hf, "videomae.encoder.layer.0.intermediate.dense.weight")));
  CHECK(get(ours, "head.weight").is_same(get(hf, "classifier.weight")));

  // hf -> shears -> hf gives identical names and tensors
  NamedTensors back = nn::shears_to_hf_videomae(ours);
  REQUIRE(names_of(back) == names_of(hf));
  REQUIRE(back.size() == hf.size());
  for (auto& [name, t] : hf) {
    const Tensor& b = get(back, name);
    CHECK(b.shape() == t.shape());
    CHECK(b.to_vector<float>() == t.to_vector<float>());
  }
}

TEST_CASE("HF VideoMAE mapping: pretraining keys, fused biases and missing pieces", "[nn][io]") {
  SECTION("pretraining keys map to the original VideoMAE pretraining names") {
    NamedTensors hf{{"videomae.embeddings.patch_embeddings.projection.weight", iota({4, 3, 2, 2, 2})},
                    {"videomae.encoder.layer.0.layernorm_before.weight", iota({4})},
                    {"videomae.layernorm.weight", iota({4})},
                    {"encoder_to_decoder.weight", iota({2, 4})},
                    {"mask_token", iota({1, 1, 2})},
                    {"decoder.decoder_layers.0.attention.attention.query.weight", iota({2, 2}, 0)},
                    {"decoder.decoder_layers.0.attention.attention.key.weight", iota({2, 2}, 4)},
                    {"decoder.decoder_layers.0.attention.attention.value.weight", iota({2, 2}, 8)},
                    {"decoder.decoder_layers.0.intermediate.dense.weight", iota({8, 2})},
                    {"decoder.norm.weight", iota({2})},
                    {"decoder.head.weight", iota({24, 2})},
                    {"videomae.encoder.layer.0.something_new.weight", iota({1})}};
    NamedTensors ours = nn::hf_videomae_to_shears(hf, "encoder.");
    CHECK(names_of(ours) == std::set<std::string>{"encoder.patch_embed.proj.weight", "encoder.blocks.0.norm1.weight",
                                                  "encoder.norm.weight", "encoder_to_decoder.weight", "mask_token",
                                                  "decoder.blocks.0.attn.qkv.weight", "decoder.blocks.0.mlp.fc1.weight",
                                                  "decoder.norm.weight", "decoder.head.weight",
                                                  "videomae.encoder.layer.0.something_new.weight"});
    CHECK(get(ours, "decoder.blocks.0.attn.qkv.weight").to_vector<float>() ==
          iota({12}).to_vector<float>());
    NamedTensors back = nn::shears_to_hf_videomae(ours, "encoder.");
    CHECK(names_of(back) == names_of(hf));
    for (auto& [name, t] : hf) CHECK(get(back, name).to_vector<float>() == t.to_vector<float>());
    // Without the prefix the encoder names are the classification model's.
    CHECK(names_of(nn::hf_videomae_to_shears(hf)).count("blocks.0.norm1.weight") == 1);
  }
  SECTION("query/key/value biases fuse into qkv.bias") {
    NamedTensors hf;
    for (const char* q : {"query", "key", "value"})
      for (const char* wb : {"weight", "bias"})
        hf.emplace_back(std::string("encoder.layer.0.attention.attention.") + q + "." + wb,
                        iota(std::string(wb) == "weight" ? Shape{2, 2} : Shape{2}, q[0]));
    NamedTensors ours = nn::hf_videomae_to_shears(hf);
    CHECK(names_of(ours) == std::set<std::string>{"blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias"});
    CHECK(get(ours, "blocks.0.attn.qkv.bias").to_vector<float>() ==
          std::vector<float>{'q', 'q' + 1, 'k', 'k' + 1, 'v', 'v' + 1});
  }
  SECTION("a missing key weight names the layer") {
    NamedTensors hf = hf_tiny();
    hf.erase(std::remove_if(hf.begin(), hf.end(),
                            [](auto& p) { return p.first == "videomae.encoder.layer.1.attention.attention.key.weight"; }),
             hf.end());
    REQUIRE_THROWS_WITH(nn::hf_videomae_to_shears(hf),
                        Contains("[hf_videomae] layer 1") && Contains("attention.attention.key.weight is missing") &&
                            Contains("found query, value"));
  }
  SECTION("a qkv weight whose rows are not divisible by 3") {
    REQUIRE_THROWS_WITH(nn::shears_to_hf_videomae({{"blocks.0.attn.qkv.weight", iota({4, 4})}}),
                        Contains("expected 3*W rows"));
  }
}

TEST_CASE("load_safetensors converts an HF VideoMAE file and names the file on failure", "[nn][io]") {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("shears_sd_" + std::to_string(::getpid()) + "_hf.safetensors")).string();
  NamedTensors hf{{"videomae.encoder.layer.0.attention.attention.query.weight", iota({2, 2}, 0)},
                  {"videomae.encoder.layer.0.attention.attention.key.weight", iota({2, 2}, 10)},
                  {"videomae.encoder.layer.0.attention.attention.value.weight", iota({2, 2}, 20)},
                  {"videomae.encoder.layer.0.attention.attention.q_bias", iota({2}, 30)},
                  {"videomae.encoder.layer.0.attention.attention.v_bias", iota({2}, 40)},
                  {"classifier.weight", iota({3, 2}, 50)}};
  nn::write_safetensors(path, hf);

  TestModule m;
  auto attn = m.child("blocks")->child("0")->child("attn");
  attn->child("qkv")->param("weight", {6, 2});
  attn->param("q_bias", {2});
  attn->param("v_bias", {2});
  auto head = m.child("head");
  head->param("weight", {3, 2});
  Tensor& head_bias = head->param("bias", {3});

  REQUIRE_THROWS_WITH(nn::load_safetensors(m, path), Contains(path) && Contains("head.bias"));
  nn::LoadReport r = nn::load_safetensors(m, path, /*strict=*/false);
  CHECK(r.missing == std::vector<std::string>{"head.bias"});
  CHECK(r.loaded == 4);
  std::vector<float> want{0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23};
  CHECK(m.find_parameter("blocks.0.attn.qkv.weight")->to_vector<float>() == want);
  CHECK(m.find_parameter("blocks.0.attn.v_bias")->to_vector<float>() == std::vector<float>{40, 41});
  CHECK(head_bias.to_vector<float>() == std::vector<float>{0, 0, 0});

  // Raw HF names into a strict load: the error hints at the converter.
  REQUIRE_THROWS_WITH(nn::load_state_dict(m, hf), Contains("look like Hugging Face VideoMAE"));

  // A pretraining-style model (encoder.patch_embed...) gets the encoder names under "encoder.".
  nn::write_safetensors(path, {{"videomae.embeddings.patch_embeddings.projection.weight", iota({2, 3}, 7)},
                               {"mask_token", iota({1, 1, 2})}});
  TestModule pre;
  pre.child("encoder")->child("patch_embed")->child("proj")->param("weight", {2, 3});
  pre.param("mask_token", {1, 1, 2});
  CHECK(nn::load_safetensors(pre, path).ok());
  CHECK(pre.find_parameter("encoder.patch_embed.proj.weight")->to_vector<float>() ==
        std::vector<float>{7, 8, 9, 10, 11, 12});
  std::filesystem::remove(path);
}
