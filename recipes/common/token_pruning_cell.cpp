// A token-pruning study cell and its sweep-result text (see token_pruning_cell.h).
#include "common/token_pruning_cell.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "tensor/error.h"

namespace shears::recipes {

std::string token_path(const pruning::TokenPruning& tp) {
  std::string s;
  const auto& recs = tp.last_records();
  if (recs.empty()) return s;
  s = std::to_string(recs.front().tokens_in);
  for (const auto& r : recs) s += "→" + std::to_string(r.tokens_out);
  return s;
}

std::string hex_double(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", v);
  return buf;
}

std::string token_cell_text(const TokenPruningCell& c) {
  return hex_double(c.acc_installed) + " " + hex_double(c.acc_finetuned) + " " + hex_double(c.gflops) + " " +
         hex_double(c.images_per_s) + " " + hex_double(c.dense_images_per_s) + " " + hex_double(c.seconds) + " " +
         c.tokens;
}

TokenPruningCell token_cell_from_text(const std::string& text, const char* prog) {
  std::istringstream in(text);
  std::string v[6];
  TokenPruningCell c;
  in >> v[0] >> v[1] >> v[2] >> v[3] >> v[4] >> v[5] >> c.tokens;
  SHEARS_CHECK(!in.fail(), prog, "internal: a sweep result is not a cell: '", text, "'");
  double* fields[6] = {&c.acc_installed, &c.acc_finetuned, &c.gflops, &c.images_per_s, &c.dense_images_per_s, &c.seconds};
  for (int i = 0; i < 6; ++i) *fields[i] = std::strtod(v[i].c_str(), nullptr);
  return c;
}

}  // namespace shears::recipes
