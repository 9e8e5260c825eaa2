// ModelConfig: validation, JSON (de)serialisation for checkpoint metadata (strict: every
// malformed document, missing/unknown key or wrong type is an error naming the key), and
// the timm/VideoMAE presets with their preprocessing statistics.
#include "nn/config.h"

#include <cmath>
#include <functional>
#include <limits>
#include <utility>

#include <nlohmann/json.hpp>

#include "nn/io/bounded_json.h"
#include "tensor/error.h"

namespace shears::nn {

namespace {

constexpr const char* kOp = "model_config";
using Json = nlohmann::ordered_json;

// 1 <= v <= cap; the error names the field and the cap.
void require_in_range(const std::string& field, int64_t v, int64_t cap) {
  if (v < 1) fail(kOp, field, " must be >= 1, got ", v);
  if (v > cap) fail(kOp, field, " is ", v, ", above the cap of ", cap, " (docs/DESIGN.md, Hostile input)");
}

void validate_stats(const char* field, const std::vector<double>& v, int64_t in_chans, bool positive) {
  if (static_cast<int64_t>(v.size()) != in_chans)
    fail(kOp, field, " must have in_chans (", in_chans, ") entries, got ", v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) fail(kOp, field, "[", i, "] must be finite, got ", v[i]);
    if (positive && !(v[i] > 0)) fail(kOp, field, "[", i, "] must be > 0, got ", v[i]);
  }
}

// ---- typed JSON accessors: each names the key (with its path) on failure ----

const std::vector<std::string> kTopKeys = {"arch",  "image_size",  "in_chans", "patch_size", "frames",
                                           "tubelet", "dim",     "blocks",   "num_classes", "qkv_bias",
                                           "ln_eps",  "drop_path", "mean",   "std",  "fc_norm_eps",
                                           "stem_channels", "stem_depth"};
const std::vector<std::string> kBlockKeys = {"heads",   "head_dim", "mlp_hidden", "attn_scale",
                                             "attn_in", "attn_out", "mlp_in",     "mlp_out"};

// Keys of `obj` that are not in the known list for its level (top level: path "", blocks: "blocks[i].").
std::string unknown_keys(const Json& obj, const std::string& path) {
  const auto& known = path.empty() ? kTopKeys : kBlockKeys;
  std::string out;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool found = false;
    for (const auto& k : known) found = found || it.key() == k;
    if (!found) out += (out.empty() ? "'" : ", '") + path + it.key() + "'";
  }
  return out;
}

const Json& get_key(const Json& obj, const std::string& path, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    const std::string extra = unknown_keys(obj, path);
    if (extra.empty()) fail(kOp, "key '", path, key, "' missing");
    fail(kOp, "key '", path, key, "' missing (unknown keys present: ", extra, ")");
  }
  return *it;
}

int64_t get_int(const Json& obj, const std::string& path, const char* key) {
  const Json& v = get_key(obj, path, key);
  if (!v.is_number_integer())
    fail(kOp, "key '", path, key, "' must be an integer, got ", v.type_name(), " ", json_excerpt(v));
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    fail(kOp, "key '", path, key, "' is out of range: ", json_excerpt(v));
  return v.get<int64_t>();
}

double get_double(const Json& v, const std::string& name) {
  if (!v.is_number()) fail(kOp, "key '", name, "' must be a number, got ", v.type_name(), " ", json_excerpt(v));
  return v.get<double>();
}

std::vector<double> get_double_array(const Json& obj, const char* key) {
  const Json& v = get_key(obj, "", key);
  if (!v.is_array()) fail(kOp, "key '", key, "' must be an array of numbers, got ", v.type_name());
  std::vector<double> out;
  for (size_t i = 0; i < v.size(); ++i) out.push_back(get_double(v[i], str_cat(key, "[", i, "]")));
  return out;
}

// An optional channel subset ("attn_in": [0, 3, ...]); absent = all channels. Only the JSON type is
// checked here (an array of integers); order, uniqueness and range are validate()'s.
ChannelSubset get_subset(const Json& obj, const std::string& path, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return {};
  if (!it->is_array())
    fail(kOp, "key '", path, key, "' must be an array of channel indices, got ", it->type_name(), " ", json_excerpt(*it));
  ChannelSubset c;
  c.all = false;
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& v = (*it)[i];
    if (!v.is_number_integer() ||
        (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())))
      fail(kOp, "key '", path, key, "[", i, "]' must be a channel index (integer), got ", v.type_name(), " ",
           json_excerpt(v));
    c.index.push_back(v.get<int64_t>());
  }
  return c;
}

// "blocks[i].attn_in": sorted, unique, in [0, dim).
void validate_subset(const ChannelSubset& c, int64_t dim, const std::string& field) {
  if (c.all) return;
  for (size_t k = 0; k < c.index.size(); ++k) {
    const int64_t v = c.index[k];
    if (v < 0 || v >= dim) fail(kOp, field, "[", k, "] = ", v, " is not a channel of the residual stream (valid: 0..", dim - 1, ")");
    if (k > 0 && v <= c.index[k - 1])
      fail(kOp, field, " must be sorted and unique, got ", c.index[k - 1], " then ", v, " at [", k - 1, "], [", k, "]");
  }
}

// One branch's in/out subsets against its inner width (BlockConfig: normal, constant or skipped).
void validate_branch(const ChannelSubset& in, const ChannelSubset& out, int64_t inner, const std::string& at,
                     const char* branch, const char* inner_name) {
  if (inner == 0 && !in.none())
    fail(kOp, at, inner_name, " is 0, which is allowed only for a constant or skipped ", branch, " branch (", at,
         branch, "_in = [])");
  if (inner != 0 && in.none())
    fail(kOp, at, branch, "_in is empty, which requires ", at, inner_name,
         " = 0 (a constant branch: the out Linear's bias only)");
  if (out.none() && !in.none())
    fail(kOp, at, branch, "_out is empty (a skipped branch), which requires ", at, branch, "_in = [] and ", at,
         inner_name, " = 0");
}

// Rejects keys no reader knows (typos), after the required keys were found.
void check_no_unknown_keys(const Json& obj, const std::string& path) {
  const std::string extra = unknown_keys(obj, path);
  if (!extra.empty()) fail(kOp, "unknown key(s) ", extra);
}

}  // namespace

// ---------------------------------------------------------------- validate

void ModelConfig::validate() const {
  if (arch != "vit" && arch != "videomae")
    fail(kOp, "arch must be \"vit\" or \"videomae\", got \"", arch, "\"");
  // ranges first: every division and product below is then defined and fits int64
  require_in_range("image_size", image_size, kMaxImageSize);
  require_in_range("in_chans", in_chans, kMaxInChans);
  require_in_range("patch_size", patch_size, kMaxImageSize);
  require_in_range("frames", frames, kMaxFrames);
  require_in_range("tubelet", tubelet, kMaxFrames);
  require_in_range("dim", dim, kMaxModelDim);
  if (image_size % patch_size != 0)
    fail(kOp, "image_size (", image_size, ") must be divisible by patch_size (", patch_size, ")");
  if (frames % tubelet != 0)
    fail(kOp, "frames (", frames, ") must be divisible by tubelet (", tubelet, ")");
  if (arch == "vit" && (frames != 1 || tubelet != 1))
    fail(kOp, "frames and tubelet must be 1 for arch \"vit\", got frames ", frames, ", tubelet ", tubelet);
  if (stem_channels < 0 || stem_channels > kMaxInChans)
    fail(kOp, "stem_channels must be in [0, ", kMaxInChans, "] (0 = no stem), got ", stem_channels);
  if (stem_channels > 0 && arch != "vit")
    fail(kOp, "stem_channels (a convolutional stem) is supported for arch \"vit\" only, got arch \"", arch, "\"");
  if (stem_depth < 1 || stem_depth > kMaxStemDepth)
    fail(kOp, "stem_depth must be in [1, ", kMaxStemDepth, "] (1 = a single stem layer), got ", stem_depth);
  if (stem_depth > 1 && stem_channels == 0)
    fail(kOp, "stem_depth ", stem_depth, " needs a stem (stem_channels > 0), got stem_channels 0");
  if (patch_pixels() > kMaxPatchPixels)  // each factor is capped: the product fits int64
    fail(kOp, "in_chans * tubelet * patch_size^2 is ", patch_pixels(), ", above the cap of ", kMaxPatchPixels);
  if (embed_pixels() > kMaxPatchPixels)
    fail(kOp, "stem_channels * patch_size^2 is ", embed_pixels(), ", above the cap of ", kMaxPatchPixels);
  if (num_tokens() > kMaxTokens)
    fail(kOp, "the model has ", num_tokens(), " tokens ((frames / tubelet) * (image_size / patch_size)^2), above the cap of ",
         kMaxTokens);
  if (blocks.empty()) fail(kOp, "blocks must not be empty (depth >= 1)");
  if (depth() > kMaxDepth) fail(kOp, "depth (number of blocks) is ", depth(), ", above the cap of ", kMaxDepth);
  for (size_t i = 0; i < blocks.size(); ++i) {
    const BlockConfig& b = blocks[i];
    const std::string at = str_cat("blocks[", i, "].");
    validate_subset(b.attn_in, dim, at + "attn_in");
    validate_subset(b.attn_out, dim, at + "attn_out");
    validate_subset(b.mlp_in, dim, at + "mlp_in");
    validate_subset(b.mlp_out, dim, at + "mlp_out");
    // an inner width of 0 is the constant/skipped form of a sliced branch (BlockConfig), nothing else
    if (b.heads == 0 && b.head_dim == 0) {
      validate_branch(b.attn_in, b.attn_out, 0, at, "attn", "heads");
    } else {
      require_in_range(at + "heads", b.heads, kMaxHeads);
      require_in_range(at + "head_dim", b.head_dim, kMaxHeadDim);
      validate_branch(b.attn_in, b.attn_out, b.heads, at, "attn", "heads");
    }
    if (b.mlp_hidden != 0) require_in_range(at + "mlp_hidden", b.mlp_hidden, kMaxMlpHidden);
    validate_branch(b.mlp_in, b.mlp_out, b.mlp_hidden, at, "mlp", "mlp_hidden");
    if (b.attn_width() > kMaxModelDim)
      fail(kOp, at, "heads * head_dim is ", b.attn_width(), ", above the cap of ", kMaxModelDim);
    if (!(b.attn_scale >= 0) || !std::isfinite(b.attn_scale))
      fail(kOp, "blocks[", i, "].attn_scale must be 0 (= 1/sqrt(head_dim)) or a finite value > 0, got ", b.attn_scale);
  }
  if (num_classes < 0) fail(kOp, "num_classes must be >= 0 (0 = no head), got ", num_classes);
  if (num_classes > kMaxClasses) fail(kOp, "num_classes is ", num_classes, ", above the cap of ", kMaxClasses);
  if (!(ln_eps > 0) || !std::isfinite(ln_eps)) fail(kOp, "ln_eps must be a finite value > 0, got ", ln_eps);
  if (!(fc_norm_eps >= 0) || !std::isfinite(fc_norm_eps))
    fail(kOp, "fc_norm_eps must be 0 (= ln_eps) or a finite value > 0, got ", fc_norm_eps);
  if (!(drop_path >= 0 && drop_path < 1)) fail(kOp, "drop_path must be in [0, 1), got ", drop_path);
  validate_stats("mean", mean, in_chans, false);
  validate_stats("std", std, in_chans, true);
}

// ---------------------------------------------------------------- JSON

std::string ModelConfig::to_json() const {
  Json j;
  j["arch"] = arch;
  j["image_size"] = image_size;
  j["in_chans"] = in_chans;
  j["patch_size"] = patch_size;
  j["frames"] = frames;
  j["tubelet"] = tubelet;
  j["dim"] = dim;
  if (stem_channels > 0) j["stem_channels"] = stem_channels;
  if (stem_depth > 1) j["stem_depth"] = stem_depth;
  j["num_classes"] = num_classes;
  j["qkv_bias"] = qkv_bias;
  j["ln_eps"] = ln_eps;
  if (fc_norm_eps > 0) j["fc_norm_eps"] = fc_norm_eps;
  j["drop_path"] = drop_path;
  j["mean"] = mean;
  j["std"] = std;
  Json bl = Json::array();
  for (const BlockConfig& b : blocks) {
    Json jb{{"heads", b.heads}, {"head_dim", b.head_dim}, {"mlp_hidden", b.mlp_hidden}};
    if (b.attn_scale > 0) jb["attn_scale"] = b.attn_scale;
    const std::pair<const char*, const ChannelSubset*> subsets[] = {
        {"attn_in", &b.attn_in}, {"attn_out", &b.attn_out}, {"mlp_in", &b.mlp_in}, {"mlp_out", &b.mlp_out}};
    for (const auto& [key, c] : subsets)
      if (!c->all) jb[key] = c->index;
    bl.push_back(std::move(jb));
  }
  j["blocks"] = std::move(bl);
  return j.dump();
}

ModelConfig ModelConfig::from_json(const std::string& text) {
  Json j;
  try {  // depth-limited (excerpts of a value in errors cannot overflow the stack), duplicate keys refused
    j = parse_bounded_json<Json>(text, kOp, "config", "JSON");
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999999
    fail(kOp, "malformed JSON: ", e.what());
  }
  if (!j.is_object()) fail(kOp, "expected a JSON object, got ", j.type_name());
  ModelConfig c;
  const Json& arch = get_key(j, "", "arch");
  if (!arch.is_string()) fail(kOp, "key 'arch' must be a string, got ", arch.type_name());
  c.arch = arch.get<std::string>();
  c.image_size = get_int(j, "", "image_size");
  c.in_chans = get_int(j, "", "in_chans");
  c.patch_size = get_int(j, "", "patch_size");
  c.frames = get_int(j, "", "frames");
  c.tubelet = get_int(j, "", "tubelet");
  c.dim = get_int(j, "", "dim");
  c.stem_channels = j.contains("stem_channels") ? get_int(j, "", "stem_channels") : 0;  // optional: 0 = no stem
  c.stem_depth = j.contains("stem_depth") ? get_int(j, "", "stem_depth") : 1;  // optional: 1 layer
  c.num_classes = get_int(j, "", "num_classes");
  const Json& qkv_bias = get_key(j, "", "qkv_bias");
  if (!qkv_bias.is_boolean()) fail(kOp, "key 'qkv_bias' must be a boolean, got ", qkv_bias.type_name());
  c.qkv_bias = qkv_bias.get<bool>();
  c.ln_eps = get_double(get_key(j, "", "ln_eps"), "ln_eps");
  // optional: absent in files written before it existed (fc_norm then used ln_eps)
  c.fc_norm_eps = j.contains("fc_norm_eps") ? get_double(j["fc_norm_eps"], "fc_norm_eps") : 0.0;
  // drop_path is a training hyper-parameter, not part of the shape: optional, default 0.
  c.drop_path = j.contains("drop_path") ? get_double(j["drop_path"], "drop_path") : 0.0;
  c.mean = get_double_array(j, "mean");
  c.std = get_double_array(j, "std");

  const Json& bl = get_key(j, "", "blocks");
  if (!bl.is_array()) fail(kOp, "key 'blocks' must be an array of objects, got ", bl.type_name());
  c.blocks.clear();
  for (size_t i = 0; i < bl.size(); ++i) {
    const std::string path = str_cat("blocks[", i, "].");
    if (!bl[i].is_object()) fail(kOp, "key 'blocks[", i, "]' must be an object, got ", bl[i].type_name());
    BlockConfig b;
    b.heads = get_int(bl[i], path, "heads");
    b.head_dim = get_int(bl[i], path, "head_dim");
    b.mlp_hidden = get_int(bl[i], path, "mlp_hidden");
    if (bl[i].contains("attn_scale")) b.attn_scale = get_double(bl[i]["attn_scale"], path + "attn_scale");
    b.attn_in = get_subset(bl[i], path, "attn_in");
    b.attn_out = get_subset(bl[i], path, "attn_out");
    b.mlp_in = get_subset(bl[i], path, "mlp_in");
    b.mlp_out = get_subset(bl[i], path, "mlp_out");
    check_no_unknown_keys(bl[i], path);
    c.blocks.push_back(b);
  }
  check_no_unknown_keys(j, "");
  c.validate();
  return c;
}

// ---------------------------------------------------------------- presets

std::vector<BlockConfig> uniform_blocks(int64_t depth, int64_t heads, int64_t head_dim, int64_t mlp_hidden) {
  if (depth < 1) fail(kOp, "uniform_blocks: depth must be >= 1, got ", depth);
  BlockConfig b;
  b.heads = heads;
  b.head_dim = head_dim;
  b.mlp_hidden = mlp_hidden;
  return std::vector<BlockConfig>(static_cast<size_t>(depth), b);
}

namespace {

const std::vector<double> kImageNetMean = {0.485, 0.456, 0.406};
const std::vector<double> kImageNetStd = {0.229, 0.224, 0.225};

// Width `dim`, depth 12, head_dim 64 (heads = dim / 64), MLP ratio 4.
ModelConfig make(const std::string& arch, int64_t image_size, int64_t in_chans, int64_t patch, int64_t frames,
                 int64_t tubelet, int64_t dim, int64_t heads, int64_t num_classes, std::vector<double> mean,
                 std::vector<double> stdev) {
  ModelConfig c;
  c.arch = arch;
  c.image_size = image_size;
  c.in_chans = in_chans;
  c.patch_size = patch;
  c.frames = frames;
  c.tubelet = tubelet;
  c.dim = dim;
  c.blocks = uniform_blocks(12, heads, dim / heads, 4 * dim);
  c.num_classes = num_classes;
  c.qkv_bias = true;
  c.ln_eps = 1e-6;
  c.drop_path = 0.0;
  c.mean = std::move(mean);
  c.std = std::move(stdev);
  c.validate();
  return c;
}

}  // namespace

ModelConfig deit_tiny_patch16_224(int64_t num_classes) {
  return make("vit", 224, 3, 16, 1, 1, 192, 3, num_classes, kImageNetMean, kImageNetStd);
}
ModelConfig deit_small_patch16_224(int64_t num_classes) {
  return make("vit", 224, 3, 16, 1, 1, 384, 6, num_classes, kImageNetMean, kImageNetStd);
}
ModelConfig deit_base_patch16_224(int64_t num_classes) {
  return make("vit", 224, 3, 16, 1, 1, 768, 12, num_classes, kImageNetMean, kImageNetStd);
}
// Fashion-MNIST statistics.
ModelConfig vit_tiny_patch4_28(int64_t num_classes) {
  return make("vit", 28, 1, 4, 1, 1, 192, 3, num_classes, {0.2860}, {0.3530});
}
// CIFAR-10 statistics.
ModelConfig vit_tiny_patch4_32(int64_t num_classes) {
  return make("vit", 32, 3, 4, 1, 1, 192, 3, num_classes, {0.4914, 0.4822, 0.4465}, {0.2470, 0.2435, 0.2616});
}
// VideoMAE was trained with ImageNet mean/std (METHODS.md §6.4).
ModelConfig videomae_small_patch16_224(int64_t num_classes) {
  return make("videomae", 224, 3, 16, 16, 2, 384, 6, num_classes, kImageNetMean, kImageNetStd);
}
ModelConfig videomae_base_patch16_224(int64_t num_classes) {
  return make("videomae", 224, 3, 16, 16, 2, 768, 12, num_classes, kImageNetMean, kImageNetStd);
}
ModelConfig videomae_small_patch4_32(int64_t num_classes) {
  return make("videomae", 32, 3, 4, 16, 2, 192, 3, num_classes, kImageNetMean, kImageNetStd);
}

ModelConfig preset(const std::string& name, int64_t num_classes) {
  static const std::vector<std::pair<const char*, ModelConfig (*)(int64_t)>> table = {
      {"deit_tiny_patch16_224", deit_tiny_patch16_224},
      {"deit_small_patch16_224", deit_small_patch16_224},
      {"deit_base_patch16_224", deit_base_patch16_224},
      {"vit_tiny_patch4_28", vit_tiny_patch4_28},
      {"vit_tiny_patch4_32", vit_tiny_patch4_32},
      {"videomae_small_patch16_224", videomae_small_patch16_224},
      {"videomae_base_patch16_224", videomae_base_patch16_224},
      {"videomae_small_patch4_32", videomae_small_patch4_32},
  };
  std::string known;
  for (const auto& [n, fn] : table) {
    if (name == n) return fn(num_classes);
    known += known.empty() ? n : std::string(", ") + n;
  }
  fail(kOp, "unknown preset '", name, "'; known presets: ", known);
}

}  // namespace shears::nn
