// Fuzz target: the recipes' flag parsing (recipes/common/recipe_main.h parse_flags over a fixed
// cxxopts Options set shaped like shears_prune's and shears_main's: strings, int64, uint64,
// int, doubles, a bool and a list) and the shared flag validators. The input is the argument
// list, NUL-separated. Refusals are shears::Error or cxxopts' exceptions (recipe_main reports
// both as "error: ..." and exit 2); anything else escaping is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <cxxopts.hpp>

#include "common/recipe_main.h"
#include "tensor/error.h"

namespace {

cxxopts::Options make_options() {
  cxxopts::Options options("shears_fuzz_flags", "fuzzed flag set");
  options.add_options()
      ("checkpoint", "input file", cxxopts::value<std::string>())
      ("steps", "pruning steps", cxxopts::value<std::string>()->default_value("none"))
      ("out", "output folder", cxxopts::value<std::string>()->default_value(""))
      ("heads", "heads", cxxopts::value<int64_t>()->default_value("0"))
      ("frames", "frames", cxxopts::value<int64_t>()->default_value("16"))
      ("image-size", "image size", cxxopts::value<int64_t>()->default_value("224"))
      ("batch-size", "batch size", cxxopts::value<int64_t>()->default_value("64"))
      ("lr", "lr", cxxopts::value<double>()->default_value("1e-4"))
      ("min-lr", "min lr", cxxopts::value<double>()->default_value("1e-6"))
      ("weight-decay", "weight decay", cxxopts::value<double>()->default_value("0.05"))
      ("timing-samples", "timing samples", cxxopts::value<int>()->default_value("3"))
      ("seed", "seed", cxxopts::value<uint64_t>()->default_value("0"))
      ("threads", "threads", cxxopts::value<int64_t>()->default_value("0"))
      ("resume", "resume", cxxopts::value<bool>()->default_value("false"))
      ("resume-override", "fields allowed to change", cxxopts::value<std::vector<std::string>>())
      ("s,scale", "scale", cxxopts::value<std::string>()->default_value("quick"))
      ("h,help", "print this help");
  return options;
}

// The values a recipe reads after parsing, and the checks it runs on them.
void use_flags(const cxxopts::ParseResult& r) {
  using namespace shears::recipes;
  const char* prog = "shears_fuzz_flags";
  if (r.count("checkpoint")) r["checkpoint"].as<std::string>();
  r["steps"].as<std::string>();
  r["out"].as<std::string>();
  r["scale"].as<std::string>();
  r["seed"].as<uint64_t>();
  r["timing-samples"].as<int>();
  r["resume"].as<bool>();
  if (r.count("resume-override")) r["resume-override"].as<std::vector<std::string>>();
  check_threads_flag(r["threads"].as<int64_t>(), prog);
  check_non_negative_flag(r["lr"].as<double>(), "lr", prog);
  check_non_negative_flag(r["min-lr"].as<double>(), "min-lr", prog);
  check_non_negative_flag(r["weight-decay"].as<double>(), "weight-decay", prog);
  const int64_t heads = r["heads"].as<int64_t>();
  if (heads != 0) check_size_flag(heads, "heads", 4096, prog);
  check_size_flag(r["frames"].as<int64_t>(), "frames", 4096, prog);
  check_size_flag(r["image-size"].as<int64_t>(), "image-size", 16384, prog);
  check_size_flag(r["batch-size"].as<int64_t>(), "batch-size", 1 << 20, prog);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args{"shears_fuzz_flags"};
  std::string cur;
  for (size_t i = 0; i < size && args.size() < 64; ++i) {
    if (data[i] == 0) {
      args.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(char(data[i]));
    }
  }
  if (!cur.empty() && args.size() < 64) args.push_back(cur);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  static std::ostringstream sink;  // --help prints here, not on the fuzzer's stdout
  std::streambuf* saved = std::cout.rdbuf(sink.rdbuf());
  try {
    cxxopts::Options options = make_options();
    const auto parsed = shears::recipes::parse_flags(options, int(args.size()), argv.data(), "shears_fuzz_flags");
    if (parsed) use_flags(*parsed);
  } catch (const shears::Error&) {
  } catch (const cxxopts::exceptions::exception&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_flags: non-shears exception escaped: %s\n", e.what());
    std::abort();
  }
  std::cout.rdbuf(saved);
  sink.str("");
  return 0;
}
