// P3B pruning run (pruning/p3b.h) on a tiny ViT driven by hand (forward, heads loss, backward,
// after_backward, after_iteration): updates at the scheduled iterations, the ramp, the global
// budget met after finalize, uniform allocation equal ratios, the masks-only-shrink control never
// growing a branch, keep-all (ratio 0, no weight updates) changing nothing, and the sliced model
// reloading bit-identically from the file alone; bad options and models refused with clear errors.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "autograd/engine.h"
#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "pruning/p3b.h"
#include "pruning/provenance.h"
#include "pruning/token_pruning.h"
#include "test_util.h"

using namespace shears;
using namespace shears::pruning;

namespace {

// 8x8 grey images, patch 2: a 4x4 grid + cls = 17 tokens; 2 blocks = 4 sub-blocks.
nn::ModelConfig p3b_config() {
  nn::ModelConfig c;
  c.arch = "vit";
  c.image_size = 8, c.in_chans = 1, c.patch_size = 2, c.dim = 8;
  c.blocks = nn::uniform_blocks(2, 2, 4, 16);
  c.num_classes = 3;
  c.mean = {0.5}, c.std = {0.5};
  return c;
}

Tensor images(int64_t B, uint64_t seed) { return test::random_tensor({B, 1, 8, 8}, DType::F32, seed, -1.0, 1.0); }
Tensor labels(int64_t B) {
  Tensor y = zeros({B}, DType::I64);
  for (int64_t i = 0; i < B; ++i) y.data<int64_t>()[i] = i % 3;
  return y;
}

P3bOptions schedule(double ratio) {
  P3bOptions o;
  o.prune_ratio = ratio;
  o.start = 2, o.sparse = 6, o.finalize = 10, o.update_interval = 2;
  o.heads.patch_width = 4;
  return o;
}

// `iterations` training iterations without weight updates (the pruning decisions only).
void drive(nn::VisionTransformer& model, P3bPruner& p, int64_t iterations) {
  model.train();
  for (int64_t it = 0; it < iterations; ++it) {
    const Tensor x = images(6, 100 + uint64_t(it));
    const Tensor y = labels(6);
    Tensor logits = model.forward(x);
    Tensor loss = cross_entropy(logits, y);
    Tensor heads = p.heads_loss([&](const Tensor& l) { return cross_entropy(l, y); });
    backward(add(loss, heads));
    p.after_backward();
    for (auto& [name, t] : model.named_parameters()) t.set_grad(Tensor());
    for (auto& [name, t] : p.heads().named_parameters()) t.set_grad(Tensor());
    p.after_iteration();
  }
}

std::vector<float> eval_logits(nn::VisionTransformer& model, const Tensor& x) {
  NoGradGuard g;
  model.eval();
  auto v = model.forward(x).to_vector<float>();
  model.train();
  return v;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("p3b: mask updates run at the scheduled iterations and finalize meets the budget", "[p3b]") {
  nn::VisionTransformer model(p3b_config(), 1);
  const int64_t total = model.parameter_count();
  P3bPruner p(model, 3, schedule(0.3));
  REQUIRE(p.sub_blocks() == 4);
  drive(model, p, 10);
  REQUIRE(p.updates().size() == 3);
  CHECK(p.updates()[0].iteration == 4);
  CHECK(p.updates()[1].iteration == 6);
  CHECK(p.updates()[2].iteration == 8);
  // ramp: (iterations - start) / (sparse - start) = 0.5 at iteration 4, 1 from 6 on
  for (size_t j = 0; j < 4; ++j) {
    const P3bUpdate& u = p.updates()[0];
    CHECK(u.keep_ratio[j] == Approx(1 - (1 - u.goal_keep_ratio[j]) * 0.5));
    CHECK(p.updates()[1].keep_ratio[j] == Approx(p.updates()[1].goal_keep_ratio[j]));
    CHECK(std::isfinite(u.benefit_cls[j]));
  }
  const auto slices = p.finalize();
  CHECK(!slices.empty());
  REQUIRE(p.updates().back().final);
  // the budget: kept block params = kr * total - nonblock, up to one element's cost per branch
  const std::vector<int64_t> unpruned = p.unpruned_params();
  int64_t block_total = 0;
  for (int64_t w : unpruned) block_total += w;
  const double target = 0.7 * double(total) - double(total - block_total);
  int64_t kept = 0;
  for (int64_t k : p.kept_params()) kept += k;
  CHECK(std::abs(double(kept) - target) < 0.1 * double(block_total));
  CHECK(model.parameter_count() < total);
  const nn::PruneStep step = p.step();
  CHECK(step.kind == "p3b");
  CHECK(step.method == "p3b:ratio=0.3");
  CHECK(step.kept.count("blocks.0.attn_in") == 1);
  CHECK(!model.keep_sub_block_features);
  CHECK_THROWS_WITH(p.finalize(), Catch::Contains("finalize called twice"));
}

TEST_CASE("p3b: the sliced model saves and reloads from the file alone", "[p3b]") {
  nn::VisionTransformer model(p3b_config(), 2);
  {
    P3bPruner p(model, 3, schedule(0.4));
    drive(model, p, 10);
    p.finalize();
    model.prune_log.push_back(p.step());
  }
  const Tensor x = images(4, 7);
  const std::vector<float> before = eval_logits(model, x);
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("shears_p3b_" + std::to_string(::getpid()) + ".safetensors")).string();
  nn::save_model(path, model);
  auto loaded = pruning::load_model(path);
  std::filesystem::remove(path);
  CHECK(eval_logits(*loaded, x) == before);
  CHECK(loaded->parameter_count() == model.parameter_count());
  REQUIRE(loaded->prune_log.size() == 1);
  CHECK(loaded->prune_log[0].kind == "p3b");
}

TEST_CASE("p3b: keep-all (ratio 0) without weight updates changes nothing", "[p3b]") {
  nn::VisionTransformer model(p3b_config(), 3);
  const Tensor x = images(4, 9);
  const std::vector<float> before = eval_logits(model, x);
  const int64_t params = model.parameter_count();
  P3bPruner p(model, 3, schedule(0.0));
  drive(model, p, 10);
  p.finalize();
  CHECK(model.parameter_count() == params);
  const std::vector<float> after = eval_logits(model, x);
  REQUIRE(after.size() == before.size());
  for (size_t i = 0; i < after.size(); ++i) CHECK(after[i] == Approx(before[i]).margin(1e-6));
}

TEST_CASE("p3b: uniform allocation gives every sub-block the same goal ratio", "[p3b]") {
  nn::VisionTransformer model(p3b_config(), 4);
  P3bOptions o = schedule(0.3);
  o.allocation = P3bAllocation::Uniform;
  P3bPruner p(model, 3, o);
  drive(model, p, 10);
  REQUIRE(!p.updates().empty());
  const auto& g = p.updates().back().goal_keep_ratio;
  for (double v : g) CHECK(v == Approx(g[0]));
  CHECK(g[0] < 1.0);
  CHECK(p.updates().back().importance.empty());
}

TEST_CASE("p3b: with reactivation off a branch never grows", "[p3b]") {
  nn::VisionTransformer model(p3b_config(), 5);
  P3bOptions o = schedule(0.5);
  o.reactivation = false;
  o.finalize = 16;
  o.sparse = 4;
  P3bPruner p(model, 3, o);
  drive(model, p, 16);
  REQUIRE(p.updates().size() >= 4);
  for (size_t k = 1; k < p.updates().size(); ++k)
    for (size_t j = 0; j < 4; ++j) CHECK(p.updates()[k].kept_params[j] <= p.updates()[k - 1].kept_params[j]);
  CHECK(p.total_reactivated() == 0);
}

TEST_CASE("p3b: bad options and models are refused with clear errors", "[p3b]") {
  P3bOptions o = schedule(1.0);
  CHECK_THAT(error_of([&] { o.validate(); }), Catch::Contains("prune ratio 1"));
  o = schedule(0.5);
  o.finalize = 2;
  CHECK_THAT(error_of([&] { o.validate(); }), Catch::Contains("finalize iteration"));
  o = schedule(0.5);
  o.update_interval = 0;
  CHECK_THAT(error_of([&] { o.validate(); }), Catch::Contains("update interval"));
  CHECK_THAT(error_of([] { parse_p3b_allocation("even"); }), Catch::Contains("unknown keep-ratio allocation 'even'"));

  nn::ModelConfig v = nn::videomae_small_patch4_32(3);
  v.blocks = nn::uniform_blocks(1, 2, 4, 16);
  v.dim = 8;
  nn::VisionTransformer video(v, 1);
  CHECK_THAT(error_of([&] { P3bPruner p(video, 3, schedule(0.5)); }), Catch::Contains("cls token"));

  nn::VisionTransformer model(p3b_config(), 6);
  CHECK_THAT(error_of([&] { P3bPruner p(model, 0, schedule(0.5)); }), Catch::Contains("number of classes"));
  TokenPruningConfig tp;
  tp.policy = parse_token_policy("evit");
  tp.keep_rate = 0.7;
  install_token_pruning(model, tp);
  CHECK_THAT(error_of([&] { P3bPruner p(model, 3, schedule(0.5)); }), Catch::Contains("token pruning"));
}
