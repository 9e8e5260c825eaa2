// Block kernel matrices from a model or a checkpoint (see block_weights.h).
#include "pruning/block_weights.h"

#include <map>
#include <regex>
#include <set>

#include "tensor/kernels.h"

namespace shears::pruning {

int64_t BlockWeights::count() const {
  int64_t n = 0;
  for (const auto& m : matrices) n += m.numel();
  return n;
}

const char* block_layout_name(BlockLayout layout) {
  return layout == BlockLayout::Timm ? "timm/shears" : "Hugging Face";
}

std::vector<BlockWeights> block_weights(const nn::VisionTransformer& model) {
  std::vector<BlockWeights> out;
  for (size_t i = 0; i < model.blocks->items.size(); ++i) {
    const nn::Block& b = *model.blocks->items[i];
    const std::string name = "blocks." + std::to_string(i);
    BlockWeights w;
    w.name = name;
    w.matrices = {b.attn->qkv->weight, b.attn->proj->weight, b.mlp->fc1->weight, b.mlp->fc2->weight};
    w.tensor_names = {name + ".attn.qkv.weight", name + ".attn.proj.weight", name + ".mlp.fc1.weight",
                      name + ".mlp.fc2.weight"};
    out.push_back(std::move(w));
  }
  return out;
}

namespace {

struct Pattern {
  BlockLayout layout;
  const char* block_stem;                // what follows the prefix, before N
  std::vector<std::string> suffixes;     // per matrix, after "N."
};

const std::vector<Pattern>& patterns() {
  static const std::vector<Pattern> p = {
      {BlockLayout::Timm, "blocks.", {"attn.qkv.weight", "attn.proj.weight", "mlp.fc1.weight", "mlp.fc2.weight"}},
      {BlockLayout::HuggingFace,
       "encoder.layer.",
       {"attention.attention.query.weight", "attention.attention.key.weight", "attention.attention.value.weight",
        "attention.output.dense.weight", "intermediate.dense.weight", "output.dense.weight"}},
  };
  return p;
}

std::string expected_patterns() {
  std::string s;
  for (const auto& p : patterns()) {
    s += "\n  ";
    s += block_layout_name(p.layout);
    s += ": <prefix>";
    s += p.block_stem;
    s += "N.{";
    for (size_t i = 0; i < p.suffixes.size(); ++i) s += (i ? ", " : "") + p.suffixes[i];
    s += "}";
  }
  return s;
}

// prefix -> block numbers found under it (any of the pattern's matrices counts).
std::map<std::string, std::set<int64_t>> find_blocks(const nn::SafetensorsFile& file, const Pattern& p) {
  std::string alternatives;
  for (const auto& s : p.suffixes) alternatives += (alternatives.empty() ? "" : "|") + std::regex_replace(s, std::regex("\\."), "\\.");
  const std::regex re("^(.*)" + std::regex_replace(std::string(p.block_stem), std::regex("\\."), "\\.") +
                      "([0-9]+)\\.(" + alternatives + ")$");
  std::map<std::string, std::set<int64_t>> found;
  std::smatch m;
  for (const auto& entry : file.tensors) {
    if (!std::regex_match(entry.first, m, re)) continue;
    const std::string prefix = m[1].str();
    if (prefix.find("decoder") != std::string::npos) continue;
    found[prefix].insert(std::stoll(m[2].str()));
  }
  return found;
}

Tensor as_f32(const Tensor& t, const std::string& path, const std::string& name) {
  SHEARS_CHECK(is_floating(t.dtype()), "block_weights", path, ": tensor '", name, "' has dtype ",
               dtype_name(t.dtype()), ", expected floating-point weights");
  Tensor c = t.dtype() == DType::F32 ? t : kernels::to_dtype(t, DType::F32);
  return kernels::contiguous(c);
}

}  // namespace

std::vector<BlockWeights> block_weights(const nn::SafetensorsFile& file, const std::string& path,
                                        BlockSource* source, const std::optional<std::string>& prefix_wanted) {
  const Pattern* chosen = nullptr;
  std::map<std::string, std::set<int64_t>> found;
  for (const auto& p : patterns()) {
    auto f = find_blocks(file, p);
    if (f.empty()) continue;
    SHEARS_CHECK(chosen == nullptr, "block_weights", path, ": the file holds both ", block_layout_name(chosen->layout),
                 " and ", block_layout_name(p.layout), " block names; expected one layout");
    chosen = &p;
    found = std::move(f);
  }
  SHEARS_CHECK(chosen != nullptr, "block_weights", path, ": no transformer blocks recognized among its ",
               file.tensors.size(), " tensors; expected names of the form", expected_patterns());
  std::string list;
  for (const auto& f : found) list += (list.empty() ? "'" : ", '") + f.first + "'";
  std::string prefix;
  if (prefix_wanted) {
    SHEARS_CHECK(found.count(*prefix_wanted), "block_weights", path, ": no ", block_layout_name(chosen->layout),
                 " blocks under the prefix '", *prefix_wanted, "'; blocks were found under ", list);
    prefix = *prefix_wanted;
  } else {
    prefix = found.begin()->first;
    bool tie = false;
    for (const auto& f : found) {
      if (f.first.size() < prefix.size()) prefix = f.first, tie = false;
      else if (f.first != prefix && f.first.size() == prefix.size()) tie = true;
    }
    SHEARS_CHECK(!tie, "block_weights", path, ": blocks found under several prefixes (", list,
                 ") and no single shortest one; name the encoder's prefix");
  }
  const std::set<int64_t> numbers = found.at(prefix);
  if (source) {
    source->layout = chosen->layout;
    source->prefix = prefix;
    source->other_prefixes.clear();
    for (const auto& f : found)
      if (f.first != prefix) source->other_prefixes.push_back(f.first);
  }
  const int64_t depth = static_cast<int64_t>(numbers.size());
  SHEARS_CHECK(*numbers.begin() == 0 && *numbers.rbegin() == depth - 1, "block_weights", path, ": block numbers under '",
               prefix, chosen->block_stem, "' are not 0..", depth - 1, " (found ", depth, " blocks, numbered ",
               *numbers.begin(), "..", *numbers.rbegin(), ")");
  std::vector<BlockWeights> out;
  for (int64_t i = 0; i < depth; ++i) {
    BlockWeights w;
    w.name = prefix + chosen->block_stem + std::to_string(i);
    for (const auto& suffix : chosen->suffixes) {
      const std::string name = w.name + "." + suffix;
      const Tensor* t = file.find(name);
      SHEARS_CHECK(t != nullptr, "block_weights", path, ": block ", i, " has no tensor '", name, "' (a ",
                   block_layout_name(chosen->layout), " block needs all of its kernel matrices)");
      w.matrices.push_back(as_f32(*t, path, name));
      w.tensor_names.push_back(name);
    }
    out.push_back(std::move(w));
  }
  return out;
}

}  // namespace shears::pruning
