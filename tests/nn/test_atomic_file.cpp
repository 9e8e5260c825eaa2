// Atomic writes and the save guard: temp files of dead writers ("<target>.tmp.<dead pid>") are
// removed by the next write of the same target while live writers', other targets' and
// odd-named files are kept; a failing writer leaves the target untouched and no temp file;
// first_non_finite finds NaN/inf in f32/f64 (any chunk, views) and ignores integers; save_model
// refuses a non-finite model, naming the tensor, and keeps the previous file.
#include <catch2/catch.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "nn/checkpoint.h"
#include "nn/io/atomic_file.h"
#include "nn/io/non_finite.h"
#include "nn/io/safetensors.h"
#include "tensor/creation.h"
#include "tensor/kernels.h"
#include "tiny_vit_task.h"

namespace fs = std::filesystem;
using namespace shears;
using Catch::Contains;

namespace {

fs::path fresh_dir(const std::string& tag) {
  fs::path d = fs::temp_directory_path() / ("shears_atomic_" + std::to_string(::getpid()) + "_" + tag);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// The pid of a child that has exited and been reaped: no process has it (until reused).
long dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return long(child);
}

void touch(const fs::path& p, const std::string& text = "partial") { std::ofstream(p) << text; }

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("the next write removes temp files of dead writers of the same target only", "[nn][io][atomic]") {
  const fs::path dir = fresh_dir("dead");
  const std::string target = (dir / "state.safetensors").string();
  const long dead = dead_pid();
  const fs::path dead_tmp = target + ".tmp." + std::to_string(dead);
  const fs::path live_tmp = target + ".tmp." + std::to_string(long(::getppid()));  // our parent is alive
  const fs::path odd_tmp = target + ".tmp.12ab";
  const fs::path other_target_tmp = (dir / "other.safetensors.tmp.").string() + std::to_string(dead);
  for (const auto& p : {dead_tmp, live_tmp, odd_tmp, other_target_tmp}) touch(p);

  nn::write_safetensors(target, {{"w", from_vector(std::vector<float>{1, 2})}});
  CHECK_FALSE(fs::exists(dead_tmp));
  CHECK(fs::exists(live_tmp));
  CHECK(fs::exists(odd_tmp));
  CHECK(fs::exists(other_target_tmp));
  CHECK_FALSE(fs::exists(nn::temp_path_for(target)));  // renamed into place
  CHECK(nn::read_safetensors(target).tensors.size() == 1);

  // the cleanup on its own reports what it removed
  touch(dead_tmp);
  const auto removed = nn::remove_dead_writer_temp_files(target);
  REQUIRE(removed.size() == 1);
  CHECK(removed[0] == dead_tmp.string());
  fs::remove_all(dir);
}

TEST_CASE("a writer that throws leaves the target and no temp file", "[nn][io][atomic]") {
  const fs::path dir = fresh_dir("throw");
  const std::string target = (dir / "table.csv").string();
  nn::write_file_atomic(target, "test", [](const nn::ByteSink& put) { put("old\n", 4); });
  CHECK_THROWS_WITH(nn::write_file_atomic(target, "test",
                                          [](const nn::ByteSink& put) {
                                            put("new", 3);
                                            fail("test", "disk full");
                                          }),
                    Contains("disk full"));
  CHECK(slurp(target) == "old\n");
  CHECK_FALSE(fs::exists(nn::temp_path_for(target)));
  // a target in a folder that does not exist names the target
  CHECK_THROWS_WITH(nn::write_file_atomic((dir / "missing" / "x").string(), "test", [](const nn::ByteSink&) {}),
                    Contains((dir / "missing" / "x").string()));
  fs::remove_all(dir);
}

TEST_CASE("first_non_finite finds NaN and inf in f32 and f64, in any chunk and in views", "[nn][io][non_finite]") {
  std::vector<float> big(10000, 1.0f);
  Tensor ok = from_vector(big);
  CHECK_FALSE(nn::first_non_finite({{"a", ok}}).has_value());
  big[5003] = std::numeric_limits<float>::quiet_NaN();
  big[7000] = std::numeric_limits<float>::infinity();
  auto hit = nn::first_non_finite({{"a", ok}, {"b", from_vector(big)}});
  REQUIRE(hit.has_value());
  CHECK(hit->tensor == "b");
  CHECK(hit->index == 5003);
  CHECK(std::isnan(hit->value));

  Tensor d = from_vector(std::vector<double>{0.0, -std::numeric_limits<double>::infinity(), 3.0});
  hit = nn::first_non_finite({{"d", d}});
  REQUIRE(hit.has_value());
  CHECK(hit->index == 1);
  CHECK(hit->value == -std::numeric_limits<double>::infinity());

  // a transposed view: element order is the logical one
  Tensor m = kernels::reshape(from_vector(std::vector<float>{0, 1, 2, 3, 4, std::numeric_limits<float>::infinity()}),
                              {2, 3});
  hit = nn::first_non_finite({{"t", kernels::transpose(m, 0, 1)}});
  REQUIRE(hit.has_value());
  CHECK(hit->index == 5);  // (2, 1) of the (3, 2) view
  CHECK_FALSE(nn::first_non_finite({{"i", from_vector(std::vector<int64_t>{1, 2})}}).has_value());
}

TEST_CASE("save_model refuses non-finite weights, names the tensor and keeps the previous file", "[nn][io][non_finite]") {
  const fs::path dir = fresh_dir("save_model");
  const std::string path = (dir / "model.safetensors").string();
  nn::VisionTransformer model(test::tiny_vit_config(), 1);
  nn::VisionTransformer bad(test::tiny_vit_config(), 2);
  bad.head->weight.data<float>()[3] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(nn::save_model(path, bad), Contains("no file was written"));
  CHECK_FALSE(fs::exists(path));
  nn::save_model(path, model);
  const std::string before = slurp(path);
  model.head->weight.data<float>()[3] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH(nn::save_model(path, model),
                    Contains("refusing to save non-finite weights: tensor 'head.weight' holds inf at element 3") &&
                        Contains("the previous file at " + path + " is kept"));
  CHECK(slurp(path) == before);
  CHECK_FALSE(fs::exists(nn::temp_path_for(path)));
  fs::remove_all(dir);
}
