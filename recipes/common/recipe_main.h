// The one way a recipe's main() ends: runs the recipe's body and turns an exception into
// "error: <what>" on stderr (flag errors also say "see --help") and exit status 2, so every
// recipe reports bad input the same way instead of crashing.
#pragma once
#include <functional>

namespace shears::recipes {

int recipe_main(const std::function<int()>& body);

}  // namespace shears::recipes
