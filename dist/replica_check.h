// Replica checks for data-parallel training: a 64-bit hash of a model's weights (FNV-1a over the
// bytes of every parameter, in named_parameters order, names included) and a collective check that
// every rank holds the same weights (the data-parallel invariant after each optimizer step).
#pragma once
#include <cstdint>
#include <string>

#include "nn/module.h"

namespace shears::dist {

uint64_t weights_hash(const nn::Module& model);

// Collective: throws shears::Error naming `when` when the ranks' weight hashes differ.
void check_replicas_identical(const nn::Module& model, const std::string& when);

}  // namespace shears::dist
