// recipes/common/gardener_settings: the --scale presets of shears_gardener, the checks of the
// scale-specific inputs (errors name the program and the flag), and the fine-tune each row gets:
// one schedule for every row, or the paper's epochs (warm-up) by removed blocks.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "common/gardener_settings.h"
#include "tensor/error.h"

namespace fs = std::filesystem;
using namespace shears;
using Catch::Contains;

namespace {

recipes::GardenerSettings preset(const std::string& scale) {
  recipes::GardenerSettings s;
  s.scale = scale;
  recipes::apply_gardener_scale(s, "prog");
  return s;
}

}  // namespace

TEST_CASE("gardener presets by scale", "[recipes_common][gardener_settings]") {
  const recipes::GardenerSettings smoke = preset("smoke");
  REQUIRE(smoke.train_clips == 64);
  REQUIRE(smoke.test_clips == 32);
  REQUIRE(smoke.oracle_seeds == 2);
  REQUIRE(smoke.ks == std::vector<int64_t>{1, 3});
  REQUIRE(smoke.finetune == recipes::GardenerSettings::Schedule{1, 0.5});
  REQUIRE(smoke.pretrain.epochs == 1);
  REQUIRE(smoke.pretrain.shape.dim == 32);
  REQUIRE(smoke.pretrain.shape.depth == 4);
  REQUIRE(smoke.pretrain.decoder_depth == 1);

  const recipes::GardenerSettings mini = preset("mini");
  REQUIRE(mini.train_clips == 4096);
  REQUIRE(mini.oracle_seeds == 6);
  REQUIRE(mini.ks == std::vector<int64_t>{1, 2, 3, 4, 5});
  REQUIRE(mini.pretrain.epochs == 12);
  REQUIRE(mini.pretrain.train_clips == 4096);
  REQUIRE(mini.pretrain.shape.depth == 6);
  REQUIRE(mini.by_k.empty());

  const recipes::GardenerSettings paper = preset("paper");
  REQUIRE(paper.batch_size == 64);
  REQUIRE(paper.random_draws == 3);
  REQUIRE(paper.oracle_seeds == 1);
  REQUIRE(paper.lr == 1e-3);
  REQUIRE(paper.head_init_scale == 1.0);
  REQUIRE(paper.ks == std::vector<int64_t>{1, 3, 5, 7, 9, 11});
  REQUIRE(paper.by_k.size() == 7);

  recipes::GardenerSettings bad;
  bad.scale = "huge";
  REQUIRE_THROWS_WITH(recipes::apply_gardener_scale(bad, "prog"),
                      Contains("[prog] --scale must be 'smoke', 'mini' or 'paper', got 'huge'"));
}

TEST_CASE("gardener inputs belong to their scale", "[recipes_common][gardener_settings]") {
  const fs::path root = fs::temp_directory_path() / ("shears_gardener_settings_" + std::to_string(::getpid()));
  fs::create_directories(root / "train");
  fs::create_directories(root / "test");
  const std::string file = (root / "model.safetensors").string();
  std::ofstream(file) << "x";

  recipes::GardenerSettings paper = preset("paper");
  REQUIRE_THROWS_WITH(recipes::check_gardener_inputs(paper, "prog"), Contains("[prog] --scale paper needs --hf-checkpoint"));
  paper.hf_checkpoint = (root / "missing.safetensors").string();
  REQUIRE_THROWS_WITH(recipes::check_gardener_inputs(paper, "prog"),
                      Contains("--hf-checkpoint '" + paper.hf_checkpoint + "' is not a file"));
  paper.hf_checkpoint = file;
  REQUIRE_THROWS_WITH(recipes::check_gardener_inputs(paper, "prog"), Contains("needs --ucf-train"));
  paper.ucf_train = (root / "train").string();
  REQUIRE_THROWS_WITH(recipes::check_gardener_inputs(paper, "prog"), Contains("needs --ucf-test"));
  paper.ucf_test = (root / "nope").string();
  REQUIRE_THROWS_WITH(recipes::check_gardener_inputs(paper, "prog"),
                      Contains("--ucf-test '" + paper.ucf_test + "' is not a folder"));
  paper.ucf_test = (root / "test").string();
  REQUIRE_NOTHROW(recipes::check_gardener_inputs(paper, "prog"));
  paper.pretrained = file;
  REQUIRE_THROWS_WITH(recipes::check_gardener_inputs(paper, "prog"), Contains("--pretrained belongs to --scale smoke/mini"));

  recipes::GardenerSettings smoke = preset("smoke");
  REQUIRE_NOTHROW(recipes::check_gardener_inputs(smoke, "prog"));
  smoke.ucf_test = (root / "test").string();
  REQUIRE_THROWS_WITH(recipes::check_gardener_inputs(smoke, "prog"),
                      Contains("--hf-checkpoint/--ucf-train/--ucf-test belong to --scale paper (got --scale smoke)"));
  smoke.ucf_test.clear();
  smoke.pretrained = (root / "missing.safetensors").string();
  REQUIRE_THROWS_WITH(recipes::check_gardener_inputs(smoke, "prog"),
                      Contains("--pretrained '" + smoke.pretrained + "' is not a file"));
  smoke.pretrained = file;
  REQUIRE_NOTHROW(recipes::check_gardener_inputs(smoke, "prog"));
  fs::remove_all(root);
}

TEST_CASE("gardener fine-tune: one schedule, or the paper's by removed blocks", "[recipes_common][gardener_settings]") {
  recipes::GardenerSettings smoke = preset("smoke");
  smoke.seed = 7;
  const recipes::FinetuneOptions a = recipes::gardener_finetune(smoke, 3);
  REQUIRE(a.epochs == 1);
  REQUIRE(a.warmup_epochs == 0.5);
  REQUIRE(a.lr == 2e-3);
  REQUIRE(a.warmup_lr == 1e-6);
  REQUIRE(a.min_lr == 1e-6);
  REQUIRE(a.weight_decay == 0.05);
  REQUIRE(a.label_smoothing == 0.0);
  REQUIRE(a.batch_size == 32);
  REQUIRE(a.seed == 7);
  REQUIRE(a.log_every == 0);

  recipes::GardenerSettings paper = preset("paper");
  auto schedule = [&](int64_t k) {
    const recipes::FinetuneOptions ft = recipes::gardener_finetune(paper, k);
    return recipes::GardenerSettings::Schedule{ft.epochs, ft.warmup_epochs};
  };
  REQUIRE(schedule(0) == recipes::GardenerSettings::Schedule{4, 1});   // the dense control
  REQUIRE(schedule(1) == recipes::GardenerSettings::Schedule{4, 1});
  REQUIRE(schedule(2) == recipes::GardenerSettings::Schedule{5, 1});   // unlisted: the next listed k (3)
  REQUIRE(schedule(9) == recipes::GardenerSettings::Schedule{15, 3});
  REQUIRE(schedule(11) == recipes::GardenerSettings::Schedule{38, 5});
  REQUIRE(schedule(12) == recipes::GardenerSettings::Schedule{38, 5});  // past the table: its last entry
  REQUIRE(recipes::gardener_finetune(paper, 1).lr == 1e-3);
  REQUIRE(recipes::gardener_finetune(paper, 1).batch_size == 64);
  paper.by_k.clear();  // --epochs: one length for every row
  paper.finetune.first = 2;
  REQUIRE(schedule(11) == recipes::GardenerSettings::Schedule{2, 0.2});
}
