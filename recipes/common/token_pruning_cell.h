// One (method, keep rate) cell of the token-pruning study (shears_token_pruning) and the one-line
// text a dist::run_sweep job sends to rank 0 for it (exact doubles as hex floats), read back there.
#pragma once
#include <string>

#include "pruning/token_pruning.h"

namespace shears::recipes {

struct TokenPruningCell {
  pruning::TokenPolicySpec policy;
  double keep_rate = 1.0;
  bool fuse = false;
  double acc_installed = 0, acc_finetuned = 0;
  double gflops = 0, images_per_s = 0, dense_images_per_s = 0, seconds = 0;
  std::string tokens;  // tokens entering the first block, then after each pruning block
};

// "50→35→25" from the last forward's records: tokens in, then tokens out of each pruning block.
std::string token_path(const pruning::TokenPruning& tp);
// `v` as a hex float ("%a"): strtod reads back the same double.
std::string hex_double(double v);
// The measured values as one line (policy, keep rate and fusion come from the job's index).
std::string token_cell_text(const TokenPruningCell& c);
// The inverse of token_cell_text (measured values only); a malformed line fails naming `prog`.
TokenPruningCell token_cell_from_text(const std::string& text, const char* prog);

}  // namespace shears::recipes
