// The one way a recipe reads its flags and ends its main(): runs the recipe's body and turns an exception into
// "error: <what>" on stderr (flag errors also say "see --help") and exit status 2, so every
// recipe reports bad input the same way instead of crashing.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include <cxxopts.hpp>

namespace shears::recipes {

int recipe_main(const std::function<int()>& body);

// Parses a recipe's flags. With --help: prints the help and returns nothing (the recipe exits 0).
// A stray positional argument fails with an error naming `prog`.
std::optional<cxxopts::ParseResult> parse_flags(cxxopts::Options& options, int argc, char** argv,
                                                const std::string& prog);

}  // namespace shears::recipes
