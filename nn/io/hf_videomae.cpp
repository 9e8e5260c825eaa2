// Hugging Face VideoMAE <-> shears name mapping: one table of per-layer suffixes plus the
// top-level renames, q/k/v fusion into qkv (HF -> shears) and the split back.
#include "nn/io/hf_videomae.h"

#include <array>
#include <map>

#include "tensor/kernels.h"

namespace shears::nn {
namespace {

// Per-layer suffix pairs: HF (after "encoder.layer.{i}.") <-> shears (after "blocks.{i}.").
// q/k/v weights and biases are handled separately (fused).
const std::pair<const char*, const char*> kLayerTable[] = {
    {"layernorm_before.", "norm1."},
    {"layernorm_after.", "norm2."},
    {"attention.attention.q_bias", "attn.q_bias"},
    {"attention.attention.v_bias", "attn.v_bias"},
    {"attention.output.dense.", "attn.proj."},
    {"intermediate.dense.", "mlp.fc1."},
    {"output.dense.", "mlp.fc2."},
};
// Top-level prefixes: HF (after the optional "videomae.") <-> shears.
const std::pair<const char*, const char*> kTopTable[] = {
    {"embeddings.patch_embeddings.projection.", "patch_embed.proj."},
    {"layernorm.", "norm."},
};
// Outside the "videomae." base model.
const std::pair<const char*, const char*> kHeadTable[] = {
    {"fc_norm.", "fc_norm."},
    {"classifier.", "head."},
};
const char* const kQkv[3] = {"query", "key", "value"};

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// Parses "<prefix>{i}.<rest>"; false if s does not have that form. An index of more than 9 digits
// is not a layer (no overflow; the name passes through unchanged and a strict load reports it).
bool split_layer(const std::string& s, const std::string& prefix, int64_t& index, std::string& rest) {
  if (!starts_with(s, prefix)) return false;
  size_t pos = prefix.size(), dot = s.find('.', pos);
  if (dot == std::string::npos || dot == pos || dot - pos > 9) return false;
  index = 0;
  for (size_t i = pos; i < dot; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    index = index * 10 + (s[i] - '0');
  }
  rest = s.substr(dot + 1);
  return true;
}

// One layer's pending q/k/v pieces (weight or bias) and where the fused tensor goes.
struct QkvParts {
  std::array<Tensor, 3> parts;
  size_t slot = 0;    // index of the placeholder in the output
  std::string label;  // "layer 3" / "decoder layer 1", for errors
};

// Maps the HF suffix `rest` of one layer into `out` under the shears block prefix `blk`;
// q/k/v pieces are parked in `pending` until the whole layer has been seen.
void layer_to_shears(const std::string& hf, const std::string& rest, const std::string& blk,
                     const std::string& label, const Tensor& t, std::vector<std::pair<std::string, Tensor>>& out,
                     std::map<std::pair<std::string, std::string>, QkvParts>& pending) {
  for (int q = 0; q < 3; ++q) {
    const std::string p = std::string("attention.attention.") + kQkv[q] + ".";
    if (!starts_with(rest, p)) continue;
    const std::string kind = rest.substr(p.size());  // "weight" or "bias"
    if (kind != "weight" && kind != "bias") break;
    auto it = pending.find({blk, kind});
    if (it == pending.end()) {
      it = pending.emplace(std::make_pair(blk, kind), QkvParts{}).first;
      it->second.slot = out.size();
      it->second.label = label;
      out.emplace_back(blk + "attn.qkv." + kind, Tensor());
    }
    SHEARS_CHECK(!it->second.parts[q].defined(), "hf_videomae", label, ": ", hf, " appears twice");
    it->second.parts[q] = t;
    return;
  }
  for (const auto& [from, to] : kLayerTable)
    if (starts_with(rest, from)) {
      out.emplace_back(blk + to + rest.substr(std::string(from).size()), t);
      return;
    }
  out.emplace_back(hf, t);  // unknown: unchanged, so a strict load reports it
}

// Splits a shears block suffix `rest` into HF names under the layer prefix `layer`.
void layer_to_hf(const std::string& name, const std::string& rest, const std::string& layer, const Tensor& t,
                 std::vector<std::pair<std::string, Tensor>>& out) {
  if (rest == "attn.qkv.weight" || rest == "attn.qkv.bias") {
    const std::string kind = rest.substr(9);
    SHEARS_CHECK(t.dim() >= 1 && t.size(0) % 3 == 0, "hf_videomae", name, ": expected 3*W rows, got shape ",
                 shape_str(t.shape()));
    const int64_t w = t.size(0) / 3;
    for (int q = 0; q < 3; ++q)
      out.emplace_back(layer + "attention.attention." + kQkv[q] + "." + kind,
                       kernels::clone(kernels::narrow(t, 0, q * w, w)));
    return;
  }
  for (const auto& [hf, ours] : kLayerTable)
    if (starts_with(rest, ours)) {
      out.emplace_back(layer + hf + rest.substr(std::string(ours).size()), t);
      return;
    }
  out.emplace_back(name, t);
}

}  // namespace

bool looks_like_hf_videomae(const std::vector<std::string>& names) {
  for (const auto& n : names) {
    std::string s = starts_with(n, "videomae.") ? n.substr(9) : n;
    if (starts_with(s, "embeddings.patch_embeddings.") || starts_with(s, "encoder.layer.")) return true;
  }
  return false;
}

std::vector<std::pair<std::string, Tensor>> hf_videomae_to_shears(
    const std::vector<std::pair<std::string, Tensor>>& tensors, const std::string& encoder_prefix) {
  std::vector<std::pair<std::string, Tensor>> out;
  std::map<std::pair<std::string, std::string>, QkvParts> pending;  // (block prefix, "weight"/"bias")
  for (const auto& [hf, t] : tensors) {
    const std::string s = starts_with(hf, "videomae.") ? hf.substr(9) : hf;
    int64_t i = 0;
    std::string rest;
    if (split_layer(s, "encoder.layer.", i, rest)) {
      layer_to_shears(hf, rest, encoder_prefix + "blocks." + std::to_string(i) + ".", "layer " + std::to_string(i),
                      t, out, pending);
      continue;
    }
    if (split_layer(hf, "decoder.decoder_layers.", i, rest)) {
      layer_to_shears(hf, rest, "decoder.blocks." + std::to_string(i) + ".", "decoder layer " + std::to_string(i),
                      t, out, pending);
      continue;
    }
    std::string name = hf;  // decoder.norm/head, encoder_to_decoder, mask_token, unknown: unchanged
    for (const auto& [from, to] : kTopTable)
      if (starts_with(s, from)) name = encoder_prefix + to + s.substr(std::string(from).size());
    for (const auto& [from, to] : kHeadTable)
      if (starts_with(hf, from)) name = to + hf.substr(std::string(from).size());
    out.emplace_back(name, t);
  }
  for (auto& [key, qkv] : pending) {
    const std::string& kind = key.second;
    for (int q = 0; q < 3; ++q)
      if (!qkv.parts[q].defined()) {
        std::string have;
        for (int r = 0; r < 3; ++r)
          if (qkv.parts[r].defined()) have += std::string(have.empty() ? "" : ", ") + kQkv[r];
        fail("hf_videomae", qkv.label, ": attention.attention.", kQkv[q], ".", kind, " is missing (found ", have,
             "); cannot build ", out[qkv.slot].first);
      }
    for (int q = 1; q < 3; ++q)
      SHEARS_CHECK(qkv.parts[q].shape() == qkv.parts[0].shape(), "hf_videomae", qkv.label, ": query/key/value ",
                   kind, " shapes differ: ", shape_str(qkv.parts[0].shape()), " vs ",
                   shape_str(qkv.parts[q].shape()));
    out[qkv.slot].second = kernels::concat({qkv.parts[0], qkv.parts[1], qkv.parts[2]}, 0);
  }
  return out;
}

std::vector<std::pair<std::string, Tensor>> shears_to_hf_videomae(
    const std::vector<std::pair<std::string, Tensor>>& tensors, const std::string& encoder_prefix) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [name, t] : tensors) {
    const bool in_encoder = starts_with(name, encoder_prefix);
    const std::string s = in_encoder ? name.substr(encoder_prefix.size()) : name;
    int64_t i = 0;
    std::string rest;
    if (in_encoder && split_layer(s, "blocks.", i, rest)) {
      layer_to_hf(name, rest, "videomae.encoder.layer." + std::to_string(i) + ".", t, out);
      continue;
    }
    if (split_layer(name, "decoder.blocks.", i, rest)) {
      layer_to_hf(name, rest, "decoder.decoder_layers." + std::to_string(i) + ".", t, out);
      continue;
    }
    std::string hf_name = name;
    if (in_encoder)
      for (const auto& [hf, ours] : kTopTable)
        if (starts_with(s, ours)) hf_name = std::string("videomae.") + hf + s.substr(std::string(ours).size());
    for (const auto& [hf, ours] : kHeadTable)
      if (starts_with(name, ours)) hf_name = hf + name.substr(std::string(ours).size());
    out.emplace_back(hf_name, t);
  }
  return out;
}

}  // namespace shears::nn
