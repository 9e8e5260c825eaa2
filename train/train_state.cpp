// Exact-resume training checkpoints (see train_state.h).
#include "train/train_state.h"

#include <nlohmann/json.hpp>

#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "nn/io/non_finite.h"
#include "nn/io/safetensors.h"
#include "nn/io/state_dict.h"

namespace shears::train {

namespace {
using json = nlohmann::json;
const char* kOp = "train_state";
const char* kStateKey = "shears.train_state";
const char* kExtraKey = "shears.extra";
const char* kRunConfigKey = "shears.train_config";
const std::string kModelPrefix = "model.";
const std::string kOptimPrefix = "optim.";
constexpr int kVersion = 1;

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// The resumed model must carry the extensions the checkpoint was saved with (the same kinds, as
// many of each): train/ cannot re-create them (token pruning lives in pruning/), and training on
// without them would silently train a different model.
void check_extensions(const std::string& path, const nn::VisionTransformer& model,
                      const std::vector<nn::SavedExtension>& saved) {
  std::map<std::string, int64_t> in_file, in_model;
  for (const auto& e : saved) ++in_file[e.kind];
  for (const auto& e : model.extensions) ++in_model[e->kind()];
  for (const auto& [kind, n] : in_file) {
    const int64_t have = in_model.count(kind) ? in_model.at(kind) : 0;
    if (have != n)
      fail(kOp, path, ": the training checkpoint was saved from a model with extension '", kind, "' (", n,
           "x), the resuming model has it ", have, "x; install it on the model before resuming (for "
           "'token_pruning': the same pruning::TokenPruningTransform / install_token_pruning the run started with)");
  }
  for (const auto& [kind, n] : in_model)
    if (!in_file.count(kind))
      fail(kOp, path, ": the resuming model has extension '", kind,
           "', but the training checkpoint was saved from a model without it; remove it or resume from a "
           "checkpoint of the same model");
}

struct Header {
  TrainState state;
  std::string kind;
  int64_t steps = 0, num_tensors = 0;
  double lr = 0.0;
};

Header parse_header(const std::string& path, const std::map<std::string, std::string>& meta) {
  auto it = meta.find(kStateKey);
  if (it == meta.end())
    fail(kOp, path, ": not a training checkpoint (no '", kStateKey,
         "' entry in the safetensors metadata); model-only checkpoints load with nn::load_model");
  Header h;
  try {
    const json j = json::parse(it->second);
    const int version = j.at("version").get<int>();
    if (version != kVersion) fail(kOp, path, ": unsupported training-checkpoint version ", version, " (this build reads ", kVersion, ")");
    h.state.epoch = j.at("epoch").get<int64_t>();
    h.state.step = j.at("step").get<int64_t>();
    h.state.next_batch = j.at("next_batch").get<int64_t>();
    for (auto& [name, v] : j.at("rng").items()) h.state.rng[name] = v.get<uint64_t>();
    const json& o = j.at("optimizer");
    h.kind = o.at("kind").get<std::string>();
    h.steps = o.at("steps").get<int64_t>();
    h.lr = o.at("lr").get<double>();
    h.num_tensors = o.at("tensors").get<int64_t>();
  } catch (const json::exception& e) {
    fail(kOp, path, ": bad '", kStateKey, "' metadata: ", e.what());
  }
  auto ex = meta.find(kExtraKey);
  if (ex != meta.end()) h.state.extra_json = ex->second;
  auto rc = meta.find(kRunConfigKey);
  if (rc != meta.end()) {
    try {
      const json j = json::parse(rc->second);
      if (!j.is_object()) fail(kOp, path, ": bad '", kRunConfigKey, "' metadata: expected a JSON object of strings");
      for (auto& [flag, v] : j.items()) h.state.run_config[flag] = v.get<std::string>();
    } catch (const json::exception& e) {
      fail(kOp, path, ": bad '", kRunConfigKey, "' metadata: ", e.what());
    }
  }
  return h;
}
}  // namespace

OptimizerState optimizer_state(const AdamW& opt) { return {"adamw", opt.state(), opt.steps(), opt.lr()}; }
OptimizerState optimizer_state(const SGD& opt) { return {"sgd", opt.state(), opt.steps(), opt.lr()}; }

void save_train_state(const std::string& path, const nn::VisionTransformer& model, const OptimizerState& optimizer,
                      const TrainState& state) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [name, t] : nn::state_dict(model)) tensors.emplace_back(kModelPrefix + name, t);
  for (size_t i = 0; i < optimizer.tensors.size(); ++i)
    tensors.emplace_back(kOptimPrefix + std::to_string(i), optimizer.tensors[i]);
  nn::refuse_non_finite(kOp, path, tensors);  // before anything is written: the last good state stays

  json rng = json::object();
  for (auto& [name, v] : state.rng) rng[name] = v;
  json j = {{"version", kVersion},
            {"epoch", state.epoch},
            {"step", state.step},
            {"next_batch", state.next_batch},
            {"rng", rng},
            {"optimizer",
             {{"kind", optimizer.kind},
              {"steps", optimizer.steps},
              {"lr", optimizer.lr},
              {"tensors", int64_t(optimizer.tensors.size())}}}};
  std::map<std::string, std::string> meta;
  try {
    meta = nn::model_metadata(model, path);  // config, prune log, extensions (as nn::save_model)
  } catch (const Error& e) {
    fail(kOp, path, ": cannot write the training checkpoint (any previous file is left intact): ", e.what());
  }
  meta[kStateKey] = j.dump();
  if (!state.extra_json.empty()) meta[kExtraKey] = state.extra_json;
  if (!state.run_config.empty()) meta[kRunConfigKey] = json(state.run_config).dump();
  meta["format"] = "pt";
  try {
    nn::write_safetensors(path, tensors, meta);
  } catch (const Error& e) {
    fail(kOp, path, ": cannot write the training checkpoint (any previous file is left intact): ", e.what());
  }
}

void save_train_state(const std::string& path, const nn::VisionTransformer& model, const AdamW& optimizer,
                      const TrainState& state) {
  save_train_state(path, model, optimizer_state(optimizer), state);
}
void save_train_state(const std::string& path, const nn::VisionTransformer& model, const SGD& optimizer,
                      const TrainState& state) {
  save_train_state(path, model, optimizer_state(optimizer), state);
}

TrainState load_train_state(const std::string& path, nn::VisionTransformer& model, OptimizerState& optimizer) {
  nn::SafetensorsFile file;
  try {
    file = nn::read_safetensors(path);
  } catch (const Error& e) {
    fail(kOp, path, ": cannot read the training checkpoint: ", e.what());
  }
  const Header h = parse_header(path, file.metadata);
  std::vector<nn::PruneStep> prune_log;
  std::vector<nn::SavedExtension> extensions;
  try {
    prune_log = nn::prune_log_in(file.metadata, path);
    extensions = nn::extensions_in(file.metadata, path);
  } catch (const Error& e) {
    fail(kOp, path, ": bad training checkpoint metadata: ", e.what());
  }
  check_extensions(path, model, extensions);

  // 1. optimizer: kind, count, shapes (validated before anything is copied)
  if (!optimizer.kind.empty() && !h.kind.empty() && optimizer.kind != h.kind)
    fail(kOp, path, ": the checkpoint holds a '", h.kind, "' optimizer state, but a '", optimizer.kind,
         "' optimizer is resuming");
  if (h.num_tensors != int64_t(optimizer.tensors.size()))
    fail(kOp, path, ": the checkpoint holds ", h.num_tensors, " optimizer tensors, the optimizer has ",
         optimizer.tensors.size(), " (different model, parameter groups or optimizer settings?)");
  std::vector<const Tensor*> optim(optimizer.tensors.size(), nullptr);
  std::vector<std::pair<std::string, Tensor>> weights;
  std::vector<std::string> stray;
  for (auto& [name, t] : file.tensors) {
    if (starts_with(name, kModelPrefix)) {
      weights.emplace_back(name.substr(kModelPrefix.size()), t);
    } else if (starts_with(name, kOptimPrefix)) {
      const std::string idx = name.substr(kOptimPrefix.size());
      size_t pos = 0;
      int64_t i = -1;
      try {
        i = std::stoll(idx, &pos);
      } catch (const std::exception&) {
      }
      if (pos != idx.size() || i < 0 || i >= int64_t(optim.size())) {
        stray.push_back(name);
        continue;
      }
      optim[size_t(i)] = &t;
    } else {
      stray.push_back(name);
    }
  }
  if (!stray.empty()) {
    std::string names;
    for (auto& s : stray) names += (names.empty() ? "" : ", ") + s;
    fail(kOp, path, ": unexpected tensors in the training checkpoint: ", names);
  }
  for (size_t i = 0; i < optim.size(); ++i) {
    if (!optim[i]) fail(kOp, path, ": optimizer tensor '", kOptimPrefix, i, "' is missing");
    if (optim[i]->shape() != optimizer.tensors[i].shape())
      fail(kOp, path, ": optimizer tensor '", kOptimPrefix, i, "' has shape ", shape_str(optim[i]->shape()),
           ", the optimizer expects ", shape_str(optimizer.tensors[i].shape()));
  }

  // 2. model: strict load (copies nothing unless every key matches)
  try {
    nn::load_state_dict(model, weights, /*strict=*/true);
  } catch (const Error& e) {
    auto cfg = file.metadata.find("shears.config");  // nn::model_metadata's config key
    fail(kOp, path, ": the model does not match the checkpoint: ", e.what(),
         cfg != file.metadata.end() ? "\n  checkpoint model config: " + cfg->second : std::string());
  }
  if (!prune_log.empty()) model.prune_log = std::move(prune_log);

  // 3. optimizer tensors and counters
  for (size_t i = 0; i < optim.size(); ++i) kernels::copy_(optimizer.tensors[i], *optim[i]);
  optimizer.steps = h.steps;
  optimizer.lr = h.lr;
  return h.state;
}

namespace {
// load_train_state for an optimizer with state(), set_steps() and set_lr() (AdamW, SGD).
template <typename Optimizer>
TrainState load_into_optimizer(const std::string& path, nn::VisionTransformer& model, Optimizer& optimizer) {
  OptimizerState s = optimizer_state(optimizer);
  TrainState st = load_train_state(path, model, s);
  optimizer.set_steps(s.steps);
  optimizer.set_lr(s.lr);
  return st;
}
}  // namespace

TrainState load_train_state(const std::string& path, nn::VisionTransformer& model, AdamW& optimizer) {
  return load_into_optimizer(path, model, optimizer);
}
TrainState load_train_state(const std::string& path, nn::VisionTransformer& model, SGD& optimizer) {
  return load_into_optimizer(path, model, optimizer);
}

TrainState read_train_state(const std::string& path) {
  std::map<std::string, std::string> meta;
  try {
    meta = nn::read_safetensors_metadata(path);
  } catch (const Error& e) {
    fail(kOp, path, ": cannot read the training checkpoint: ", e.what());
  }
  return parse_header(path, meta).state;
}

void save_generator(TrainState& state, const std::string& name, const Generator& gen) {
  state.rng[name] = gen.offset();
  state.rng[name + ".seed"] = gen.seed();
}

void restore_generator(const TrainState& state, const std::string& name, Generator& gen) {
  auto it = state.rng.find(name);
  SHEARS_CHECK(it != state.rng.end(), kOp, "the checkpoint has no offset for generator '", name, "'");
  auto seed = state.rng.find(name + ".seed");
  SHEARS_CHECK(seed == state.rng.end() || seed->second == gen.seed(), kOp, "generator '", name,
               "' was saved with seed ", seed->second, " but resumes with seed ", gen.seed(),
               "; resume with the seed the run started with");
  gen.set_offset(it->second);
}

}  // namespace shears::train
