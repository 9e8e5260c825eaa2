// Channel subsets of P3B-sliced blocks (BlockConfig::attn_in/attn_out/mlp_in/mlp_out): JSON round
// trip (dense configs unchanged), validation with clear errors, the shapes a model built from such a
// config has, its forward against a hand computation, and FLOP / parameter counts by hand.
#include <catch2/catch.hpp>

#include <cstring>
#include <map>

#include "autograd/engine.h"
#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "nn/flop_count.h"
#include "nn/vision_transformer.h"
#include "tensor/creation.h"

using namespace shears;
using Catch::Contains;

namespace {

// dim 8, 28x28 -> 8x8 images with patch 4: 4 patches + cls = 5 tokens, 3 classes.
// block 0: normal branches reading/writing subsets; block 1: constant attention, skipped MLP.
nn::ModelConfig sliced_config() {
  nn::ModelConfig cfg = nn::vit_tiny_patch4_28(3);
  cfg.image_size = 8;
  cfg.dim = 8;
  nn::BlockConfig b0{2, 3, 5};
  b0.attn_in = nn::ChannelSubset::of({0, 2, 5});
  b0.attn_out = nn::ChannelSubset::of({1, 4});
  b0.mlp_out = nn::ChannelSubset::of({7});
  nn::BlockConfig b1{0, 0, 0};
  b1.attn_in = nn::ChannelSubset::of({});
  b1.attn_out = nn::ChannelSubset::of({0, 1, 2});
  b1.mlp_in = nn::ChannelSubset::of({});
  b1.mlp_out = nn::ChannelSubset::of({});
  cfg.blocks = {b0, b1};
  return cfg;
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("channel subsets round-trip through JSON, dense configs are unchanged", "[nn][config][p3b]") {
  const nn::ModelConfig dense = nn::vit_tiny_patch4_28(3);
  const std::string dense_json = dense.to_json();
  CHECK(dense_json.find("attn_in") == std::string::npos);
  CHECK(dense_json.find("mlp_out") == std::string::npos);
  const nn::ModelConfig cfg = sliced_config();
  cfg.validate();
  const std::string json = cfg.to_json();
  CHECK(json.find("\"attn_in\":[0,2,5]") != std::string::npos);
  CHECK(json.find("\"mlp_in\":[]") != std::string::npos);
  const nn::ModelConfig back = nn::ModelConfig::from_json(json);
  REQUIRE(back.blocks.size() == 2);
  CHECK(back.blocks[0].attn_in == cfg.blocks[0].attn_in);
  CHECK(back.blocks[0].attn_out == cfg.blocks[0].attn_out);
  CHECK(back.blocks[0].mlp_in.all);
  CHECK(back.blocks[0].mlp_out.index == std::vector<int64_t>{7});
  CHECK(back.blocks[1].attn_in.none());
  CHECK(back.blocks[1].mlp_out.none());
  CHECK(back.to_json() == json);
}

TEST_CASE("bad channel subsets in JSON are refused naming the block and key", "[nn][config][p3b]") {
  const std::string json = sliced_config().to_json();
  CHECK_THROWS_WITH(nn::ModelConfig::from_json(replace(json, "[0,2,5]", "[0,5,2]")),
                    Contains("blocks[0].attn_in") && Contains("sorted and unique"));
  CHECK_THROWS_WITH(nn::ModelConfig::from_json(replace(json, "[0,2,5]", "[0,2,2]")),
                    Contains("blocks[0].attn_in") && Contains("sorted and unique"));
  CHECK_THROWS_WITH(nn::ModelConfig::from_json(replace(json, "[0,2,5]", "[0,2,8]")),
                    Contains("blocks[0].attn_in[2] = 8") && Contains("valid: 0..7"));
  CHECK_THROWS_WITH(nn::ModelConfig::from_json(replace(json, "[0,2,5]", "[-1,2,5]")),
                    Contains("blocks[0].attn_in[0] = -1"));
  CHECK_THROWS_WITH(nn::ModelConfig::from_json(replace(json, "[0,2,5]", "[0,2.5,5]")),
                    Contains("blocks[0].attn_in[1]") && Contains("integer"));
  CHECK_THROWS_WITH(nn::ModelConfig::from_json(replace(json, "[0,2,5]", "\"all\"")),
                    Contains("blocks[0].attn_in") && Contains("array of channel indices"));
  CHECK_THROWS_WITH(nn::ModelConfig::from_json(replace(json, "\"attn_out\":[1,4]", "\"attn_outs\":[1,4]")),
                    Contains("unknown key") && Contains("blocks[0].attn_outs"));
}

TEST_CASE("validation accepts an inner width of 0 exactly for constant and skipped branches", "[nn][config][p3b]") {
  nn::ModelConfig cfg = sliced_config();
  cfg.validate();
  SECTION("heads 0 with input channels") {
    cfg.blocks[1].attn_in = nn::ChannelSubset::of({3});
    CHECK_THROWS_WITH(cfg.validate(), Contains("blocks[1].heads is 0") && Contains("constant or skipped"));
  }
  SECTION("no input channels with heads") {
    cfg.blocks[0].attn_in = nn::ChannelSubset::of({});
    CHECK_THROWS_WITH(cfg.validate(), Contains("blocks[0].attn_in is empty") && Contains("heads = 0"));
  }
  SECTION("mlp_hidden 0 on a dense MLP") {
    cfg.blocks[0].mlp_hidden = 0;
    CHECK_THROWS_WITH(cfg.validate(), Contains("blocks[0].mlp_hidden is 0"));
  }
  SECTION("no output channels but inputs") {
    cfg.blocks[0].mlp_out = nn::ChannelSubset::of({});
    CHECK_THROWS_WITH(cfg.validate(), Contains("blocks[0].mlp_out is empty") && Contains("skipped"));
  }
  SECTION("heads 0 with a head_dim") {
    cfg.blocks[1].head_dim = 4;
    CHECK_THROWS_WITH(cfg.validate(), Contains("blocks[1].heads must be >= 1"));
  }
  SECTION("a dense config with heads 0 stays refused") {
    nn::ModelConfig dense = nn::vit_tiny_patch4_28(3);
    dense.blocks[2].heads = 0;
    dense.blocks[2].head_dim = 0;
    CHECK_THROWS_WITH(dense.validate(), Contains("blocks[2].heads is 0"));
  }
}

TEST_CASE("a model built from channel subsets has the sliced shapes and the sliced forward", "[nn][p3b]") {
  const nn::ModelConfig cfg = sliced_config();
  nn::VisionTransformer model(cfg, 7);
  CHECK(model.config().to_json() == cfg.to_json());
  const auto shapes = nn::parameter_shapes(cfg);
  const auto params = model.named_parameters();
  REQUIRE(shapes.size() == params.size());
  std::map<std::string, Shape> expected(shapes.begin(), shapes.end());
  for (const auto& [name, t] : params) {
    INFO(name);
    REQUIRE(expected.count(name) == 1);
    CHECK(expected[name] == t.shape());
  }
  const nn::Block& b0 = *model.blocks->items[0];
  CHECK(b0.attn->qkv->weight.shape() == Shape{18, 3});
  CHECK(b0.attn->proj->weight.shape() == Shape{2, 6});
  CHECK(b0.mlp->fc2->weight.shape() == Shape{1, 5});
  const nn::Block& b1 = *model.blocks->items[1];
  CHECK(b1.attn_constant());
  CHECK(b1.mlp_skipped());
  CHECK(b1.attn->proj->bias.shape() == Shape{3});
  CHECK(b1.mlp->fc2->bias.shape() == Shape{0});

  // forward against a hand computation on dense ops
  for (auto& [name, t] : model.named_parameters()) {  // non-zero biases and LayerNorm affines
    Generator g(std::hash<std::string>{}(name) % 1000);
    Tensor* slot = model.find_parameter(name);
    *slot = uniform(slot->shape(), -0.5, 0.5, DType::F32, &g).set_requires_grad(true);
  }
  model.eval();
  Generator gen(3);
  const Tensor x = randn({2, 5, 8}, DType::F32, &gen);
  const Tensor y = model.blocks->items[0]->forward(x);
  const Tensor ln1 = layer_norm(x, Tensor(), Tensor(), 1e-6);
  const Tensor h1 = index_select(ln1, 2, from_vector(std::vector<int64_t>{0, 2, 5})) * b0.norm1->weight + b0.norm1->bias;
  const Tensor a = b0.attn->forward(h1);  // (2, 5, 2) -> channels 1, 4
  std::vector<float> expect = x.to_vector<float>();
  const std::vector<float> av = a.to_vector<float>();
  for (int64_t t = 0; t < 10; ++t) {
    expect[size_t(t * 8 + 1)] += av[size_t(t * 2)];
    expect[size_t(t * 8 + 4)] += av[size_t(t * 2 + 1)];
  }
  const Tensor mid = from_vector(expect, {2, 5, 8});
  const Tensor m = b0.mlp->forward(b0.norm2->forward(mid));  // (2, 5, 1) -> channel 7
  const std::vector<float> mv = m.to_vector<float>();
  for (int64_t t = 0; t < 10; ++t) expect[size_t(t * 8 + 7)] += mv[size_t(t)];
  const std::vector<float> got = y.to_vector<float>();
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(expect[i]).margin(1e-5));

  // block 1: the proj bias added at channels 0..2, nothing else
  const std::vector<float> y1 = model.blocks->items[1]->forward(x).to_vector<float>();
  const std::vector<float> xv = x.to_vector<float>(), bias = b1.attn->proj->bias.to_vector<float>();
  for (int64_t t = 0; t < 10; ++t)
    for (int64_t c = 0; c < 8; ++c)
      CHECK(y1[size_t(t * 8 + c)] == Approx(xv[size_t(t * 8 + c)] + (c < 3 ? bias[size_t(c)] : 0.f)).margin(1e-6));

  // a constant attention branch has no probabilities for a token hook
  model.blocks->items[1]->keep_attention = true;
  CHECK_THROWS_WITH(model.blocks->items[1]->forward(x), Contains("constant attention branch"));
}

TEST_CASE("FLOPs and parameters of a sliced config match a hand count", "[nn][flops][p3b]") {
  const nn::ModelConfig cfg = sliced_config();
  const nn::FlopReport r = nn::count_flops(cfg);
  // N = 5 tokens, dim 8. Block 0: attention reads 3 channels, width 2*3 = 6, writes 2; MLP reads 8,
  // hidden 5, writes 1.
  const nn::BlockFlops& f0 = r.blocks[0];
  CHECK(f0.norm1 == 5 * 5 * 8);
  CHECK(f0.qkv == 5 * 3 * 18);
  CHECK(f0.attn == 2 * 5 * 5 * 6);
  CHECK(f0.proj == 5 * 6 * 2);
  CHECK(f0.norm2 == 5 * 5 * 8);
  CHECK(f0.mlp == 5 * 8 * 5 + 5 * 5 * 1);
  CHECK(r.per_block[1] == 0);  // constant attention (a bias add) and skipped MLP
  const double embed = 4 * 8 * 16, final_norm = 5 * 5 * 8, head = 8 * 3;
  CHECK(r.total == embed + (200 + 270 + 300 + 60 + 200 + 225) + final_norm + head);

  // block 0: norm1 2*3, qkv 18*3 + 18, proj 2*6 + 2, norm2 2*8, fc1 5*8 + 5, fc2 1*5 + 1
  CHECK(nn::count_block_parameters(cfg, cfg.blocks[0]) == 6 + 72 + 14 + 16 + 45 + 6);
  CHECK(nn::count_block_parameters(cfg, cfg.blocks[1]) == 3);  // proj.bias at 3 channels
  // patch_embed 8*16 + 8, cls 8, pos 5*8, norm 16, head 3*8 + 3
  const int64_t expected = 136 + 8 + 40 + 159 + 3 + 16 + 27;
  CHECK(nn::count_parameters(cfg) == expected);
  CHECK(nn::VisionTransformer(cfg, 1).parameter_count() == expected);
  // the dense counts are unchanged
  const nn::ModelConfig dense = nn::deit_small_patch16_224();
  CHECK(nn::count_flops(dense).total == Approx(4.608e9).epsilon(1e-3));
}

TEST_CASE("the evaluation forward with pending residual adds equals the block-by-block forward bit for bit",
          "[nn][p3b][add_layer_norm]") {
  // sliced (normal subsets), constant attention + skipped MLP, dense, skipped attention + sliced MLP (the
  // pending MLP output of the dense block carried across it), dense
  nn::ModelConfig cfg = sliced_config();
  const nn::BlockConfig dense{2, 4, 16};
  nn::BlockConfig skip_attn{0, 0, 6};
  skip_attn.attn_in = nn::ChannelSubset::of({});
  skip_attn.attn_out = nn::ChannelSubset::of({});
  skip_attn.mlp_in = nn::ChannelSubset::of({1, 3, 6});
  cfg.blocks.push_back(dense);
  cfg.blocks.push_back(skip_attn);
  cfg.blocks.push_back(dense);
  nn::VisionTransformer model(cfg, 9);
  for (auto& [name, t] : model.named_parameters()) {
    Generator g(std::hash<std::string>{}(name) % 1000);
    Tensor* slot = model.find_parameter(name);
    *slot = uniform(slot->shape(), -0.5, 0.5, DType::F32, &g).set_requires_grad(true);
  }
  model.eval();
  Generator gen(4);
  const Tensor images = randn({3, 1, 8, 8}, DType::F32, &gen);
  for (bool grad_mode : {false, true}) {
    INFO("grad mode " << grad_mode);
    NoGradGuard guard;
    set_grad_mode(grad_mode);
    for (const auto& b : model.blocks->items) REQUIRE(b->can_forward_pending());
    model.keep_sub_block_features = false;
    const Tensor pending = model.forward(images);
    model.keep_sub_block_features = true;  // forces Block::forward, block by block
    const Tensor blockwise = model.forward(images);
    model.keep_sub_block_features = false;
    REQUIRE(pending.shape() == blockwise.shape());
    const std::vector<float> a = pending.to_vector<float>(), b = blockwise.to_vector<float>();
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
    CHECK(pending.requires_grad() == grad_mode);
    if (grad_mode) {  // the same gradients for every parameter
      TensorList params;
      for (auto& [name, t] : model.named_parameters()) params.push_back(t);
      zero_grad(params);
      backward(sum(pending * pending));
      std::vector<std::vector<float>> first;
      for (const Tensor& t : params) first.push_back(t.grad().defined() ? t.grad().to_vector<float>() : std::vector<float>());
      zero_grad(params);
      backward(sum(blockwise * blockwise));
      size_t with_grad = 0;
      for (size_t i = 0; i < params.size(); ++i) {
        const std::vector<float> g = params[i].grad().defined() ? params[i].grad().to_vector<float>() : std::vector<float>();
        REQUIRE(g.size() == first[i].size());
        with_grad += !g.empty();
        if (!g.empty()) CHECK(std::memcmp(g.data(), first[i].data(), g.size() * sizeof(float)) == 0);
      }
      CHECK(with_grad > params.size() / 2);
    }
  }
  // what forward() applies between branches rules the pending form out
  nn::Block& b0 = *model.blocks->items[0];
  b0.attach_channel_gates();
  CHECK_FALSE(b0.can_forward_pending());
  b0.remove_channel_gates();
  b0.keep_attention = true;
  CHECK_FALSE(b0.can_forward_pending());
  b0.keep_attention = false;
  b0.token_hook = [](const Tensor& x, const Tensor&) { return x; };
  CHECK_FALSE(b0.can_forward_pending());
  CHECK_THROWS_WITH(b0.forward_pending({randn({1, 5, 8}), Tensor(), nullptr}), Contains("forward_pending"));
  b0.token_hook = nullptr;
  model.train();
  CHECK_FALSE(b0.can_forward_pending());
}
