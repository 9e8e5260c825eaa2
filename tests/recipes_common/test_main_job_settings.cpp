// recipes/common/main_job_settings: the --scale presets of shears_main (quick/default, an unknown scale
// refused), the checks run before training (errors name the program and the flag, in a fixed order),
// the model config, the run config compared on --resume, the pruning rows' fine-tune and the
// effective-config line.
#include <catch2/catch.hpp>

#include <string>

#include "common/main_job_settings.h"
#include "tensor/error.h"

using namespace shears;
using Catch::Contains;

namespace {

// The flags' defaults as shears_main reads them (cxxopts default values), at --scale quick.
recipes::MainJobSettings quick() {
  recipes::MainJobSettings c;
  c.scale = "quick";
  recipes::apply_main_job_scale(c, "prog");
  c.base_lr = 5e-3, c.mixup = 0.8, c.cutmix = 1.0, c.mix_prob = 0, c.erase = 0;
  c.token_policies = {"evit", "renyi:2"};
  c.gardener_ks = {1, 2};
  c.stack_row = recipes::kMainStackRow;
  c.lr = c.base_lr * double(c.batch_size) / 512.0;
  return c;
}

}  // namespace

TEST_CASE("main job presets by scale", "[recipes_common][main_job_settings]") {
  const recipes::MainJobSettings q = quick();
  REQUIRE(q.epochs == 1);
  REQUIRE(q.train_limit == 2048);
  REQUIRE(q.eval_limit == 1000);
  REQUIRE(q.log_every == 4);
  recipes::MainJobSettings d;
  d.scale = "default";
  recipes::apply_main_job_scale(d, "prog");
  REQUIRE(d.epochs == 14);
  REQUIRE(d.train_limit == 0);
  REQUIRE(d.eval_limit == 0);
  REQUIRE(d.log_every == 50);
  recipes::MainJobSettings bad;
  bad.scale = "huge";
  REQUIRE_THROWS_WITH(recipes::apply_main_job_scale(bad, "prog"),
                      Contains("[prog] --scale must be 'quick' or 'default', got 'huge'"));
}

TEST_CASE("main job checks name the flag", "[recipes_common][main_job_settings]") {
  REQUIRE_NOTHROW(recipes::check_main_job_settings(quick(), "prog"));
  auto fails_with = [](auto change, const std::string& what) {
    recipes::MainJobSettings c = quick();
    change(c);
    REQUIRE_THROWS_WITH(recipes::check_main_job_settings(c, "prog"), Contains("[prog] " + what));
  };
  fails_with([](auto& c) { c.resume_override = {"lr"}; }, "--resume-override needs --resume");
  fails_with([](auto& c) { c.save_every = -1; }, "--save-every must be >= 0, got -1");
  fails_with([](auto& c) { c.clip_grad = -1; }, "--clip-grad must be >= 0");
  fails_with([](auto& c) { c.stack_row = "blocks:nope:k=1"; }, "--stack-row: ");
  fails_with([](auto& c) { c.token_keep_rate = 1.5; }, "--token-keep-rate must be in (0, 1], got 1.5");
  fails_with([](auto& c) { c.token_policies = {"evit", "foo"}; }, "--token-policies: ");
  fails_with([](auto& c) { c.patch = 5; }, "--patch must divide the image side 28, got 5");
  fails_with([](auto& c) { c.heads = 0; }, "--heads must be in [1, ");
  fails_with([](auto& c) { c.heads = 3; }, "--dim 128 is not divisible by --heads 3");
  fails_with([](auto& c) { c.stem = 0, c.stem_depth = 2; }, "--stem-depth 2 needs a stem (--stem > 0)");
  fails_with([](auto& c) { c.threads = 100000; }, "--threads");
  fails_with([](auto& c) { c.weight_decay = -0.1; }, "--weight-decay");
  fails_with([](auto& c) { c.smoothing = 1; }, "--smoothing must be in [0, 1), got 1");
  fails_with([](auto& c) { c.gardener_ks = {1, 6}; }, "--gardener-ks: 6 blocks cannot be removed from a model of depth 6");
  fails_with([](auto& c) { c.epochs = 0; }, "--epochs must be >= 1, got 0");
  fails_with([](auto& c) { c.batch_size = 1; }, "--batch-size must be >= 2, got 1");
  fails_with([](auto& c) { c.mix_prob = 2; }, "--mix-prob must be in [0, 1], got 2");
  fails_with([](auto& c) { c.erase = -1; }, "--erase must be in [0, 1], got -1");
  // the checks run in a fixed order: the resume flags before the model sizes
  fails_with([](auto& c) { c.save_every = -1, c.heads = 0; }, "--save-every");
  recipes::MainJobSettings none = quick();
  none.stack_row = "none";
  REQUIRE_NOTHROW(recipes::check_main_job_settings(none, "prog"));
}

TEST_CASE("main job model config, run config and row fine-tune", "[recipes_common][main_job_settings]") {
  recipes::MainJobSettings c = quick();
  const nn::ModelConfig m = recipes::main_job_model_config(c);
  REQUIRE(m.patch_size == 7);
  REQUIRE(m.dim == 128);
  REQUIRE(m.blocks.size() == 6);
  REQUIRE(m.blocks[0].mlp_hidden == 256);
  REQUIRE(m.stem_channels == 16);
  REQUIRE(m.stem_depth == 1);
  REQUIRE(m.num_classes == 10);

  train::RunConfig rc = recipes::main_job_run_config(c, 3);
  REQUIRE(rc.at("threads") == train::config_value(int64_t(3)));
  REQUIRE(rc.at("lr") == train::config_value(5e-3));  // the base lr, before the batch rule
  REQUIRE(rc.at("epochs") == train::config_value(int64_t(1)));
  REQUIRE(rc.at("stem") == train::config_value(int64_t(16)));
  REQUIRE(rc.count("stem-depth") == 0);  // recorded only when set
  REQUIRE(rc.size() == 23);
  c.stem = 0;
  REQUIRE(recipes::main_job_run_config(c, 1).count("stem") == 0);
  c.stem = 8, c.stem_depth = 2;
  REQUIRE(recipes::main_job_run_config(c, 1).at("stem-depth") == train::config_value(int64_t(2)));

  c = quick();
  c.gardener_finetune_epochs = 3;
  const recipes::FinetuneOptions ft = recipes::main_job_row_finetune(c);
  REQUIRE(ft.epochs == 3);
  REQUIRE(ft.lr == c.lr * 0.5);
  REQUIRE(ft.warmup_epochs == 0.1);
  REQUIRE(ft.min_lr == c.min_lr);
  REQUIRE(ft.batch_size == 128);
  REQUIRE(ft.label_smoothing == c.smoothing);
}

TEST_CASE("main job effective config line", "[recipes_common][main_job_settings]") {
  const recipes::MainJobSettings c = quick();
  REQUIRE(recipes::main_job_effective_config(c, 1234567, 0.0123, 1.0, false, 2) ==
          "model patch 7 dim 128 depth 6 heads 4 mlp 256 stem 16 x1 (1.23 M params, 12.3 MFLOPs/img); epochs 1, "
          "batch 128, lr 0.00125 (= 0.005 x 128 / 512), warm-up 1 epochs, min lr 1.0e-05, weight decay 0.05; "
          "label smoothing 0.1, mixup 0.8 / cutmix 1 with prob 0 (switch 0.5), random crop pad 0, flip 0.5, "
          "erasing 0; drop path 0; seed 0, 2 threads");
  recipes::MainJobSettings mixed = c;
  mixed.mix_prob = 0.5;
  REQUIRE_THAT(recipes::main_job_effective_config(mixed, 1234567, 0.0123, 1.0, true, 2), Contains("with prob 0.5 "));
  REQUIRE_THAT(recipes::main_job_effective_config(mixed, 1234567, 0.0123, 1.0, false, 2), Contains("with prob 0 "));
}
