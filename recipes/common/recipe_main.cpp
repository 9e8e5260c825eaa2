// Uniform error reporting and the shared flag checks of recipe executables (see recipe_main.h).
#include "common/recipe_main.h"

#include <sstream>

#include <cxxopts.hpp>

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iostream>

#include "tensor/error.h"
#include "tensor/gemm.h"
#include "tensor/parallel.h"

namespace shears::recipes {

int recipe_main(const std::function<int()>& body) {
  try {
    return body();
  } catch (const cxxopts::exceptions::exception& e) {
    std::fprintf(stderr, "error: %s (see --help)\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
  }
  return 2;
}

void print_compute_config() {
  std::printf("compute: %d threads (oneTBB); %s\n", get_num_threads(), gemm_backend_info().c_str());
  if (const std::string w = gemm_backend_warning(); !w.empty()) std::printf("%s\n", w.c_str());
}

std::optional<cxxopts::ParseResult> parse_flags(cxxopts::Options& options, int argc, char** argv,
                                                const std::string& prog) {
  cxxopts::ParseResult r = options.parse(argc, argv);
  if (r.count("help")) {
    std::cout << options.help() << std::endl;
    return std::nullopt;
  }
  if (!r.unmatched().empty()) fail(prog.c_str(), "unexpected argument '", r.unmatched().front(), "' (see --help)");
  return r;
}

void check_threads_flag(int64_t threads, const std::string& prog) {
  if (threads < 0 || threads > kMaxThreads)
    fail(prog.c_str(), "--threads must be 0 (automatic) or in [1, ", kMaxThreads, "], got ", threads);
}

void check_non_negative_flag(double value, const char* flag, const std::string& prog) {
  if (!(value >= 0) || !std::isfinite(value))
    fail(prog.c_str(), "--", flag, " must be a finite value >= 0, got ", value);
}

void check_size_flag(int64_t value, const char* flag, int64_t cap, const std::string& prog) {
  if (value < 1 || value > cap) fail(prog.c_str(), "--", flag, " must be in [1, ", cap, "], got ", value);
}

namespace {

// `label` starts every message: "--out '<dir>': the output folder" or, for a file, "--out '<file>': its folder '<dir>'".
void prepare_dir(const std::string& dir, const std::string& prog, const std::string& label) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir, ec))
    fail(prog.c_str(), label, " cannot be created (", ec ? ec.message() : std::string("a file of that name exists"), ")");
  const std::string probe = (fs::path(dir) / (".shears_write_probe." + std::to_string(::getpid()))).string();
  errno = 0;
  std::FILE* f = std::fopen(probe.c_str(), "wb");
  int err = errno;
  bool ok = f != nullptr;
  if (f) {
    const bool wrote = std::fputc('x', f) != EOF;
    ok = std::fclose(f) == 0 && wrote;
    if (!ok) err = errno;
  }
  std::remove(probe.c_str());
  if (!ok)
    fail(prog.c_str(), label, " is not writable (", std::strerror(err),
         "); checked before any work so none is lost");
}

}  // namespace

void prepare_output_dir(const std::string& dir, const std::string& prog, const char* flag) {
  if (dir.empty()) fail(prog.c_str(), flag, " must not be empty");
  prepare_dir(dir, prog, str_cat(flag, " '", dir, "': the output folder"));
}

void prepare_output_file(const std::string& path, const std::string& prog, const char* flag) {
  namespace fs = std::filesystem;
  if (path.empty()) fail(prog.c_str(), flag, " must not be empty");
  std::error_code ec;
  if (fs::is_directory(path, ec)) fail(prog.c_str(), flag, " '", path, "' is a folder; expected a file path");
  const fs::path parent = fs::path(path).parent_path();
  const std::string dir = parent.empty() ? std::string(".") : parent.string();
  prepare_dir(dir, prog, str_cat(flag, " '", path, "': its folder '", dir, "'"));
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

double parse_list_number(const std::string& item) {
  try {
    size_t used = 0;
    const double v = std::stod(item, &used);
    return used == item.size() ? v : NAN;
  } catch (const std::exception&) {
    return NAN;
  }
}

}  // namespace shears::recipes
