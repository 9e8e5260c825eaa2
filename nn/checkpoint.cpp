// Model checkpoints (see checkpoint.h).
#include "nn/checkpoint.h"

#include <algorithm>
#include <new>

#include "nn/io/non_finite.h"
#include "nn/io/safetensors.h"
#include "nn/io/state_dict.h"

namespace shears::nn {

namespace {

const char* kConfigKey = "shears.config";
const char* kPruneLogKey = "shears.prune_log";
const char* kExtensionsKey = "shears.extensions";

std::string key_where(const std::string& path, const char* key) {
  return str_cat(path, ": metadata '", key, "'");
}

// A sinusoid position table (videomae, not stored in the file) may take this many elements
// even when the file is smaller (16 MiB of f32); beyond it, no more than the file's elements.
constexpr int64_t kMinPositionTableBudget = int64_t(1) << 22;

// The untrusted config against the file's tensor table, before the model is built (building
// allocates every weight): the weights the config implies must fit in the tensor elements the
// file holds (so a few-byte config cannot claim gigabytes), and when the file uses shears' own
// names, each one must be there with the config's shape (the first difference is named).
void check_config_against_table(const ModelConfig& cfg, const SafetensorsTable& table, const std::string& path) {
  const auto expected = parameter_shapes(cfg);  // depth and widths are capped by validate()
  int64_t model_elems = 0, file_elems = 0;
  for (const auto& [name, shape] : expected) model_elems += shape_numel(shape);  // <= 2^50 under the caps
  for (const auto& e : table.tensors) file_elems += shape_numel(e.shape);       // <= the file size
  if (model_elems > file_elems)
    fail("load_model", path, ": the model config describes ", model_elems, " weights (depth ", cfg.depth(),
         ", dim ", cfg.dim, ") but the file's ", table.tensors.size(), " tensors hold only ", file_elems,
         " elements (", table.file_size, "-byte file); the config does not match the file (corrupt or hostile?)");
  if (!cfg.has_cls_token()) {
    const int64_t table_elems = cfg.num_tokens() * cfg.dim;  // the sinusoid position table built from the config
    if (table_elems > std::max(kMinPositionTableBudget, file_elems))
      fail("load_model", path, ": the model config asks for a ", cfg.num_tokens(), " x ", cfg.dim,
           " position table, more than the file's ", file_elems, " weight elements; the config does not match the file");
  }
  if (!table.find("patch_embed.proj.weight")) return;  // other names (HF, "module." prefixes): load_safetensors maps them
  for (const auto& [name, shape] : expected) {
    const SafetensorsTable::Entry* e = table.find(name);
    if (!e)
      fail("load_model", path, ": the model config implies tensor '", name, "' of shape ", shape_str(shape),
           ", which the file does not hold; the config does not match the file");
    if (e->shape != shape)
      fail("load_model", path, ": tensor '", name, "' has shape ", shape_str(e->shape), " in the file but the model "
           "config implies ", shape_str(shape), "; the config does not match the file");
  }
}

}  // namespace

std::vector<std::pair<std::string, Shape>> parameter_shapes(const ModelConfig& cfg) {
  cfg.validate();
  const int64_t d = cfg.dim;
  const bool video = cfg.arch == "videomae";
  std::vector<std::pair<std::string, Shape>> out;
  if (cfg.stem_channels > 0) {
    out.emplace_back("patch_embed.stem.weight", Shape{cfg.stem_channels, cfg.in_chans, 3, 3});
    out.emplace_back("patch_embed.stem.bias", Shape{cfg.stem_channels});
    for (int64_t k = 1; k < cfg.stem_depth; ++k) {
      const std::string name = "patch_embed.stem_conv" + std::to_string(k);
      out.emplace_back(name + ".weight", Shape{cfg.stem_channels, cfg.stem_channels, 3, 3});
      out.emplace_back(name + ".bias", Shape{cfg.stem_channels});
    }
  }
  out.emplace_back("patch_embed.proj.weight", video ? Shape{d, cfg.in_chans, cfg.tubelet, cfg.patch_size, cfg.patch_size}
                                                    : Shape{d, cfg.embed_chans(), cfg.patch_size, cfg.patch_size});
  out.emplace_back("patch_embed.proj.bias", Shape{d});
  if (cfg.has_cls_token()) {
    out.emplace_back("cls_token", Shape{1, 1, d});
    out.emplace_back("pos_embed", Shape{1, cfg.num_tokens(), d});
  }
  for (int64_t i = 0; i < cfg.depth(); ++i) {
    const BlockConfig& b = cfg.blocks[size_t(i)];
    const std::string at = str_cat("blocks.", i, ".");
    const int64_t w = b.attn_width(), h = b.mlp_hidden;
    // channel subsets of a P3B-sliced block (all = d): the widths each branch reads and writes
    const int64_t ai = b.attn_in.width(d), ao = b.attn_out.width(d), mi = b.mlp_in.width(d), mo = b.mlp_out.width(d);
    out.emplace_back(at + "norm1.weight", Shape{ai});
    out.emplace_back(at + "norm1.bias", Shape{ai});
    out.emplace_back(at + "attn.qkv.weight", Shape{3 * w, ai});
    if (cfg.qkv_bias && !video) out.emplace_back(at + "attn.qkv.bias", Shape{3 * w});
    if (cfg.qkv_bias && video) {
      out.emplace_back(at + "attn.q_bias", Shape{w});
      out.emplace_back(at + "attn.v_bias", Shape{w});
    }
    out.emplace_back(at + "attn.proj.weight", Shape{ao, w});
    out.emplace_back(at + "attn.proj.bias", Shape{ao});
    out.emplace_back(at + "norm2.weight", Shape{mi});
    out.emplace_back(at + "norm2.bias", Shape{mi});
    out.emplace_back(at + "mlp.fc1.weight", Shape{h, mi});
    out.emplace_back(at + "mlp.fc1.bias", Shape{h});
    out.emplace_back(at + "mlp.fc2.weight", Shape{mo, h});
    out.emplace_back(at + "mlp.fc2.bias", Shape{mo});
  }
  const std::string norm = video ? "fc_norm" : "norm";
  out.emplace_back(norm + ".weight", Shape{d});
  out.emplace_back(norm + ".bias", Shape{d});
  if (cfg.num_classes > 0) {
    out.emplace_back("head.weight", Shape{cfg.num_classes, d});
    out.emplace_back("head.bias", Shape{cfg.num_classes});
  }
  return out;
}

std::vector<PruneStep> prune_log_in(const std::map<std::string, std::string>& meta, const std::string& path) {
  auto it = meta.find(kPruneLogKey);
  if (it == meta.end()) return {};
  return prune_log_from_json(it->second, key_where(path, kPruneLogKey));
}

std::vector<SavedExtension> extensions_in(const std::map<std::string, std::string>& meta, const std::string& path) {
  auto it = meta.find(kExtensionsKey);
  if (it == meta.end()) return {};
  return extensions_from_json(it->second, key_where(path, kExtensionsKey));
}

std::map<std::string, std::string> model_metadata(const VisionTransformer& model, const std::string& path) {
  std::map<std::string, std::string> meta;
  meta[kConfigKey] = model.config().to_json();
  if (!model.prune_log.empty()) meta[kPruneLogKey] = prune_log_to_json(model.prune_log);
  if (!model.extensions.empty()) {
    try {
      meta[kExtensionsKey] = extensions_to_json(model.extensions);
    } catch (const Error& e) {
      fail("save_model", path, ": cannot save the model's extensions: ", e.what());
    }
  }
  return meta;
}

void save_model(const std::string& path, const VisionTransformer& model,
                const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> meta = extra;
  for (auto& [key, value] : model_metadata(model, path)) meta[key] = value;
  meta["format"] = "pt";  // tensors use PyTorch names and layouts
  const auto tensors = state_dict(model);
  refuse_non_finite("save_model", path, tensors);  // a diverged model never replaces a good file
  write_safetensors(path, tensors, meta);
}

namespace {

ModelConfig config_in(const std::map<std::string, std::string>& meta, const std::string& path) {
  auto it = meta.find(kConfigKey);
  if (it == meta.end())
    fail("checkpoint", path, ": no '", kConfigKey,
         "' entry in the safetensors metadata; this file was not written by shears. Build the model from a "
         "preset and load the weights with load_safetensors instead");
  try {
    return ModelConfig::from_json(it->second);
  } catch (const Error& e) {
    fail("checkpoint", path, ": bad model config: ", e.what());
  }
}

}  // namespace

ModelConfig read_model_config(const std::string& path) { return config_in(read_safetensors_metadata(path), path); }

std::vector<PruneStep> read_prune_log(const std::string& path) {
  return prune_log_in(read_safetensors_metadata(path), path);
}

std::shared_ptr<VisionTransformer> load_model(const std::string& path, const ExtensionRestorer& restorer) {
  const SafetensorsTable table = read_safetensors_table(path);
  const auto& meta = table.metadata;
  // parse everything before building, so a bad file fails fast
  std::vector<PruneStep> log = prune_log_in(meta, path);
  std::vector<SavedExtension> saved = extensions_in(meta, path);
  for (const auto& ext : saved)
    SHEARS_CHECK(restorer, "load_model", path, ": the model carries extension '", ext.kind,
                 "', which nn::load_model cannot restore; load it with pruning::load_model (pruning/provenance.h) "
                 "so it does not silently run without it");

  const ModelConfig cfg = config_in(meta, path);
  check_config_against_table(cfg, table, path);  // before building: the config is untrusted
  std::shared_ptr<VisionTransformer> model;
  try {
    model = std::make_shared<VisionTransformer>(cfg);
  } catch (const std::bad_alloc&) {
    fail("load_model", path, ": out of memory building the model its config describes (depth ", cfg.depth(),
         ", dim ", cfg.dim, ")");
  }
  load_safetensors(*model, path, /*strict=*/true);
  model->prune_log = std::move(log);
  for (const auto& ext : saved) {
    bool restored = false;
    try {
      restored = restorer(*model, ext.kind, ext.json);
    } catch (const Error& e) {
      fail("load_model", path, ": cannot restore extension '", ext.kind, "': ", e.what());
    }
    SHEARS_CHECK(restored, "load_model", path, ": no restorer for extension '", ext.kind,
                 "'; load it with pruning::load_model (pruning/provenance.h), which knows every extension shears "
                 "writes");
  }
  return model;
}

}  // namespace shears::nn
