// Model surgery (see surgery.h).
#include "pruning/surgery.h"

#include <string>

#include "tensor/creation.h"
#include "tensor/kernels.h"

namespace shears::pruning {

std::vector<int64_t> kept_blocks(int64_t depth, const std::vector<int64_t>& indices) {
  std::vector<bool> removed(size_t(depth > 0 ? depth : 0), false);
  for (int64_t i : indices) {
    SHEARS_CHECK(i >= 0 && i < depth, "drop_blocks", "block index ", i, " is out of range for a model of depth ",
                 depth, " (valid indices: 0..", depth - 1, ")");
    SHEARS_CHECK(!removed[size_t(i)], "drop_blocks", "block index ", i, " is listed twice (model depth ", depth, ")");
    removed[size_t(i)] = true;
  }
  SHEARS_CHECK(int64_t(indices.size()) < depth, "drop_blocks", "removing ", indices.size(),
               " blocks would leave none of the model's ", depth, " blocks; keep at least one");
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < depth; ++i)
    if (!removed[size_t(i)]) kept.push_back(i);
  return kept;
}

std::vector<nn::ParameterSlice> drop_blocks(nn::VisionTransformer& model, const std::vector<int64_t>& indices) {
  if (indices.empty()) return {};
  const int64_t depth = int64_t(model.blocks->size());
  const std::vector<int64_t> kept = kept_blocks(depth, indices);
  std::vector<int64_t> new_index(size_t(depth), -1);
  for (size_t k = 0; k < kept.size(); ++k) new_index[size_t(kept[k])] = int64_t(k);
  std::vector<nn::ParameterSlice> slices;
  for (int64_t i = 0; i < depth; ++i)
    for (const auto& [rel, t] : model.blocks->items[size_t(i)]->named_parameters()) {
      nn::ParameterSlice s;
      s.old_name = "blocks." + std::to_string(i) + "." + rel;
      if (new_index[size_t(i)] >= 0) s.new_name = "blocks." + std::to_string(new_index[size_t(i)]) + "." + rel;
      slices.push_back(std::move(s));
    }
  std::vector<std::shared_ptr<nn::Block>> survivors;
  for (int64_t i : kept) survivors.push_back(model.blocks->items[size_t(i)]);
  model.blocks->assign(std::move(survivors));
  return slices;
}

namespace {

// Throws naming `op` unless `block` indexes one of the model's blocks.
nn::Block& checked_block(nn::VisionTransformer& model, int64_t block, const char* op) {
  const int64_t depth = int64_t(model.blocks->size());
  SHEARS_CHECK(block >= 0 && block < depth, op, "block index ", block, " is out of range for a model of depth ",
               depth, " (valid indices: 0..", depth - 1, ")");
  return *model.blocks->items[size_t(block)];
}

// Throws naming `op` and `what` unless `keep` is non-empty, strictly increasing and in [0, limit).
void check_keep(const std::vector<int64_t>& keep, int64_t limit, const char* op, const std::string& what) {
  SHEARS_CHECK(!keep.empty(), op, "keeping no ", what, " of ", limit, " is not allowed; keep at least one");
  for (size_t i = 0; i < keep.size(); ++i) {
    SHEARS_CHECK(keep[i] >= 0 && keep[i] < limit, op, what, " index ", keep[i], " is out of range (valid: 0..",
                 limit - 1, ")");
    SHEARS_CHECK(i == 0 || keep[i] > keep[i - 1], op, what, " indices must be sorted and unique, got ", keep[i - 1],
                 " then ", keep[i]);
  }
}

// Replaces `slot` by its entries `kept` along `dim` (a fresh tensor; requires_grad carried over).
void slice_tensor(Tensor& slot, int64_t dim, const std::vector<int64_t>& kept) {
  Tensor fresh = kernels::index_select(slot, dim, from_vector(kept));
  if (slot.requires_grad()) fresh.set_requires_grad(true);
  slot = fresh;
}

// Slices a parameter and records it under `name`.
void slice_parameter(Tensor& slot, const std::string& name, int64_t dim, const std::vector<int64_t>& kept,
                     std::vector<nn::ParameterSlice>& out) {
  slice_tensor(slot, dim, kept);
  out.push_back({name, name, dim, kept});
}

// Rows/columns of the (heads * head_dim) attention width that survive: for every kept head h and
// kept dim d (in that order), h * head_dim + d.
std::vector<int64_t> width_indices(const std::vector<int64_t>& heads, int64_t head_dim,
                                   const std::vector<int64_t>& dims) {
  std::vector<int64_t> idx;
  for (int64_t h : heads)
    for (int64_t d : dims) idx.push_back(h * head_dim + d);
  return idx;
}

// Keeps the attention width entries `within` (indices into heads * head_dim) of every part
// (q, k, v rows of qkv; q_bias, v_bias; proj columns; the gate), then sets the new shape.
std::vector<nn::ParameterSlice> slice_attention(nn::Attention& attn, int64_t block, const std::vector<int64_t>& within,
                                                int64_t new_heads, int64_t new_head_dim) {
  const std::string p = "blocks." + std::to_string(block) + ".attn.";
  const int64_t width = attn.width();
  std::vector<int64_t> qkv_rows;
  for (int64_t part = 0; part < 3; ++part)
    for (int64_t i : within) qkv_rows.push_back(part * width + i);
  std::vector<nn::ParameterSlice> out;
  slice_parameter(attn.qkv->weight, p + "qkv.weight", 0, qkv_rows, out);
  if (attn.qkv->bias.defined()) slice_parameter(attn.qkv->bias, p + "qkv.bias", 0, qkv_rows, out);
  if (attn.q_bias.defined()) slice_parameter(attn.q_bias, p + "q_bias", 0, within, out);
  if (attn.v_bias.defined()) slice_parameter(attn.v_bias, p + "v_bias", 0, within, out);
  slice_parameter(attn.proj->weight, p + "proj.weight", 1, within, out);
  if (attn.gate.defined()) slice_tensor(attn.gate, 0, within);
  attn.heads = new_heads;
  attn.head_dim = new_head_dim;  // attn.scale is kept: the surviving dims compute what they did
  return out;
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = i;
  return v;
}

}  // namespace

std::vector<nn::ParameterSlice> prune_mlp_hidden(nn::VisionTransformer& model, int64_t block,
                                                 const std::vector<int64_t>& keep) {
  nn::Mlp& mlp = *checked_block(model, block, "prune_mlp_hidden").mlp;
  check_keep(keep, mlp.hidden(), "prune_mlp_hidden", "block " + std::to_string(block) + " MLP hidden neuron");
  const std::string p = "blocks." + std::to_string(block) + ".mlp.";
  std::vector<nn::ParameterSlice> out;
  slice_parameter(mlp.fc1->weight, p + "fc1.weight", 0, keep, out);
  if (mlp.fc1->bias.defined()) slice_parameter(mlp.fc1->bias, p + "fc1.bias", 0, keep, out);
  slice_parameter(mlp.fc2->weight, p + "fc2.weight", 1, keep, out);  // fc2.bias: output side, kept whole
  if (mlp.gate.defined()) slice_tensor(mlp.gate, 0, keep);
  return out;
}

std::vector<nn::ParameterSlice> prune_attention_heads(nn::VisionTransformer& model, int64_t block,
                                                      const std::vector<int64_t>& keep) {
  nn::Attention& attn = *checked_block(model, block, "prune_attention_heads").attn;
  check_keep(keep, attn.heads, "prune_attention_heads", "block " + std::to_string(block) + " attention head");
  return slice_attention(attn, block, width_indices(keep, attn.head_dim, iota(attn.head_dim)), int64_t(keep.size()),
                         attn.head_dim);
}

std::vector<nn::ParameterSlice> prune_attention_dims(nn::VisionTransformer& model, int64_t block,
                                                     const std::vector<int64_t>& keep) {
  nn::Attention& attn = *checked_block(model, block, "prune_attention_dims").attn;
  check_keep(keep, attn.head_dim, "prune_attention_dims", "block " + std::to_string(block) + " head dim");
  return slice_attention(attn, block, width_indices(iota(attn.heads), attn.head_dim, keep), attn.heads,
                         int64_t(keep.size()));
}

}  // namespace shears::pruning
