// Uniform error reporting for recipe executables (see recipe_main.h).
#include "common/recipe_main.h"

#include <cxxopts.hpp>

#include <cstdio>
#include <exception>

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

}  // namespace shears::recipes
