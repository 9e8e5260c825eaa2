// recipes/common/amp_settings: the --scale presets of shears_amp (smoke/mini/paper values with the
// distillation schedule, an unknown scale refused), --deltas parsing, the checks of the flags' values
// (errors name the program and the flag) and the study-base options they select.
#include <catch2/catch.hpp>

#include <vector>

#include "common/amp_settings.h"
#include "tensor/error.h"

using namespace shears;
using Catch::Contains;

namespace {

recipes::AmpSettings preset(const std::string& scale) {
  recipes::AmpSettings s;
  s.scale = scale;
  recipes::apply_amp_scale(s, "prog");
  return s;
}

}  // namespace

TEST_CASE("amp presets by scale", "[recipes_common][amp_settings]") {
  const recipes::AmpSettings smoke = preset("smoke");
  REQUIRE(smoke.score_images == 256);
  REQUIRE(smoke.score_batch == 64);
  REQUIRE(smoke.val_images == 256);
  REQUIRE(smoke.val_batch == 64);
  REQUIRE(smoke.eval_limit == 500);
  REQUIRE(smoke.distill_images == 512);
  REQUIRE(smoke.distill.epochs == 1);
  REQUIRE(smoke.distill.batch_size == 32);
  REQUIRE(smoke.distill.lr == 5e-4);
  REQUIRE(smoke.distill.warmup_epochs == 0.1);
  REQUIRE(smoke.distill.min_lr == 1e-6);
  REQUIRE(smoke.throughput_batch == 64);
  REQUIRE(smoke.throughput_time == 0.05);
  REQUIRE(smoke.checkpoint.empty());

  const recipes::AmpSettings mini = preset("mini");
  REQUIRE(mini.checkpoint == "runs/main/vit_fmnist.safetensors");
  REQUIRE(mini.score_images == 5120);
  REQUIRE(mini.val_images == 2048);
  REQUIRE(mini.distill_images == 0);
  REQUIRE(mini.distill.epochs == 2);
  REQUIRE(mini.distill.lr == 2e-4);
  REQUIRE(mini.distill.batch_size == 64);
  REQUIRE(mini.throughput_batch == 256);
  REQUIRE(mini.throughput_time == 0.3);

  const recipes::AmpSettings paper = preset("paper");
  REQUIRE(paper.score_images == 10240);
  REQUIRE(paper.val_images == 5120);
  REQUIRE(paper.distill.epochs == 5);
  REQUIRE(paper.distill.warmup_epochs == 1);
  REQUIRE(paper.distill.lr == 2e-5);
  REQUIRE(paper.distill.min_lr == 1e-7);
  REQUIRE(paper.throughput_time == 1.5);

  REQUIRE_THROWS_WITH(preset("huge"), Contains("[prog] --scale must be 'smoke', 'mini' or 'paper', got 'huge'"));
}

TEST_CASE("amp flags: --deltas", "[recipes_common][amp_settings]") {
  REQUIRE(recipes::parse_amp_deltas("1e-3, 3e-3,,1e-2", "prog") == std::vector<double>{1e-3, 3e-3, 1e-2});
  REQUIRE_THROWS_WITH(recipes::parse_amp_deltas("1e-3,abc", "prog"),
                      Contains("[prog] --deltas: 'abc' is not an entropy threshold > 0"));
  REQUIRE_THROWS_WITH(recipes::parse_amp_deltas("-0.01", "prog"), Contains("'-0.01' is not an entropy threshold > 0"));
  REQUIRE_THROWS_WITH(recipes::parse_amp_deltas("inf", "prog"), Contains("'inf' is not an entropy threshold"));
  REQUIRE_THROWS_WITH(recipes::parse_amp_deltas(" ", "prog"), Contains("[prog] --deltas is empty"));
}

TEST_CASE("amp checks name the flag", "[recipes_common][amp_settings]") {
  const recipes::AmpSettings ok = preset("smoke");
  REQUIRE_NOTHROW(recipes::check_amp_settings(ok, "prog"));
  auto fails_with = [&](auto change, const std::string& what) {
    recipes::AmpSettings s = ok;
    change(s);
    REQUIRE_THROWS_WITH(recipes::check_amp_settings(s, "prog"), Contains("[prog] " + what));
  };
  fails_with([](auto& s) { s.temp_inv = 0; }, "--tau-inv must be > 0, got 0");
  fails_with([](auto& s) { s.search_steps = 21; }, "--search-steps must be in [1, 20], got 21");
  fails_with([](auto& s) { s.random_seeds = 0; }, "--random-seeds must be >= 1, got 0");
  fails_with([](auto& s) { s.distill.epochs = -1; }, "--distill-epochs must be >= 0, got -1");
  fails_with([](auto& s) { s.distill_images = -1; }, "--distill-images must be >= 0, got -1");
  fails_with([](auto& s) { s.distill.lr = 0; }, "--distill-lr must be > 0, got 0");
  fails_with([](auto& s) { s.distill.batch_size = 1; }, "--distill-batch must be >= 2, got 1");
  fails_with([](auto& s) { s.distill.warmup_epochs = -1; }, "--distill-warmup must be >= 0");
  fails_with([](auto& s) { s.distill_loss.feature_weight = 0, s.distill_loss.output_weight = 0; },
             "--feature-weight and --output-weight must be >= 0 and not both 0");
  fails_with([](auto& s) { s.throughput_batch = 0; }, "--throughput-batch must be >= 1 and --throughput-time >= 0");
  fails_with([](auto& s) { s.threads = 100000; }, "--threads");
  fails_with([](auto& s) { s.distill.weight_decay = -1; }, "--weight-decay");
  // in a fixed order: --tau-inv before --search-steps
  fails_with([](auto& s) { s.temp_inv = -1, s.search_steps = 0; }, "--tau-inv");
}

TEST_CASE("amp study-base options", "[recipes_common][amp_settings]") {
  recipes::AmpSettings s = preset("smoke");
  s.out = "out", s.data_dir = "fmnist", s.heads = 6, s.seed = 9, s.retrain_base = true;
  const recipes::StudyBaseOptions o = recipes::amp_study_base_options(s);
  REQUIRE(o.scale == "smoke");
  REQUIRE(o.out == "out");
  REQUIRE(o.data_dir == "fmnist");
  REQUIRE(o.heads == 6);
  REQUIRE(o.eval_limit == 500);
  REQUIRE(o.score_images == 256);
  REQUIRE(o.score_batch == 64);
  REQUIRE(o.val_images == 256);
  REQUIRE(o.val_batch == 64);
  REQUIRE(o.throughput_batch == 64);
  REQUIRE(o.retrain_base);
  REQUIRE(o.seed == 9);
}
