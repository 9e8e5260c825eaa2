// Model surgery (see surgery.h).
#include "pruning/surgery.h"

#include <string>

#include "autograd/node.h"
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
  Tensor fresh = kernels::index_select(slot, dim, from_vector(kept).to(slot.device()));
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

// ---------------------------------------------------------------- slice_by_gates

namespace {

constexpr const char* kSliceOp = "slice_by_gates";

// Positions kept by a gate's hard mask (value >= 0.5); every position when there is no gate.
std::vector<int64_t> hard_keep(const Tensor& gate, int64_t width) {
  if (!gate.defined()) return iota(width);
  const std::vector<double> v = kernels::to_dtype(kernels::contiguous(gate), DType::F64).to_vector<double>();
  std::vector<int64_t> keep;
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] >= 0.5) keep.push_back(int64_t(i));
  return keep;
}

// The gate as its hard mask (1 kept, 0 pruned), same dtype; undefined stays undefined.
Tensor hard_mask(const Tensor& gate) {
  if (!gate.defined()) return gate;
  const std::vector<int64_t> keep = hard_keep(gate, gate.numel());
  std::vector<double> m(size_t(gate.numel()), 0.0);
  for (int64_t k : keep) m[size_t(k)] = 1.0;
  return kernels::to_dtype(from_vector(m).to(gate.device()), gate.dtype());
}

void check_gate(const Tensor& gate, int64_t width, int64_t block, const char* name) {
  if (!gate.defined()) return;
  SHEARS_CHECK(gate.dim() == 1 && gate.size(0) == width, kSliceOp, "block ", block, " ", name, " has shape ",
               shape_str(gate.shape()), ", expected (", width, ",)");
  SHEARS_CHECK(gate.dtype() == DType::F32 || gate.dtype() == DType::F64, kSliceOp, "block ", block, " ", name,
               " must be a float tensor");
}

// The residual channels `keep` (positions in `current`) denote; stays `all` when nothing was removed.
nn::ChannelSubset compose(const nn::ChannelSubset& current, const std::vector<int64_t>& keep, int64_t dim) {
  if (current.all) {
    if (int64_t(keep.size()) == dim) return current;
    return nn::ChannelSubset::of(keep);
  }
  std::vector<int64_t> idx;
  for (int64_t k : keep) idx.push_back(current.index[size_t(k)]);
  return nn::ChannelSubset::of(idx);
}

// Slices a parameter along `dim` unless `kept` is every index (no copy, no slice recorded).
void slice_if_needed(Tensor& slot, const std::string& name, int64_t dim, const std::vector<int64_t>& kept,
                     std::vector<nn::ParameterSlice>& out) {
  if (int64_t(kept.size()) == slot.size(dim)) return;  // kept is sorted and unique: all of them
  slice_parameter(slot, name, dim, kept, out);
}

// Overwrites a (sliced) bias with `values` (same shape), keeping requires_grad.
void set_values(Tensor& slot, const Tensor& values) {
  Tensor fresh = kernels::to_dtype(kernels::contiguous(values), slot.dtype());
  if (slot.requires_grad()) fresh.set_requires_grad(true);
  slot = fresh;
}

// (width,) output of a branch on zero input (its constant output once nothing reaches it), then its out
// channels `out_keep`.
Tensor constant_at(const Tensor& branch_out, const std::vector<int64_t>& out_keep) {
  const Tensor flat = kernels::contiguous(kernels::reshape(branch_out, {branch_out.numel()}));
  return kernels::index_select(flat, 0, from_vector(out_keep).to(flat.device()));
}

struct BranchPlan {
  std::vector<int64_t> in_keep, inner_keep, out_keep;  // positions in the current widths
  bool skipped = false, constant = false;
  Tensor constant_value;  // (|out_keep|,) for a constant branch
};

BranchPlan plan_attention(nn::Block& b) {
  nn::Attention& a = *b.attn;
  BranchPlan p;
  p.in_keep = hard_keep(b.attn_in_gate, a.qkv->in_features());
  p.inner_keep = hard_keep(a.qkv_gate, a.head_dim);
  p.out_keep = hard_keep(b.attn_out_gate, a.proj->out_features());
  p.skipped = p.out_keep.empty();
  p.constant = !p.skipped && (a.width() == 0 || p.in_keep.empty() || p.inner_keep.empty());
  if (p.constant) {
    if (a.width() == 0) {
      p.constant_value = constant_at(a.proj->bias, p.out_keep);
    } else {  // the branch on a zero input with the hard head-dim mask: nothing of x reaches it any more
      const Tensor saved = a.qkv_gate;
      a.qkv_gate = hard_mask(saved);
      const Tensor zero = zeros({1, 1, a.qkv->in_features()}, a.qkv->weight.dtype());
      p.constant_value = constant_at(a.forward(zero), p.out_keep);
      a.qkv_gate = saved;
    }
  }
  return p;
}

BranchPlan plan_mlp(nn::Block& b) {
  nn::Mlp& m = *b.mlp;
  BranchPlan p;
  p.in_keep = hard_keep(b.mlp_in_gate, m.fc1->in_features());
  p.inner_keep = hard_keep(m.gate, m.hidden());
  p.out_keep = hard_keep(b.mlp_out_gate, m.fc2->out_features());
  p.skipped = p.out_keep.empty();
  p.constant = !p.skipped && (m.hidden() == 0 || p.in_keep.empty() || p.inner_keep.empty());
  if (p.constant) {
    if (m.hidden() == 0) {
      p.constant_value = constant_at(m.fc2->bias, p.out_keep);
    } else {
      const Tensor saved = m.gate;
      m.gate = hard_mask(saved);
      const Tensor zero = zeros({1, 1, m.fc1->in_features()}, m.fc1->weight.dtype());
      p.constant_value = constant_at(m.forward(zero), p.out_keep);
      m.gate = saved;
    }
  }
  return p;
}

void apply_attention(nn::Block& b, int64_t block, const BranchPlan& p, std::vector<nn::ParameterSlice>& out) {
  nn::Attention& a = *b.attn;
  const std::string at = "blocks." + std::to_string(block) + ".";
  const std::string pa = at + "attn.";
  const bool empty_inner = p.skipped || p.constant;
  const std::vector<int64_t> none;
  const std::vector<int64_t>& in_keep = empty_inner ? none : p.in_keep;
  // width entries kept: every head, the kept dims (none for a constant or skipped branch)
  const std::vector<int64_t> within = empty_inner ? none : width_indices(iota(a.heads), a.head_dim, p.inner_keep);
  std::vector<int64_t> qkv_rows;
  for (int64_t part = 0; part < 3; ++part)
    for (int64_t i : within) qkv_rows.push_back(part * a.width() + i);
  slice_if_needed(b.norm1->weight, at + "norm1.weight", 0, in_keep, out);
  slice_if_needed(b.norm1->bias, at + "norm1.bias", 0, in_keep, out);
  slice_if_needed(a.qkv->weight, pa + "qkv.weight", 0, qkv_rows, out);
  slice_if_needed(a.qkv->weight, pa + "qkv.weight", 1, in_keep, out);
  if (a.qkv->bias.defined()) slice_if_needed(a.qkv->bias, pa + "qkv.bias", 0, qkv_rows, out);
  if (a.q_bias.defined()) slice_if_needed(a.q_bias, pa + "q_bias", 0, within, out);
  if (a.v_bias.defined()) slice_if_needed(a.v_bias, pa + "v_bias", 0, within, out);
  slice_if_needed(a.proj->weight, pa + "proj.weight", 1, within, out);
  slice_if_needed(a.proj->weight, pa + "proj.weight", 0, p.out_keep, out);
  slice_if_needed(a.proj->bias, pa + "proj.bias", 0, p.out_keep, out);
  if (p.constant) set_values(a.proj->bias, p.constant_value);
  if (a.gate.defined() && a.gate.numel() != int64_t(within.size())) slice_tensor(a.gate, 0, within);
  if (empty_inner) {
    a.heads = 0;
    a.head_dim = 0;
    a.scale = 0.0;  // no q.k is computed any more
  } else {
    a.head_dim = int64_t(p.inner_keep.size());  // a.scale is kept: the surviving dims compute what they did
  }
  b.attn_in_channels = compose(b.attn_in_channels, in_keep, b.dim());
  b.attn_out_channels = compose(b.attn_out_channels, p.out_keep, b.dim());
}

void apply_mlp(nn::Block& b, int64_t block, const BranchPlan& p, std::vector<nn::ParameterSlice>& out) {
  nn::Mlp& m = *b.mlp;
  const std::string at = "blocks." + std::to_string(block) + ".";
  const std::string pm = at + "mlp.";
  const bool empty_inner = p.skipped || p.constant;
  const std::vector<int64_t> none;
  const std::vector<int64_t>& in_keep = empty_inner ? none : p.in_keep;
  const std::vector<int64_t>& hidden_keep = empty_inner ? none : p.inner_keep;
  slice_if_needed(b.norm2->weight, at + "norm2.weight", 0, in_keep, out);
  slice_if_needed(b.norm2->bias, at + "norm2.bias", 0, in_keep, out);
  slice_if_needed(m.fc1->weight, pm + "fc1.weight", 0, hidden_keep, out);
  slice_if_needed(m.fc1->weight, pm + "fc1.weight", 1, in_keep, out);
  slice_if_needed(m.fc1->bias, pm + "fc1.bias", 0, hidden_keep, out);
  slice_if_needed(m.fc2->weight, pm + "fc2.weight", 1, hidden_keep, out);
  slice_if_needed(m.fc2->weight, pm + "fc2.weight", 0, p.out_keep, out);
  slice_if_needed(m.fc2->bias, pm + "fc2.bias", 0, p.out_keep, out);
  if (p.constant) set_values(m.fc2->bias, p.constant_value);
  b.mlp_in_channels = compose(b.mlp_in_channels, in_keep, b.dim());
  b.mlp_out_channels = compose(b.mlp_out_channels, p.out_keep, b.dim());
}

}  // namespace

std::vector<nn::ParameterSlice> slice_by_gates(nn::VisionTransformer& model) {
  const int64_t depth = int64_t(model.blocks->size());
  // validate every gate before touching anything
  for (int64_t i = 0; i < depth; ++i) {
    const nn::Block& b = *model.blocks->items[size_t(i)];
    check_gate(b.attn_in_gate, b.attn->qkv->in_features(), i, "attn_in_gate");
    check_gate(b.attn_out_gate, b.attn->proj->out_features(), i, "attn_out_gate");
    check_gate(b.attn->qkv_gate, b.attn->head_dim, i, "attn.qkv_gate");
    check_gate(b.mlp_in_gate, b.mlp->fc1->in_features(), i, "mlp_in_gate");
    check_gate(b.mlp->gate, b.mlp->hidden(), i, "mlp.gate");
    check_gate(b.mlp_out_gate, b.mlp->fc2->out_features(), i, "mlp_out_gate");
  }
  std::vector<BranchPlan> attn_plans, mlp_plans;
  {
    NoGradGuard no_grad;  // constants are computed from the weights and gates as they are now
    for (auto& b : model.blocks->items) {
      attn_plans.push_back(plan_attention(*b));
      mlp_plans.push_back(plan_mlp(*b));
    }
  }
  std::vector<nn::ParameterSlice> out;
  for (int64_t i = 0; i < depth; ++i) {
    nn::Block& b = *model.blocks->items[size_t(i)];
    apply_attention(b, i, attn_plans[size_t(i)], out);
    apply_mlp(b, i, mlp_plans[size_t(i)], out);
    b.remove_channel_gates();
    b.attn->remove_qkv_gate();
    b.mlp->remove_gate();
  }
  return out;
}

}  // namespace shears::pruning
