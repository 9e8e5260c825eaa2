// Uniform error reporting for recipe executables (see recipe_main.h).
#include "common/recipe_main.h"

#include <cxxopts.hpp>

#include <cstdio>
#include <exception>
#include <iostream>

#include "tensor/error.h"

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

}  // namespace shears::recipes
