// recipes/common/token_pruning_settings: the --scale presets of shears_token_pruning (smoke/mini/paper
// values, an unknown scale refused), --policies / --keep-rates / --fuse parsing with errors naming the
// program and the flag, the per-policy fusion of --fuse auto and the paper's DeiT mixing.
#include <catch2/catch.hpp>

#include <vector>

#include "common/token_pruning_settings.h"
#include "tensor/error.h"

using namespace shears;
using Catch::Contains;

TEST_CASE("token pruning presets by scale", "[recipes_common][token_pruning_settings]") {
  const recipes::TokenPruningPreset smoke = recipes::token_pruning_preset("smoke", "prog");
  REQUIRE(smoke.settings.scale == "smoke");
  REQUIRE(smoke.policies == "evit,shannon,renyi:2");
  REQUIRE(smoke.keep_rates == "0.7,0.5");
  REQUIRE(smoke.settings.train_limit == 512);
  REQUIRE(smoke.settings.eval_limit == 256);
  REQUIRE(smoke.settings.ft.batch_size == 32);
  REQUIRE(smoke.settings.base_lr == 3e-4);
  REQUIRE(smoke.settings.throughput_batch == 64);
  REQUIRE(smoke.settings.base.dim == 32);
  REQUIRE(smoke.settings.base.depth == 4);
  REQUIRE(smoke.settings.base.train_images == 1024);
  REQUIRE(smoke.settings.base.epochs == 4);

  const recipes::TokenPruningPreset mini = recipes::token_pruning_preset("mini", "prog");
  REQUIRE(mini.policies == "evit,shannon,renyi:0.5,renyi:2,renyi:inf,random");
  REQUIRE(mini.keep_rates == "0.9,0.7,0.5,0.4,0.3");
  REQUIRE(mini.settings.train_limit == 10000);
  REQUIRE(mini.settings.eval_limit == 0);
  REQUIRE(mini.settings.ft.epochs == 1);
  REQUIRE(mini.settings.ft.warmup_epochs == 0.1);
  REQUIRE(mini.settings.ft.batch_size == 64);
  REQUIRE(mini.settings.base_lr == 5e-5);
  REQUIRE(mini.settings.throughput_batch == 256);
  REQUIRE(mini.settings.base.dim == 64);  // TokenPruningBase's own defaults
  REQUIRE(mini.settings.base.depth == 6);

  const recipes::TokenPruningPreset paper = recipes::token_pruning_preset("paper", "prog");
  REQUIRE(paper.policies == "evit,shannon,renyi:0.5,renyi:2,renyi:3,renyi:inf");
  REQUIRE(paper.keep_rates == "0.9,0.8,0.7,0.6,0.5,0.4,0.3");
  REQUIRE(paper.settings.ft.epochs == 100);
  REQUIRE(paper.settings.ft.warmup_epochs == 5);
  REQUIRE(paper.settings.ft.batch_size == 256);
  REQUIRE(paper.settings.base_lr == 1e-4);
  REQUIRE(paper.settings.throughput_time == 1.5);
  REQUIRE_FALSE(paper.settings.ft.mixing);  // set with use_deit_mixing once --smoothing is known

  REQUIRE_THROWS_WITH(recipes::token_pruning_preset("huge", "prog"),
                      Contains("[prog] --scale must be 'smoke', 'mini' or 'paper', got 'huge'"));
}

TEST_CASE("token pruning flags: --policies, --keep-rates, --fuse", "[recipes_common][token_pruning_settings]") {
  const std::vector<pruning::TokenPolicySpec> p = recipes::parse_token_policies("evit, renyi:2,,random", "prog");
  REQUIRE(p.size() == 3);
  REQUIRE(p[0].name() == "evit");
  REQUIRE(p[1].name() == "renyi:2");
  REQUIRE(p[2].name() == "random");
  REQUIRE_THROWS_WITH(recipes::parse_token_policies(" , ", "prog"), Contains("[prog] --policies is empty"));
  REQUIRE_THROWS_WITH(recipes::parse_token_policies("evit,foo", "prog"), Contains("foo"));

  REQUIRE(recipes::parse_keep_rates("0.9, 0.5", "prog") == std::vector<double>{0.9, 0.5});
  REQUIRE_THROWS_WITH(recipes::parse_keep_rates("0.7,1.5", "prog"),
                      Contains("[prog] --keep-rates: '1.5' is not a keep rate in (0, 1)"));
  REQUIRE_THROWS_WITH(recipes::parse_keep_rates("0.5x", "prog"), Contains("'0.5x' is not a keep rate"));
  REQUIRE_THROWS_WITH(recipes::parse_keep_rates("abc", "prog"), Contains("'abc' is not a keep rate"));
  REQUIRE_THROWS_WITH(recipes::parse_keep_rates("0", "prog"), Contains("'0' is not a keep rate"));
  REQUIRE_THROWS_WITH(recipes::parse_keep_rates("", "prog"), Contains("[prog] --keep-rates is empty"));

  for (recipes::FuseMode m : {recipes::FuseMode::Auto, recipes::FuseMode::On, recipes::FuseMode::Off})
    REQUIRE(recipes::parse_fuse_mode(recipes::fuse_mode_name(m), "prog") == m);
  REQUIRE(std::string(recipes::fuse_mode_name(recipes::FuseMode::Auto)) == "auto");
  REQUIRE_THROWS_WITH(recipes::parse_fuse_mode("maybe", "prog"),
                      Contains("[prog] --fuse must be 'auto', 'on' or 'off', got 'maybe'"));
}

TEST_CASE("token pruning fusion per policy and the paper's DeiT mixing", "[recipes_common][token_pruning_settings]") {
  const pruning::TokenPolicySpec evit = pruning::parse_token_policy("evit");
  const pruning::TokenPolicySpec shannon = pruning::parse_token_policy("shannon");
  REQUIRE(recipes::fuse_of(recipes::FuseMode::Auto, evit));  // EViT fuses by default
  REQUIRE_FALSE(recipes::fuse_of(recipes::FuseMode::Auto, shannon));
  REQUIRE(recipes::fuse_of(recipes::FuseMode::On, shannon));
  REQUIRE_FALSE(recipes::fuse_of(recipes::FuseMode::Off, evit));

  recipes::FinetuneOptions ft;
  ft.label_smoothing = 0.2;
  ft.warmup_lr = 0.5;
  recipes::use_deit_mixing(ft);
  REQUIRE(ft.mixing);
  REQUIRE(ft.mix.mixup_alpha == 0.8);
  REQUIRE(ft.mix.cutmix_alpha == 1.0);
  REQUIRE(ft.mix.prob == 1.0);
  REQUIRE(ft.mix.label_smoothing == 0.2);
  REQUIRE(ft.mix.num_classes == 0);
  REQUIRE(ft.warmup_lr == 1e-6);
}
