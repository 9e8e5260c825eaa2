// recipes/common/p3b_settings: the --scale presets of shears_p3b (smoke/mini/paper values, the smoke
// source model, an unknown scale refused), --ratios / --methods parsing, the checks before anything is
// loaded (errors name the program and the flag), the study's fine-tunes and the saved models' paths.
#include <catch2/catch.hpp>

#include <vector>

#include "common/p3b_settings.h"
#include "tensor/error.h"

using namespace shears;
using Catch::Contains;

namespace {

recipes::P3bSettings preset(const std::string& scale) {
  recipes::P3bSettings s;
  s.scale = scale;
  recipes::apply_p3b_scale(s, "prog");
  return s;
}

}  // namespace

TEST_CASE("p3b presets by scale", "[recipes_common][p3b_settings]") {
  const recipes::P3bSettings smoke = preset("smoke");
  REQUIRE(smoke.target_images == 512);
  REQUIRE(smoke.eval_limit == 256);
  REQUIRE(smoke.prune_epochs == 2);
  REQUIRE(smoke.finetune_epochs == 1);
  REQUIRE(smoke.batch == 64);
  REQUIRE(smoke.update_interval == 2);
  REQUIRE(smoke.throughput_batch == 64);
  REQUIRE(smoke.throughput_time == 0.05);
  REQUIRE(smoke.p3b.heads.patch_width == 8);
  REQUIRE(smoke.base.dim == 32);
  REQUIRE(smoke.base.depth == 2);
  REQUIRE(smoke.base.patch == 7);
  REQUIRE(smoke.base.epochs == 2);
  REQUIRE(smoke.base.lr == 3e-3);

  const recipes::P3bSettings mini = preset("mini");
  REQUIRE(mini.target_images == 5000);
  REQUIRE(mini.eval_limit == 0);
  REQUIRE(mini.prune_epochs == 2);
  REQUIRE(mini.finetune_epochs == 2);
  REQUIRE(mini.batch == 128);
  REQUIRE(mini.update_interval == 5);
  REQUIRE(mini.drop_path == 0.0);
  REQUIRE(mini.throughput_batch == 256);
  REQUIRE(mini.throughput_time == 0.3);
  REQUIRE(mini.p3b.heads.patch_width == 16);
  REQUIRE(mini.base.dim == 96);  // P3bBaseSpec's own defaults, 5 epochs
  REQUIRE(mini.base.depth == 8);
  REQUIRE(mini.base.epochs == 5);

  const recipes::P3bSettings paper = preset("paper");
  REQUIRE(paper.target_images == 0);
  REQUIRE(paper.prune_epochs == 50);
  REQUIRE(paper.finetune_epochs == 100);
  REQUIRE(paper.update_interval == 100);
  REQUIRE(paper.drop_path == 0.1);
  REQUIRE(paper.throughput_batch == 64);
  REQUIRE(paper.p3b.heads.patch_width == 0);
  REQUIRE(paper.seeds == 1);

  const nn::ModelConfig c = smoke.base.config(5);
  REQUIRE(c.num_classes == 5);
  REQUIRE(c.patch_size == 7);
  REQUIRE(c.dim == 32);
  REQUIRE(c.blocks.size() == 2);
  REQUIRE(c.blocks[0].mlp_hidden == 64);

  REQUIRE_THROWS_WITH(preset("huge"), Contains("[prog] --scale must be 'smoke', 'mini' or 'paper', got 'huge'"));
}

TEST_CASE("p3b flags: --ratios and --methods", "[recipes_common][p3b_settings]") {
  REQUIRE(recipes::parse_p3b_ratios("0.5, 0.7,,0.75", "prog") == std::vector<double>{0.5, 0.7, 0.75});
  REQUIRE_THROWS_WITH(recipes::parse_p3b_ratios("0.5,1", "prog"),
                      Contains("[prog] --ratios: '1' is not a pruning ratio in (0, 1)"));
  REQUIRE_THROWS_WITH(recipes::parse_p3b_ratios("abc", "prog"), Contains("'abc' is not a pruning ratio"));
  REQUIRE_THROWS_WITH(recipes::parse_p3b_ratios("nan", "prog"), Contains("'nan' is not a pruning ratio"));
  REQUIRE_THROWS_WITH(recipes::parse_p3b_ratios("", "prog"), Contains("[prog] --ratios is empty"));

  REQUIRE(recipes::parse_p3b_methods("p3b, no-react", "prog") == std::vector<std::string>{"p3b", "no-react"});
  REQUIRE_THROWS_WITH(recipes::parse_p3b_methods("p3b,dense", "prog"),
                      Contains("[prog] --methods: unknown method 'dense'; known: p3b, uniform, no-react"));
  REQUIRE_THROWS_WITH(recipes::parse_p3b_methods(",", "prog"), Contains("[prog] --methods is empty"));
}

TEST_CASE("p3b checks name the flag", "[recipes_common][p3b_settings]") {
  recipes::P3bSettings ok = preset("smoke");
  ok.source_classes = {0, 1, 2, 3, 4};
  ok.target_classes = {5, 6, 7, 8, 9};
  REQUIRE_NOTHROW(recipes::check_p3b_settings(ok, "prog"));
  auto fails_with = [&](auto change, const std::string& what) {
    recipes::P3bSettings s = ok;
    change(s);
    REQUIRE_THROWS_WITH(recipes::check_p3b_settings(s, "prog"), Contains(what));
  };
  fails_with([](auto& s) { s.batch = 0; }, "[prog] --batch must be in [1, ");
  fails_with([](auto& s) { s.seeds = 1001; }, "[prog] --seeds must be in [1, 1000]");
  fails_with([](auto& s) { s.p3b.heads.patch_width = -1; }, "[prog] --patch-width must be >= 0 (0 = model width)");
  fails_with([](auto& s) { s.p3b.heads.patch_layers = 17; }, "[prog] --patch-layers must be in [1, 16]");
  fails_with([](auto& s) { s.p3b.keep.gamma = 0; }, "EMA gamma 0 is not in (0, 1]");  // the P3B options' own check
  fails_with([](auto& s) { s.checkpoint = "x.safetensors"; },
             "[prog] --checkpoint, --train-dir and --val-dir belong to --scale paper");
  fails_with([](auto& s) { s.target_classes = {4, 5}; },
             "[prog] class 4 is in both --source-classes and --target-classes");
  recipes::P3bSettings paper = preset("paper");
  REQUIRE_THROWS_WITH(recipes::check_p3b_settings(paper, "prog"), Contains("[prog] --scale paper needs --checkpoint"));
  paper.checkpoint = "deit.safetensors";
  REQUIRE_THROWS_WITH(recipes::check_p3b_settings(paper, "prog"),
                      Contains("[prog] --scale paper needs --train-dir and --val-dir"));
  paper.train_dir = "train", paper.val_dir = "val";
  REQUIRE_NOTHROW(recipes::check_p3b_settings(paper, "prog"));
}

TEST_CASE("p3b fine-tunes and model paths", "[recipes_common][p3b_settings]") {
  recipes::P3bSettings s = preset("mini");
  s.min_lr = 1e-5;
  const recipes::FinetuneOptions ft = recipes::p3b_finetune_options(s, 7, 3, 2e-4);
  REQUIRE(ft.epochs == 3);
  REQUIRE(ft.batch_size == 128);
  REQUIRE(ft.lr == 2e-4);
  REQUIRE(ft.warmup_epochs == 0);
  REQUIRE(ft.warmup_lr == 2e-4);
  REQUIRE(ft.min_lr == 1e-5);
  REQUIRE(ft.seed == 7);
  REQUIRE(recipes::p3b_finetune_options(s, 0, 1, 1e-6).min_lr == 1e-6);  // never above the peak

  REQUIRE(recipes::p3b_model_path("runs/p3b", "dense", 0, 0) == "runs/p3b/models/dense_seed0.safetensors");
  REQUIRE(recipes::p3b_model_path("runs/p3b", "no-react", 0.75, 3) == "runs/p3b/models/no-react_pr75_seed3.safetensors");
}
