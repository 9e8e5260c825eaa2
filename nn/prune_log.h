// Prune log: one PruneStep per transform applied to a model (what was done, with which
// parameters, and what was kept), in application order. The model carries its log, save_model
// writes it into the checkpoint's metadata ("shears.prune_log") and load_model restores it, so a
// pruned checkpoint says how it was made.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace shears::nn {

struct PruneStep {
  std::string kind;                // "drop_blocks" | "prune_mlp" | "prune_heads" | "prune_head_dims" | "token_pruning"
  std::string method;              // canonical step text, e.g. "blocks:entropy:k=2"
  std::string params_json = "{}";  // a JSON object: criterion, k, keep rate, policy, locations, fuse, seed, ...
  // "blocks" -> kept block indices (numbering before the step); "blocks.3.mlp" -> kept hidden
  // neurons of block 3; "blocks.3.attn.heads" -> kept heads; each list sorted ascending.
  std::map<std::string, std::vector<int64_t>> kept;
};

bool operator==(const PruneStep& a, const PruneStep& b);  // params compared as parsed JSON

// JSON array of {"kind", "method", "params": {...}, "kept": {...}}. Throws when a step's
// params_json is not a JSON object (naming the step).
std::string prune_log_to_json(const std::vector<PruneStep>& log);
// Parses prune_log_to_json's output. Throws shears::Error starting with `where` (e.g. the file
// and metadata key) and naming the step and field when the JSON is malformed.
std::vector<PruneStep> prune_log_from_json(const std::string& json, const std::string& where);

}  // namespace shears::nn
