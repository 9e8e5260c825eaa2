// The shared flag validators of recipes/common/recipe_main (issue 15): --threads cap, non-negative
// rates, size ranges and the --out probe; each error names the program and the flag; list items and
// whole numbers (split_list, parse_list_number).
#include <catch2/catch.hpp>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "common/recipe_main.h"
#include "tensor/error.h"

namespace fs = std::filesystem;
using namespace shears;
using Catch::Contains;

TEST_CASE("check_threads_flag: 0 or 1..kMaxThreads", "[recipes][flags]") {
  REQUIRE_NOTHROW(recipes::check_threads_flag(0, "prog"));
  REQUIRE_NOTHROW(recipes::check_threads_flag(1, "prog"));
  REQUIRE_NOTHROW(recipes::check_threads_flag(recipes::kMaxThreads, "prog"));
  REQUIRE_THROWS_WITH(recipes::check_threads_flag(999, "prog"), Contains("[prog] --threads") && Contains("999"));
  REQUIRE_THROWS_WITH(recipes::check_threads_flag(recipes::kMaxThreads + 1, "prog"), Contains("--threads"));
  REQUIRE_THROWS_WITH(recipes::check_threads_flag(-1, "prog"), Contains("--threads"));
}

TEST_CASE("check_non_negative_flag and check_size_flag name the flag", "[recipes][flags]") {
  REQUIRE_NOTHROW(recipes::check_non_negative_flag(0.0, "min-lr", "prog"));
  REQUIRE_NOTHROW(recipes::check_non_negative_flag(0.05, "weight-decay", "prog"));
  REQUIRE_THROWS_WITH(recipes::check_non_negative_flag(-1e-9, "min-lr", "prog"), Contains("[prog] --min-lr"));
  REQUIRE_THROWS_WITH(recipes::check_non_negative_flag(std::nan(""), "weight-decay", "prog"),
                      Contains("--weight-decay"));
  REQUIRE_THROWS_WITH(recipes::check_non_negative_flag(INFINITY, "weight-decay", "prog"), Contains("finite"));
  REQUIRE_NOTHROW(recipes::check_size_flag(4, "heads", 128, "prog"));
  REQUIRE_THROWS_WITH(recipes::check_size_flag(0, "heads", 128, "prog"), Contains("--heads must be in [1, 128], got 0"));
  REQUIRE_THROWS_WITH(recipes::check_size_flag(129, "heads", 128, "prog"), Contains("--heads"));
}

TEST_CASE("prepare_output_dir creates the folder and refuses an unwritable one", "[recipes][flags]") {
  const fs::path root = fs::temp_directory_path() / ("shears_flag_checks_" + std::to_string(::getpid()));
  fs::remove_all(root);
  const fs::path nested = root / "a" / "b";
  REQUIRE_NOTHROW(recipes::prepare_output_dir(nested.string(), "prog"));
  REQUIRE(fs::is_directory(nested));
  REQUIRE(fs::is_empty(nested));  // the probe file is removed
  // a path under a regular file cannot be created
  std::ofstream(root / "file") << "x";
  REQUIRE_THROWS_WITH(recipes::prepare_output_dir((root / "file" / "sub").string(), "prog"),
                      Contains("[prog] --out '") && Contains("cannot be created"));
  // /proc exists but refuses new files, even to root
  REQUIRE_THROWS_WITH(recipes::prepare_output_dir("/proc", "prog"), Contains("'/proc': the output folder is not writable"));
  REQUIRE_THROWS_WITH(recipes::prepare_output_dir("", "prog"), Contains("--out must not be empty"));
  // output files: the folder is created and probed
  REQUIRE_NOTHROW(recipes::prepare_output_file((root / "c" / "m.safetensors").string(), "prog"));
  REQUIRE(fs::is_directory(root / "c"));
  REQUIRE_THROWS_WITH(recipes::prepare_output_file("/proc/m.safetensors", "prog"),
                      Contains("'/proc/m.safetensors': its folder '/proc' is not writable"));
  REQUIRE_THROWS_WITH(recipes::prepare_output_file(root.string(), "prog"), Contains("is a folder"));
  fs::remove_all(root);
}

TEST_CASE("split_list and parse_list_number: list items and whole numbers only", "[recipes][flags]") {
  CHECK(recipes::split_list(" 0.5, 0.7 ,,1e-3 ") == std::vector<std::string>{"0.5", "0.7", "1e-3"});
  CHECK(recipes::parse_list_number("0.5") == 0.5);
  CHECK(recipes::parse_list_number("1e-3") == 1e-3);
  CHECK(recipes::parse_list_number("-2") == -2.0);
  for (const char* bad : {"", "0.5x", "x", "1e999", "0.5 0.7"}) {
    INFO("'" << bad << "'");
    CHECK(std::isnan(recipes::parse_list_number(bad)));
  }
}
