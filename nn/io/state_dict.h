// State dicts: a model's parameters as (dotted name, tensor) pairs, and loading such a
// list into a Module with a report of EVERY missing, unexpected and mis-shaped key
// (strict by default: nothing is copied unless everything matches). Wrapper prefixes
// "model.", "module.", "state_dict." are unwrapped automatically.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "nn/module.h"

namespace shears::nn {

struct LoadReport {
  std::vector<std::string> missing;     // model parameters the file lacks
  std::vector<std::string> unexpected;  // file tensors the model does not have
  std::vector<std::string> mismatched;  // "name: file (3, 4) vs model (4, 4)"
  std::vector<std::string> stripped_prefixes;  // e.g. {"module."} when unwrapped
  int64_t loaded = 0;                   // tensors copied into the model

  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  // Multi-line summary: counts and names of each kind of problem ("all N keys matched" when ok).
  std::string str() const;
};

// The model's parameters by dotted name (shares storage with the model).
std::vector<std::pair<std::string, Tensor>> state_dict(const Module& model);

// Copies each tensor into the model's parameter of the same dotted name (converting the
// dtype, e.g. f64 -> f32). If no key matches a model name but all keys start with
// "model.", "module." or "state_dict.", that prefix is stripped (repeatedly). In strict
// mode any problem throws one shears::Error listing all of them and copies nothing; in
// non-strict mode the matching tensors are copied and the report says what was skipped.
LoadReport load_state_dict(Module& model, const std::vector<std::pair<std::string, Tensor>>& tensors,
                           bool strict = true);

// Reads a safetensors file and loads it; Hugging Face VideoMAE names are converted first
// (see nn/io/hf_videomae.h; encoder names go under "encoder." when the model has
// encoder.patch_embed, i.e. VideoMAEPretrain); an HF file with fc_norm.* loaded into a
// VisionTransformer sets its fc_norm eps to HF's 1e-5 (kHfVideoMAEFcNormEps). Errors name the file.
LoadReport load_safetensors(Module& model, const std::string& path, bool strict = true);

}  // namespace shears::nn
