// load_state_dict: name matching with automatic prefix unwrapping, a full report of
// missing/unexpected/mis-shaped keys, all-or-nothing copies in strict mode, and the
// safetensors convenience loader (with Hugging Face VideoMAE detection).
#include "nn/io/state_dict.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "nn/io/hf_videomae.h"
#include "nn/io/safetensors.h"
#include "nn/vision_transformer.h"
#include "tensor/kernels.h"

namespace shears::nn {
namespace {

const char* const kWrapperPrefixes[] = {"model.", "module.", "state_dict."};

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

void list(std::ostringstream& os, const char* what, const std::vector<std::string>& names) {
  if (names.empty()) return;
  os << "\n  " << what << " (" << names.size() << "):";
  for (const auto& n : names) os << "\n    " << n;
}

}  // namespace

std::string LoadReport::str() const {
  std::ostringstream os;
  if (ok()) {
    os << "all " << loaded << " keys matched";
  } else {
    os << missing.size() << " missing, " << unexpected.size() << " unexpected, " << mismatched.size()
       << " mis-shaped key(s); " << loaded << " loaded";
    list(os, "missing from the file", missing);
    list(os, "unexpected in the file", unexpected);
    list(os, "shape mismatch", mismatched);
  }
  for (const auto& p : stripped_prefixes) os << "\n  (stripped the prefix \"" << p << "\" from every key)";
  return os.str();
}

std::vector<std::pair<std::string, Tensor>> state_dict(const Module& model) { return model.named_parameters(); }

LoadReport load_state_dict(Module& model, const std::vector<std::pair<std::string, Tensor>>& tensors,
                           bool strict) {
  LoadReport report;
  std::map<std::string, Tensor> model_params;
  for (auto& [name, t] : model.named_parameters()) model_params.emplace(name, t);

  // Unwrap "module."/"model."/"state_dict." when nothing matches as is.
  std::vector<std::string> keys;
  for (const auto& p : tensors) keys.push_back(p.first);
  std::string prefix;
  for (bool changed = true; changed && !keys.empty();) {
    changed = false;
    bool any_match = false;
    for (const auto& k : keys) any_match |= model_params.count(k.substr(prefix.size())) > 0;
    if (any_match) break;
    for (const char* p : kWrapperPrefixes) {
      bool all = true;
      for (const auto& k : keys) all &= starts_with(k.substr(prefix.size()), p);
      if (all) {
        prefix += p;
        report.stripped_prefixes.push_back(p);
        changed = true;
        break;
      }
    }
  }

  // Match every key; collect all problems before copying anything.
  std::vector<std::pair<Tensor, Tensor>> copies;  // (model slot, file tensor)
  std::set<std::string> seen;
  for (const auto& [key, t] : tensors) {
    const std::string name = key.substr(prefix.size());
    if (!seen.insert(name).second) {
      report.mismatched.push_back(name + ": appears more than once in the file");
      continue;
    }
    auto it = model_params.find(name);
    if (it == model_params.end()) {
      report.unexpected.push_back(name);
      continue;
    }
    if (!t.defined()) {
      report.mismatched.push_back(name + ": undefined tensor in the file");
      continue;
    }
    if (t.shape() != it->second.shape()) {
      report.mismatched.push_back(name + ": file " + shape_str(t.shape()) + " vs model " +
                                  shape_str(it->second.shape()));
      continue;
    }
    copies.emplace_back(it->second, t);
  }
  for (const auto& [name, t] : model_params)
    if (!seen.count(name)) report.missing.push_back(name);

  if (strict && !report.ok()) {
    std::string hint;
    if (looks_like_hf_videomae(keys))
      hint = "\n  (the keys look like Hugging Face VideoMAE names: convert them with hf_videomae_to_shears)";
    fail("load_state_dict", report.str(), hint,
         "\n  nothing was loaded; pass strict=false to load the matching keys only");
  }
  for (auto& [slot, src] : copies) kernels::copy_(slot, src);
  report.loaded = static_cast<int64_t>(copies.size());
  return report;
}

LoadReport load_safetensors(Module& model, const std::string& path, bool strict) {
  SafetensorsFile file = read_safetensors(path);
  std::vector<std::string> names;
  for (const auto& p : file.tensors) names.push_back(p.first);
  // HF VideoMAE names: converted, with encoder names under "encoder." for VideoMAEPretrain.
  const std::string prefix = model.find_parameter("encoder.patch_embed.proj.weight") ? "encoder." : "";
  const bool hf = looks_like_hf_videomae(names);
  auto tensors = hf ? hf_videomae_to_shears(file.tensors, prefix) : std::move(file.tensors);
  LoadReport report;
  try {
    report = load_state_dict(model, tensors, strict);
  } catch (const Error& e) {
    fail("load_safetensors", path, ": ", e.what());
  }
  // HF's classifier fc_norm was trained with eps 1e-5 (see kHfVideoMAEFcNormEps)
  auto* vit = dynamic_cast<VisionTransformer*>(&model);
  const bool has_fc_norm = std::find(names.begin(), names.end(), "fc_norm.weight") != names.end();
  if (hf && has_fc_norm && vit && vit->fc_norm) vit->fc_norm->eps = kHfVideoMAEFcNormEps;
  return report;
}

}  // namespace shears::nn
