// Transforms: the step grammar (canonical names round-trip, every error names the step and what
// was expected), block removal equal to block_ranking + drop_blocks, MLP neuron and head pruning
// keeping the top-scoring units, the surgery callback, token pruning hooks that follow their
// blocks through surgery, per-policy default fusion, and the composition test (issue 10,
// acceptance 2): drop blocks, prune MLP neurons and token pruning in all 6 orders give the FLOPs
// of a hand count and reload bit-identically from the file alone.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "nn/flop_count.h"
#include "pruning/block_ranking.h"
#include "pruning/block_stats.h"
#include "pruning/block_weights.h"
#include "pruning/provenance.h"
#include "pruning/surgery.h"
#include "pruning/transform.h"
#include "tensor/kernels.h"
#include "test_util.h"

using namespace shears;
using namespace shears::pruning;

namespace {

// patch 4 on 28x28: 49 patches + CLS = 50 tokens
nn::ModelConfig small_config(int64_t depth = 4) {
  nn::ModelConfig c = nn::vit_tiny_patch4_28(10);
  c.dim = 32;
  c.blocks = nn::uniform_blocks(depth, 2, 16, 64);
  return c;
}

Tensor images(int64_t B, uint64_t seed) { return test::random_tensor({B, 1, 28, 28}, DType::F32, seed, 0.0, 1.0); }

std::vector<float> logits(nn::VisionTransformer& model, const Tensor& x) {
  NoGradGuard no_grad;
  model.eval();
  return model.forward(x).to_vector<float>();
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("shears_transform_" + std::to_string(::getpid()) + "_" + name + ".safetensors"))
      .string();
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

TEST_CASE("parse_steps reads the grammar and names round-trip", "[pruning][transform]") {
  const auto steps = parse_steps(
      "blocks:entropy:k=2, blocks:random:7:k=1,mlp:magnitude:keep=0.5,heads:random:3:keep=1,"
      "tokens:renyi:2@0.7,tokens:evit@0.5:locations=1;3:fuse=0:seed=4");
  REQUIRE(steps.size() == 6);
  const std::vector<std::string> names = {"blocks:entropy:k=2",     "blocks:random:7:k=1",
                                          "mlp:magnitude:keep=0.5", "heads:random:3:keep=1",
                                          "tokens:renyi:2@0.7",     "tokens:evit@0.5:locations=1;3:fuse=0:seed=4"};
  for (size_t i = 0; i < steps.size(); ++i) {
    CHECK(steps[i]->name() == names[i]);
    CHECK(parse_step(steps[i]->name())->name() == names[i]);
  }
  auto tokens = std::dynamic_pointer_cast<TokenPruningTransform>(steps[5]);
  REQUIRE(tokens);
  CHECK(tokens->config().locations == std::vector<int64_t>{1, 3});
  CHECK(tokens->config().fuse == std::optional<bool>(false));
  CHECK(tokens->config().seed == 4);
  CHECK(!std::dynamic_pointer_cast<TokenPruningTransform>(steps[4])->config().fuse.has_value());
  CHECK(format_number(0.7) == "0.7");
  CHECK(format_number(1.0 / 3.0) == "0.3333333333333333");
  CHECK(std::strtod(format_number(0.1 + 0.2).c_str(), nullptr) == 0.1 + 0.2);
}

TEST_CASE("bad step strings are refused naming the step and what was expected", "[pruning][transform]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"blocks:entropy:k=2,blocks:foo:k=2", "step 2 'blocks:foo:k=2': unknown block criterion 'foo'; known: "},
      {"blocks:entropy", "step 1 'blocks:entropy': expected blocks:<criterion>:k=<n>"},
      {"blocks:entropy:k=x", "step 1 'blocks:entropy:k=x': expected an integer for k, got 'x'"},
      {"blocks:entropy:k=-1", "step 1 'blocks:entropy:k=-1': k must be >= 0"},
      {"blocks::k=1", "step 1 'blocks::k=1': missing criterion"},
      {"blocks:l1:3:k=1", "step 1 'blocks:l1:3:k=1': block criterion 'l1' takes no argument"},
      {"mlp:magnitude:keep=1.5", "step 1 'mlp:magnitude:keep=1.5': the keep ratio must be in (0, 1]"},
      {"mlp:entropy:keep=0.5", "step 1 'mlp:entropy:keep=0.5': unknown neuron criterion 'entropy'; known: "},
      {"heads:magnitude:keep=0", "step 1 'heads:magnitude:keep=0': the heads kept must be >= 1"},
      {"tokens:evit", "step 1 'tokens:evit': missing '@<keep rate>'"},
      {"tokens:foo@0.5", "step 1 'tokens:foo@0.5': unknown token policy 'foo'"},
      {"tokens:evit@0", "step 1 'tokens:evit@0': the keep rate must be in (0, 1]"},
      {"tokens:evit@0.5:fuse=2", "step 1 'tokens:evit@0.5:fuse=2': fuse must be 0 or 1"},
      {"tokens:evit@0.5:where=1", "step 1 'tokens:evit@0.5:where=1': unknown option 'where'"},
      {"tokens:evit@0.5:locations=1;x", "step 1 'tokens:evit@0.5:locations=1;x': expected an integer for a location"},
      {"blocks:l1:k=1,,tokens:evit@0.5", "step 2 '': empty step"},
      {"prune:everything", "step 1 'prune:everything': unknown step kind 'prune'; expected blocks:"},
  };
  for (const auto& [text, want] : cases) {
    INFO(text);
    const std::string got = error_of([&] { parse_steps(text); });
    CHECK_THAT(got, Catch::StartsWith("[steps] " + want));
  }
  CHECK_THAT(error_of([] { parse_steps(" "); }), Catch::Contains("no steps given"));
}

TEST_CASE("block removal through the transform equals block_ranking + drop_blocks", "[pruning][transform]") {
  for (const std::string crit : {"entropy", "kurtosis", "l2", "random:3"}) {
    INFO(crit);
    nn::VisionTransformer a(small_config(5), 2), b(small_config(5), 2);
    std::vector<int64_t> order = crit == "random:3"
                                     ? random_removal_order(5, 3)
                                     : removal_order(block_statistics(block_weights(b)), parse_criterion(crit));
    const std::vector<int64_t> removed = blocks_to_remove(order, 2);
    drop_blocks(b, removed);
    PruneContext ctx;
    std::vector<nn::ParameterSlice> seen;
    ctx.on_surgery = [&](nn::VisionTransformer&, const std::vector<nn::ParameterSlice>& s) {
      seen.insert(seen.end(), s.begin(), s.end());
    };
    const auto steps = apply_all(a, parse_steps("blocks:" + crit + ":k=2"), ctx);
    CHECK(a.config().to_json() == b.config().to_json());
    Tensor x = images(2, 5);
    CHECK(logits(a, x) == logits(b, x));
    CHECK(!seen.empty());
    CHECK(std::any_of(seen.begin(), seen.end(), [](const nn::ParameterSlice& s) { return s.new_name.empty(); }));
    REQUIRE(steps.size() == 1);
    CHECK(steps[0].kept.at("blocks") == kept_blocks(5, removed));
  }
}

TEST_CASE("MLP neuron pruning keeps the top-scoring neurons of every block", "[pruning][transform]") {
  nn::VisionTransformer model(small_config(3), 6);
  PruneContext ctx;
  const auto scores = make_neuron_criterion("magnitude")->scores(model, ctx);
  const Tensor w1 = kernels::contiguous(model.blocks->items[1]->mlp->fc1->weight);
  const auto steps = apply_all(model, parse_steps("mlp:magnitude:keep=0.3"), ctx);
  const int64_t kept_n = std::llround(0.3 * 64);  // 19
  REQUIRE(steps.size() == 1);
  for (int64_t b = 0; b < 3; ++b) {
    CHECK(model.blocks->items[size_t(b)]->mlp->hidden() == kept_n);
    const auto& kept = steps[0].kept.at("blocks." + std::to_string(b) + ".mlp");
    REQUIRE(int64_t(kept.size()) == kept_n);
    CHECK(std::is_sorted(kept.begin(), kept.end()));
    // every kept neuron scores at least as high as every pruned one
    double min_kept = 1e300, max_pruned = -1e300;
    for (int64_t j = 0; j < 64; ++j) {
      const double s = scores[size_t(b)][size_t(j)];
      if (std::find(kept.begin(), kept.end(), j) != kept.end())
        min_kept = std::min(min_kept, s);
      else
        max_pruned = std::max(max_pruned, s);
    }
    CHECK(min_kept >= max_pruned);
  }
  // the kept rows are the original rows
  const auto& kept1 = steps[0].kept.at("blocks.1.mlp");
  const std::vector<float> before = w1.to_vector<float>(),
                           after = kernels::contiguous(model.blocks->items[1]->mlp->fc1->weight).to_vector<float>();
  for (size_t r = 0; r < kept1.size(); ++r)
    for (int64_t k = 0; k < 32; ++k) CHECK(after[r * 32 + size_t(k)] == before[size_t(kept1[r] * 32 + k)]);
  // per-block widths
  nn::VisionTransformer m2(small_config(3), 6);
  MlpNeuronPruning widths(make_neuron_criterion("magnitude"), std::vector<int64_t>{64, 8, 1});
  widths.apply(m2, ctx);
  CHECK(m2.config().blocks[0].mlp_hidden == 64);
  CHECK(m2.config().blocks[1].mlp_hidden == 8);
  CHECK(m2.config().blocks[2].mlp_hidden == 1);
  CHECK_THROWS_WITH(MlpNeuronPruning(make_neuron_criterion("magnitude"), std::vector<int64_t>{8, 8}).apply(m2, ctx),
                    Catch::Contains("2 widths for a model of depth 3"));
  CHECK_THROWS_WITH(MlpNeuronPruning(make_neuron_criterion("magnitude"), std::vector<int64_t>{8, 9, 1}).apply(m2, ctx),
                    Catch::Contains("cannot keep 9"));
}

TEST_CASE("head pruning keeps the top-scoring heads", "[pruning][transform]") {
  nn::VisionTransformer model(small_config(2), 8);
  PruneContext ctx;
  const auto scores = make_head_criterion("magnitude")->scores(model, ctx);
  const auto steps = apply_all(model, parse_steps("heads:magnitude:keep=1"), ctx);
  for (int64_t b = 0; b < 2; ++b) {
    CHECK(model.blocks->items[size_t(b)]->attn->heads == 1);
    const int64_t best = scores[size_t(b)][0] >= scores[size_t(b)][1] ? 0 : 1;
    CHECK(steps[0].kept.at("blocks." + std::to_string(b) + ".attn.heads") == std::vector<int64_t>{best});
  }
  CHECK(logits(model, images(1, 2)).size() == 10);
}

TEST_CASE("token pruning hooks follow their blocks through block surgery", "[pruning][transform][token_pruning]") {
  for (const std::string policy : {"evit", "renyi:2", "random"}) {
    INFO(policy);
    nn::VisionTransformer model(small_config(5), 3);
    TokenPruningConfig cfg;
    cfg.policy = parse_token_policy(policy);
    cfg.keep_rate = 0.6;
    cfg.locations = {1, 3, 4};
    cfg.seed = 2;
    auto tp = install_token_pruning(model, cfg);
    Tensor x = images(2, 7);
    logits(model, x);
    CHECK(tp->locations() == std::vector<int64_t>{1, 3, 4});

    drop_blocks(model, {0, 3});  // block 3 carried a hook; blocks 1 and 4 are now 0 and 2
    CHECK(tp->locations() == std::vector<int64_t>{0, 2});
    CHECK_THROWS_WITH(tp->last_token_counts(), Catch::Contains("run a forward"));
    tp->set_step(0);
    const std::vector<float> got = logits(model, x);
    const nn::ModelConfig now = model.config();
    const nn::TokenCounts counts = tp->last_token_counts();
    CHECK(counts == nn::keep_rate_token_counts(now, 0.6, {0, 2}, tp->fuse()));
    CHECK(nn::count_flops(now, counts).total < nn::count_flops(now).total);
    CHECK(tp->config().locations == std::vector<int64_t>{0, 2});

    // the same as pruning a model that never had the hooks moved: drop first, then install
    nn::VisionTransformer fresh(small_config(5), 3);
    drop_blocks(fresh, {0, 3});
    cfg.locations = {0, 2};
    install_token_pruning(fresh, cfg);
    CHECK(logits(fresh, x) == got);
  }
}

TEST_CASE("default fusion per policy: on for EViT, off for entropy and random", "[pruning][transform][token_pruning]") {
  CHECK(default_fuse(parse_token_policy("evit")));
  for (const std::string p : {"shannon", "renyi:2", "renyi:inf", "random"})
    CHECK_FALSE(default_fuse(parse_token_policy(p)));
  const nn::ModelConfig cfg = small_config(4);
  for (const std::string p : {"evit", "renyi:2", "random"}) {
    nn::VisionTransformer model(cfg, 1);
    TokenPruningConfig tc;
    tc.policy = parse_token_policy(p);
    tc.keep_rate = 0.5;
    auto tp = install_token_pruning(model, tc);
    CHECK(tp->fuse() == (p == "evit"));
    logits(model, images(1, 3));
    CHECK(tp->last_token_counts() == nn::keep_rate_token_counts(cfg, 0.5, {1, 2, 3}, p == "evit"));
    tc.fuse = p != "evit";  // an explicit choice wins
    remove_token_pruning(model);
    CHECK(install_token_pruning(model, tc)->fuse() == (p != "evit"));
  }
  // a custom policy has no default
  nn::VisionTransformer model(cfg, 1);
  TokenPruningConfig tc;
  tc.custom_policy = make_evit_policy();
  CHECK_THROWS_WITH(install_token_pruning(model, tc), Catch::Contains("set TokenPruningConfig::fuse"));
}

TEST_CASE("token pruning is a model extension, installing twice is an error", "[pruning][transform][token_pruning]") {
  nn::VisionTransformer model(small_config(4), 1);
  PruneContext ctx;
  apply_all(model, parse_steps("tokens:evit@0.7"), ctx);
  REQUIRE(model.extensions.size() == 1);
  CHECK(model.extensions[0]->kind() == "token_pruning");
  CHECK(find_token_pruning(model) != nullptr);
  CHECK_THROWS_WITH(
      apply_all(model, parse_steps("tokens:renyi:2@0.5:locations=0"), ctx),
      Catch::Contains("step 1 'tokens:renyi:2@0.5:locations=0'") && Catch::Contains("already has token pruning"));
  CHECK(model.prune_log.size() == 1);
  CHECK(model.prune_log[0].kind == "token_pruning");
  remove_token_pruning(model);
  CHECK(model.extensions.empty());
  CHECK(find_token_pruning(model) == nullptr);
  // custom policies cannot be saved: a clear error at save time
  TokenPruningConfig tc;
  tc.custom_policy = make_evit_policy();
  tc.fuse = true;
  install_token_pruning(model, tc);
  const std::string path = temp_path("custom");
  CHECK_THROWS_WITH(nn::save_model(path, model), Catch::Contains(path) && Catch::Contains("custom policy 'evit'") &&
                                                     Catch::Contains("cannot be saved"));
  CHECK(!std::filesystem::exists(path));
}

namespace {

// Tokens after each block by the EViT rule, by hand: a pruning block with N tokens keeps
// 1 + ceil(rho (N - 1)) (+1 fused) when that is fewer than N.
nn::TokenCounts hand_token_counts(int64_t depth, int64_t tokens, double rho, const std::vector<int64_t>& locations,
                                  bool fuse) {
  nn::TokenCounts out;
  int64_t n = tokens;
  for (int64_t b = 0; b < depth; ++b) {
    int64_t out_n = n;
    if (std::find(locations.begin(), locations.end(), b) != locations.end()) {
      const int64_t left = int64_t(std::ceil(rho * double(n - 1)));
      if (left < n - 1) out_n = 1 + left + (fuse ? 1 : 0);
    }
    out.emplace_back(n, out_n);
    n = out_n;
  }
  return out;
}

// fvcore-convention multiply-adds from the model's actual parameter shapes (nn/flop_count.h).
double hand_flops(const nn::VisionTransformer& model, const nn::TokenCounts& counts) {
  const double dim = double(model.patch_embed->dim);
  const double patches = 49, pixels = 16;
  double total = patches * dim * pixels;
  for (size_t b = 0; b < model.blocks->size(); ++b) {
    const nn::Block& block = *model.blocks->items[b];
    const double nin = double(counts[b].first), nout = double(counts[b].second);
    const double aw = double(block.attn->qkv->weight.size(0)) / 3.0;
    const double hidden = double(block.mlp->fc1->weight.size(0));
    REQUIRE(block.attn->proj->weight.size(1) == int64_t(aw));
    REQUIRE(block.mlp->fc2->weight.size(1) == int64_t(hidden));
    total += 5 * nin * dim + nin * dim * 3 * aw + 2 * nin * nin * aw + nin * aw * dim;
    total += 5 * nout * dim + 2 * nout * dim * hidden;
  }
  total += 5 * double(counts.back().second) * dim;  // final norm over the tokens it sees
  total += dim * double(model.head->weight.size(0));
  return total;
}

}  // namespace

TEST_CASE("composition: drop blocks, prune MLP neurons and token pruning in all 6 orders",
          "[pruning][transform][composition]") {
  const std::vector<std::string> pieces = {"blocks:l1:k=1", "mlp:magnitude:keep=0.5", "tokens:evit@0.7"};
  std::vector<int> perm = {0, 1, 2};
  Tensor x = images(3, 21);
  int orders = 0;
  do {
    std::string text;
    for (int i : perm) text += (text.empty() ? "" : ",") + pieces[size_t(i)];
    INFO(text);
    nn::VisionTransformer model(small_config(4), 17);
    PruneContext ctx;
    const auto steps = apply_all(model, parse_steps(text), ctx);
    REQUIRE(steps.size() == 3);
    REQUIRE(model.prune_log.size() == 3);

    // shapes: 3 blocks of MLP width 32
    const nn::ModelConfig cfg = model.config();
    REQUIRE(cfg.depth() == 3);
    for (const auto& b : cfg.blocks) CHECK(b.mlp_hidden == 32);

    auto tp = find_token_pruning(model);
    REQUIRE(tp);
    const std::vector<int64_t> locations = tp->locations();
    CHECK(!locations.empty());
    const std::vector<float> before = logits(model, x);
    const nn::TokenCounts counts = tp->last_token_counts();
    CHECK(counts == hand_token_counts(3, 50, 0.7, locations, true));
    const double flops = nn::count_flops(cfg, counts).total;
    CHECK(flops == hand_flops(model, counts));

    // save + reload from the file alone: same shapes, token pruning, log and bit-identical logits
    const std::string path = temp_path("composition");
    nn::save_model(path, model);
    CHECK_THROWS_WITH(nn::load_model(path), Catch::Contains("pruning::load_model"));
    auto loaded = pruning::load_model(path);
    std::filesystem::remove(path);
    CHECK(loaded->config().to_json() == cfg.to_json());
    REQUIRE(loaded->prune_log.size() == 3);
    for (size_t i = 0; i < 3; ++i) CHECK(loaded->prune_log[i] == model.prune_log[i]);
    auto tp2 = find_token_pruning(*loaded);
    REQUIRE(tp2);
    CHECK(tp2->locations() == locations);
    CHECK(logits(*loaded, x) == before);
    CHECK(tp2->last_token_counts() == counts);
    ++orders;
  } while (std::next_permutation(perm.begin(), perm.end()));
  CHECK(orders == 6);
}

TEST_CASE("apply_all calls after_step once per step, after the step is logged", "[pruning][transform]") {
  nn::VisionTransformer model(small_config(4), 1);
  PruneContext ctx;
  std::vector<std::string> seen;
  ctx.after_step = [&](nn::VisionTransformer& m, const nn::PruneStep& step, size_t i) {
    CHECK(m.prune_log.size() == i + 1);
    CHECK(m.prune_log.back() == step);
    seen.push_back(std::to_string(i) + " " + step.kind + " depth " + std::to_string(m.config().depth()));
  };
  apply_all(model, parse_steps("blocks:l1:k=1,mlp:magnitude:keep=0.5,tokens:evit@0.7"), ctx);
  CHECK(seen == std::vector<std::string>{"0 drop_blocks depth 3", "1 prune_mlp depth 3", "2 token_pruning depth 3"});
  // an exception from the callback stops apply_all (the step that triggered it stays applied and logged)
  nn::VisionTransformer other(small_config(4), 1);
  ctx.after_step = [](nn::VisionTransformer&, const nn::PruneStep&, size_t) { throw Error("stop here"); };
  CHECK_THROWS_WITH(apply_all(other, parse_steps("blocks:l1:k=1,blocks:l1:k=1"), ctx), Catch::Contains("stop here"));
  CHECK(other.config().depth() == 3);
  CHECK(other.prune_log.size() == 1);
}
