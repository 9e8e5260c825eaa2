// Token pruning installed on a VisionTransformer: keep rate 1 changes nothing (bitwise), token
// counts follow nn::keep_rate_token_counts, kept patch indices are tracked through stages, a
// float64 gradient check through pruning blocks with fusion, training backward, inference equal to
// a manual computation with the selected tokens, and EViT DeiT-S FLOPs from the produced counts.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "autograd/gradcheck.h"
#include "nn/flop_count.h"
#include "pruning/keep_rate_schedule.h"
#include "pruning/token_pruning.h"
#include "test_util.h"

using namespace shears;
using namespace shears::pruning;

namespace {

// 8x8 one-channel images, patch 2: 16 patches + CLS = 17 tokens; 4 blocks (default locations 1, 2, 3).
nn::ModelConfig tiny_config() {
  nn::ModelConfig c;
  c.arch = "vit";
  c.image_size = 8;
  c.in_chans = 1;
  c.patch_size = 2;
  c.dim = 8;
  c.blocks = nn::uniform_blocks(4, 2, 4, 16);
  c.num_classes = 3;
  c.mean = {0.5};
  c.std = {0.5};
  return c;
}

// Converts every parameter of the model to f64 (for gradient checks).
void to_f64(nn::VisionTransformer& model) {
  for (auto& [name, t] : model.named_parameters()) {
    Tensor* slot = model.find_parameter(name);
    *slot = kernels::to_dtype(t, DType::F64);
    slot->set_requires_grad(true);
  }
}

Tensor images(int64_t B, DType dt, uint64_t seed, int64_t size = 8, int64_t chans = 1) {
  return test::random_tensor({B, chans, size, size}, dt, seed, -1.0, 1.0);
}

TokenPruningConfig pruning_config(const std::string& policy, double keep_rate, bool fuse,
                                  std::vector<int64_t> locations = {}) {
  TokenPruningConfig cfg;
  cfg.policy = parse_token_policy(policy);
  cfg.keep_rate = keep_rate;
  cfg.fuse = fuse;
  cfg.locations = std::move(locations);
  cfg.seed = 5;
  return cfg;
}

const std::vector<std::string> kPolicies = {"evit", "shannon", "renyi:2", "renyi:0.5", "renyi:inf", "random"};

// Keeps the highest-index tokens first: priority of non-CLS token j is j.
class HighestIndexPolicy : public TokenPolicy {
 public:
  std::string name() const override { return "highest-index"; }
  Tensor keep_priority(const Tensor&, const Tensor& probs, const TokenSelectionContext&) const override {
    const int64_t B = probs.size(0), M = probs.size(2) - 1;
    std::vector<double> v;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < M; ++j) v.push_back(double(j));
    return from_vector(v, {B, M});
  }
};

}  // namespace

TEST_CASE("keep rate 1 changes the logits not at all, for every policy with and without fusion", "[token_pruning]") {
  nn::VisionTransformer model(tiny_config(), 1);
  Tensor x = images(3, DType::F32, 11);
  for (bool training : {false, true}) {
    model.train(training);
    const std::vector<float> want = model.forward(x).to_vector<float>();
    for (const std::string& policy : kPolicies)
      for (bool fuse : {false, true}) {
        INFO("policy " << policy << " fuse " << fuse << " training " << training);
        auto pruning = install_token_pruning(model, pruning_config(policy, 1.0, fuse));
        CHECK(model.forward(x).to_vector<float>() == want);
        CHECK(pruning->last_token_counts() == nn::TokenCounts(4, {17, 17}));
        remove_token_pruning(model);
        for (auto& b : model.blocks->items) CHECK(!b->token_hook);
      }
  }
}

TEST_CASE("token counts after each pruning block equal nn::keep_rate_token_counts", "[token_pruning]") {
  const nn::ModelConfig cfg = tiny_config();
  nn::VisionTransformer model(cfg, 2);
  model.eval();
  Tensor x = images(2, DType::F32, 12);
  for (const std::string& policy : kPolicies)
    for (double rho : {0.9, 0.7, 0.5, 0.3})
      for (bool fuse : {false, true}) {
        INFO("policy " << policy << " keep rate " << rho << " fuse " << fuse);
        auto pruning = install_token_pruning(model, pruning_config(policy, rho, fuse));
        REQUIRE(pruning->locations() == std::vector<int64_t>{1, 2, 3});
        NoGradGuard no_grad;
        CHECK(model.forward(x).shape() == Shape{2, 3});
        const nn::TokenCounts want = nn::keep_rate_token_counts(cfg, rho, {1, 2, 3}, fuse);
        CHECK(pruning->last_token_counts() == want);
        REQUIRE(pruning->last_records().size() == 3);
        for (const PruningRecord& r : pruning->last_records()) {
          REQUIRE(r.kept_patches.size() == 2);
          for (const auto& kept : r.kept_patches) {
            CHECK(int64_t(kept.size()) == r.tokens_out - 1);
            std::set<int64_t> patches;
            for (int64_t p : kept) {
              CHECK(p >= -1);
              CHECK(p < 16);
              if (p >= 0) patches.insert(p);
            }
            CHECK(patches.size() == size_t(std::count_if(kept.begin(), kept.end(), [](int64_t p) { return p >= 0; })));
          }
        }
        remove_token_pruning(model);
      }
}

TEST_CASE("kept patch indices are tracked through pruning stages, the fused token as -1", "[token_pruning]") {
  nn::VisionTransformer model(tiny_config(), 3);
  model.eval();
  TokenPruningConfig cfg = pruning_config("evit", 0.5, true, {1, 2});
  cfg.custom_policy = std::make_shared<HighestIndexPolicy>();
  auto pruning = install_token_pruning(model, cfg);
  CHECK(pruning->policy().name() == "highest-index");
  NoGradGuard no_grad;
  model.forward(images(2, DType::F32, 13));
  const auto& rec = pruning->last_records();
  REQUIRE(rec.size() == 2);
  // block 1: 16 patches -> the 8 highest (15..8) + fused; block 2: 9 tokens [15..8, fused] -> the 5
  // highest positions (the fused token, then patches 8, 9, 10, 11) + a new fused token
  const std::vector<int64_t> stage1 = {15, 14, 13, 12, 11, 10, 9, 8, -1};
  const std::vector<int64_t> stage2 = {-1, 8, 9, 10, 11, -1};
  CHECK(rec[0].block == 1);
  CHECK(rec[1].block == 2);
  for (int b = 0; b < 2; ++b) {
    CHECK(rec[0].kept_patches[size_t(b)] == stage1);
    CHECK(rec[1].kept_patches[size_t(b)] == stage2);
  }
  // a second forward starts over (records are of the last forward only)
  model.forward(images(1, DType::F32, 14));
  REQUIRE(pruning->last_records().size() == 2);
  CHECK(pruning->last_records()[1].kept_patches.size() == 1);
}

TEST_CASE("float64 gradient check through pruning blocks with token fusion", "[token_pruning][gradcheck]") {
  for (const char* policy : {"evit", "renyi:2"}) {
    INFO("policy " << policy);
    nn::VisionTransformer model(tiny_config(), 4);
    to_f64(model);
    install_token_pruning(model, pruning_config(policy, 0.5, true, {1, 2}));
    Tensor* qkv = model.find_parameter("blocks.1.attn.qkv.weight");  // feeds the fusion weights of block 1
    REQUIRE(qkv != nullptr);
    GradcheckResult r = gradcheck(
        [&](const TensorList& in) {
          *qkv = in[1];
          return model.forward(in[0]);
        },
        {images(1, DType::F64, 15), kernels::clone(*qkv)});
    INFO(r.report);
    CHECK(r.ok);
  }
}

TEST_CASE("training backward reaches every parameter through pruned blocks", "[token_pruning]") {
  nn::VisionTransformer model(tiny_config(), 5);
  model.train();
  auto pruning = install_token_pruning(model, pruning_config("renyi:2", 0.5, true));
  Tensor logits = model.forward(images(4, DType::F32, 16));
  backward(cross_entropy(logits, from_vector(std::vector<int64_t>{0, 1, 2, 1})));
  for (auto& [name, p] : model.named_parameters()) {
    INFO(name);
    REQUIRE(p.grad().defined());
    for (float g : p.grad().to_vector<float>()) REQUIRE(std::isfinite(g));
  }
  CHECK(pruning->last_token_counts().back() == std::pair<int64_t, int64_t>{7, 5});  // 17 -> 10 -> 7 -> 5
}

TEST_CASE("pruned inference equals a manual computation with the selected tokens", "[token_pruning]") {
  nn::VisionTransformer model(tiny_config(), 6);
  to_f64(model);
  model.eval();
  NoGradGuard no_grad;
  Tensor x = images(2, DType::F64, 17);
  const std::vector<int64_t> locations = {1, 2};
  for (const char* policy : {"evit", "shannon", "random"})
    for (bool fuse : {false, true}) {
      INFO("policy " << policy << " fuse " << fuse);
      auto pruning = install_token_pruning(model, pruning_config(policy, 0.6, fuse, locations));
      pruning->set_step(42);
      Tensor logits = model.forward(x);

      // the same model run block by block, selection by the policy, gather and fusion by hand
      Tensor t = model.embed(x);
      for (int64_t i = 0; i < 4; ++i) {
        auto& blk = (*model.blocks)[size_t(i)];
        Tensor probs;
        t = t + blk->attn->forward(blk->norm1->forward(t), &probs);
        if (std::count(locations.begin(), locations.end(), i)) {
          const int64_t B = t.size(0), N = t.size(1), C = t.size(2), left = tokens_left(0.6, N - 1);
          Tensor kept = select_top_tokens(pruning->policy().keep_priority(t, probs, {i, 42}), left);
          test::Ref tv = test::ref_of(t), pv = test::ref_of(probs), kv = test::ref_of(kept);
          const int64_t n_out = 1 + left + (fuse ? 1 : 0);
          std::vector<double> out;
          for (int64_t b = 0; b < B; ++b) {
            std::vector<bool> is_kept(size_t(N - 1), false);
            for (int64_t c = 0; c < C; ++c) out.push_back(tv.at({b, 0, c}));
            for (int64_t k = 0; k < left; ++k) {
              const int64_t j = int64_t(kv.at({b, k}));
              is_kept[size_t(j)] = true;
              for (int64_t c = 0; c < C; ++c) out.push_back(tv.at({b, 1 + j, c}));
            }
            if (fuse)
              for (int64_t c = 0; c < C; ++c) {
                double s = 0;
                for (int64_t j = 0; j < N - 1; ++j) {
                  if (is_kept[size_t(j)]) continue;
                  double w = 0;
                  for (int64_t h = 0; h < probs.size(1); ++h) w += pv.at({b, h, 0, 1 + j}) / double(probs.size(1));
                  s += w * tv.at({b, 1 + j, c});
                }
                out.push_back(s);
              }
          }
          t = from_vector(out, {B, n_out, C});
        }
        t = t + blk->mlp->forward(blk->norm2->forward(t));
      }
      test::require_close(logits, model.head->forward(model.pool(t)), 1e-12);
      remove_token_pruning(model);
    }
}

TEST_CASE("the keep-rate schedule updates the installed pruning", "[token_pruning]") {
  nn::VisionTransformer model(tiny_config(), 7);
  model.eval();
  auto pruning = install_token_pruning(model, pruning_config("evit", 0.5, true));
  KeepRateSchedule s{0.5, 1.0, 1, 2, 10};
  CHECK(apply_keep_rate_schedule(*pruning, s, 0, 5) == 1.0);
  CHECK(pruning->keep_rate() == 1.0);
  NoGradGuard no_grad;
  model.forward(images(1, DType::F32, 18));
  CHECK(pruning->last_token_counts().back() == std::pair<int64_t, int64_t>{17, 17});
  CHECK(apply_keep_rate_schedule(*pruning, s, 5, 50) == 0.5);
  model.forward(images(1, DType::F32, 18));
  CHECK(pruning->last_token_counts() == nn::keep_rate_token_counts(tiny_config(), 0.5, {1, 2, 3}, true));
}

TEST_CASE("install_token_pruning rejects bad locations, keep rates, doubles and models without CLS", "[token_pruning]") {
  nn::VisionTransformer model(tiny_config(), 8);
  CHECK_THROWS_WITH(install_token_pruning(model, pruning_config("evit", 0.5, true, {4})),
                    Catch::Contains("pruning location 4 is outside blocks 0..3"));
  CHECK_THROWS_WITH(install_token_pruning(model, pruning_config("evit", 0.5, true, {1, 1})),
                    Catch::Contains("listed twice"));
  CHECK_THROWS_WITH(install_token_pruning(model, pruning_config("evit", 0.0, true)), Catch::Contains("keep_rate"));
  CHECK_THROWS_WITH(install_token_pruning(model, pruning_config("evit", 1.5, true)), Catch::Contains("keep_rate"));
  auto pruning = install_token_pruning(model, pruning_config("evit", 0.5, true));
  CHECK_THROWS_WITH(install_token_pruning(model, pruning_config("evit", 0.5, true)),
                    Catch::Contains("already has a token hook"));
  CHECK_THROWS_WITH(pruning->set_keep_rate(-0.1), Catch::Contains("keep_rate must be in (0, 1]"));
  nn::ModelConfig video = tiny_config();
  video.arch = "videomae";
  video.frames = 2;
  video.tubelet = 2;
  nn::VisionTransformer videomae(video, 9);
  CHECK_THROWS_WITH(install_token_pruning(videomae, pruning_config("shannon", 0.5, false)),
                    Catch::Contains("no cls_token"));
}

TEST_CASE("EViT DeiT-S FLOPs from the token counts the installed pruning produces", "[token_pruning][flops]") {
  const nn::ModelConfig deit_s = nn::deit_small_patch16_224();
  // A narrow model with DeiT-S's token geometry (224 px, patch 16: 196 patches + CLS, 12 blocks):
  // the token counts depend only on N, the keep rate and the locations.
  nn::ModelConfig narrow = deit_s;
  narrow.dim = 16;
  narrow.blocks = nn::uniform_blocks(12, 2, 8, 32);
  narrow.num_classes = 10;
  nn::VisionTransformer model(narrow, 10);
  model.eval();
  Tensor x = images(1, DType::F32, 19, 224, 3);
  NoGradGuard no_grad;

  const std::vector<double> rates = {0.9, 0.8, 0.7, 0.6, 0.5};
  const std::vector<double> published = {4.0, 3.5, 3.0, 2.6, 2.3};     // EViT README, fuse
  const std::vector<double> derived = {4.03, 3.48, 3.04, 2.64, 2.31};  // METHODS.md §4.3
  for (size_t i = 0; i < rates.size(); ++i) {
    INFO("keep rate " << rates[i]);
    auto pruning = install_token_pruning(model, pruning_config("evit", rates[i], true));
    REQUIRE(pruning->locations() == std::vector<int64_t>{3, 6, 9});
    model.forward(x);
    const nn::TokenCounts counts = pruning->last_token_counts();
    CHECK(counts == nn::keep_rate_token_counts(deit_s, rates[i], {3, 6, 9}, true));
    const double g = nn::count_flops(deit_s, counts).total / 1e9;
    CHECK(std::round(g * 10) / 10 == Approx(published[i]));
    CHECK(g == Approx(derived[i]).margin(0.005));
    remove_token_pruning(model);
  }
  // 0.7: 196 -> 138+1 -> 98+1 -> 70+1 with fusion
  CHECK(nn::keep_rate_token_counts(deit_s, 0.7, {3, 6, 9}, true)[9] == std::pair<int64_t, int64_t>{100, 72});
  auto pruning = install_token_pruning(model, pruning_config("evit", 0.7, false));
  model.forward(x);
  CHECK(pruning->last_token_counts() == nn::keep_rate_token_counts(deit_s, 0.7, {3, 6, 9}, false));
  CHECK(nn::count_flops(deit_s, pruning->last_token_counts()).total / 1e9 == Approx(3.00).margin(0.005));
}

TEST_CASE("default locations move past blocks whose attention branch P3B removed, explicit ones are refused",
          "[token_pruning][p3b]") {
  nn::ModelConfig cfg = tiny_config();  // defaults 1, 2, 3
  cfg.blocks[1].heads = 0, cfg.blocks[1].head_dim = 0;  // block 1: a constant attention branch (bias only)
  cfg.blocks[1].attn_in = nn::ChannelSubset::of({});
  cfg.blocks[1].attn_out = nn::ChannelSubset::of({0, 1});
  cfg.blocks[2].attn_in = nn::ChannelSubset::of({});    // block 2: attention skipped altogether
  cfg.blocks[2].heads = 0, cfg.blocks[2].head_dim = 0;
  cfg.blocks[2].attn_out = nn::ChannelSubset::of({});
  cfg.validate();
  nn::VisionTransformer model(cfg, 3);
  model.eval();
  pruning::TokenPruningConfig tp = pruning_config("evit", 0.5, true, {});
  auto state = pruning::install_token_pruning(model, tp);
  CHECK(state->locations() == std::vector<int64_t>{3});  // 1 -> 3 (1 and 2 have no attention); 2, 3 -> none left
  const Tensor x = images(2, DType::F32, 21);
  const Tensor y = model.forward(x);
  CHECK(y.size(0) == 2);
  pruning::remove_token_pruning(model);
  tp.locations = {2};
  CHECK_THROWS_WITH(pruning::install_token_pruning(model, tp), Catch::Contains("location 2") && Catch::Contains("attention branch"));
  // no block with attention at all
  for (int b : {0, 3}) {
    cfg.blocks[size_t(b)].heads = 0, cfg.blocks[size_t(b)].head_dim = 0;
    cfg.blocks[size_t(b)].attn_in = nn::ChannelSubset::of({});
    cfg.blocks[size_t(b)].attn_out = nn::ChannelSubset::of({});
  }
  cfg.validate();
  nn::VisionTransformer none(cfg, 3);
  tp.locations.clear();
  CHECK_THROWS_WITH(pruning::install_token_pruning(none, tp), Catch::Contains("no block"));
}
