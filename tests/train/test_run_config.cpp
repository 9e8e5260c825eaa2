// Run config checks on resume: differences list every changed, added and removed flag; a
// mismatch is refused naming each flag with both values and the override to use; the override
// allows exactly the listed flags; an override naming an unrecorded flag is refused.
#include <catch2/catch.hpp>

#include "tensor/error.h"
#include "train/run_config.h"

using namespace shears;
using Catch::Contains;

TEST_CASE("config_value writes doubles exactly", "[train][run_config]") {
  CHECK(train::config_value(0.1) == "0.10000000000000001");
  CHECK(std::stod(train::config_value(3e-3)) == 3e-3);
  CHECK(train::config_value(int64_t(-4)) == "-4");
  CHECK(train::config_value(uint64_t(18446744073709551615ull)) == "18446744073709551615");
}

TEST_CASE("run_config_differences lists changed, added and removed flags in order", "[train][run_config]") {
  const train::RunConfig saved = {{"seed", "0"}, {"lr", "0.001"}, {"batch-size", "64"}, {"old", "1"}};
  const train::RunConfig now = {{"seed", "0"}, {"lr", "0.01"}, {"batch-size", "32"}, {"new", "2"}};
  const auto d = train::run_config_differences(saved, now);
  REQUIRE(d.size() == 4);
  CHECK(d[0].flag == "batch-size");
  CHECK(d[0].saved == "64");
  CHECK(d[0].now == "32");
  CHECK(d[1].flag == "lr");
  CHECK(d[2].flag == "new");
  CHECK(d[2].saved == "(not set)");
  CHECK(d[3].flag == "old");
  CHECK(d[3].now == "(not set)");
  CHECK(train::run_config_differences(saved, saved).empty());
}

TEST_CASE("check_resume_config refuses differences unless the override lists them", "[train][run_config]") {
  const train::RunConfig saved = {{"seed", "0"}, {"lr", "0.001"}, {"batch-size", "64"}, {"train-limit", "0"}};
  train::RunConfig now = saved;
  CHECK(train::check_resume_config("s.safetensors", saved, now, {}).empty());

  now["seed"] = "7";
  now["batch-size"] = "32";
  CHECK_THROWS_WITH(train::check_resume_config("s.safetensors", saved, now, {}),
                    Contains("[resume] s.safetensors") && Contains("--seed: saved 0, now 7") &&
                        Contains("--batch-size: saved 64, now 32") && Contains("--resume-override batch-size,seed"));
  // only seed allowed: batch-size is still refused, and seed is no longer named
  try {
    train::check_resume_config("s.safetensors", saved, now, {"seed"});
    FAIL("a difference the override does not list was accepted");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK_THAT(msg, Contains("--batch-size: saved 64, now 32"));
    CHECK_THAT(msg, !Contains("--seed:"));
  }
  const auto allowed = train::check_resume_config("s.safetensors", saved, now, {"seed", "batch-size"});
  REQUIRE(allowed.size() == 2);
  CHECK(train::describe(allowed) == "--batch-size 64 -> 32, --seed 0 -> 7");
  // listing an unchanged flag is fine; an unknown one is an error naming the known flags
  CHECK(train::check_resume_config("s.safetensors", saved, now, {"seed", "batch-size", "lr"}).size() == 2);
  CHECK_THROWS_WITH(train::check_resume_config("s.safetensors", saved, now, {"seed", "batch-size", "learning-rate"}),
                    Contains("'learning-rate' is not a flag the training state records") && Contains("lr"));
}
