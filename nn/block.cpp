// Transformer Block, its P3B channel gates and channel-subset (sliced) forward, and DropPath
// (see block.h).
#include "nn/block.h"

#include "autograd/ops.h"

namespace shears::nn {

namespace {

Tensor channel_gate(int64_t width, bool requires_grad) {
  Tensor g = ones({width});
  if (requires_grad) g.set_requires_grad(true);
  return g;
}

}  // namespace

Block::Block(int64_t dim, const BlockConfig& cfg, QkvBias bias, double ln_eps, double drop_path_, Generator& gen)
    : attn_in_channels(cfg.attn_in), attn_out_channels(cfg.attn_out), mlp_in_channels(cfg.mlp_in),
      mlp_out_channels(cfg.mlp_out), drop_path(drop_path_), dim_(dim) {
  norm1 = std::make_shared<LayerNorm>(cfg.attn_in.width(dim), ln_eps);
  attn = std::make_shared<Attention>(cfg.attn_in.width(dim), cfg.heads, cfg.head_dim, bias, gen, cfg.attn_scale,
                                     cfg.attn_out.width(dim));
  norm2 = std::make_shared<LayerNorm>(cfg.mlp_in.width(dim), ln_eps);
  mlp = std::make_shared<Mlp>(cfg.mlp_in.width(dim), cfg.mlp_hidden, gen, cfg.mlp_out.width(dim));
  register_module("norm1", norm1);
  register_module("attn", attn);
  register_module("norm2", norm2);
  register_module("mlp", mlp);
}

BlockConfig Block::config() const {
  BlockConfig c{attn->heads, attn->head_dim, mlp->hidden(), attn->config_scale()};
  c.attn_in = attn_in_channels;
  c.attn_out = attn_out_channels;
  c.mlp_in = mlp_in_channels;
  c.mlp_out = mlp_out_channels;
  return c;
}

void Block::attach_channel_gates(bool requires_grad) {
  attn_in_gate = channel_gate(attn_in_channels.width(dim_), requires_grad);
  attn_out_gate = channel_gate(attn_out_channels.width(dim_), requires_grad);
  mlp_in_gate = channel_gate(mlp_in_channels.width(dim_), requires_grad);
  mlp_out_gate = channel_gate(mlp_out_channels.width(dim_), requires_grad);
}

void Block::remove_channel_gates() {
  attn_in_gate = Tensor();
  attn_out_gate = Tensor();
  mlp_in_gate = Tensor();
  mlp_out_gate = Tensor();
}

Tensor spread_channels(const Tensor& x, const ChannelSubset& channels, int64_t dim) {
  if (channels.all) return x;
  const int64_t k = channels.width(dim);
  SHEARS_CHECK(x.dim() >= 1 && x.size(-1) == k, "spread_channels", "expected (..., ", k, ") for ", k,
               " channels, got ", shape_str(x.shape()));
  std::vector<int64_t> from(size_t(dim), k);  // k = the appended zero column
  for (int64_t j = 0; j < k; ++j) from[size_t(channels.index[size_t(j)])] = j;
  Shape zero_shape = x.shape();
  zero_shape.back() = 1;
  return index_select(concat({x, zeros(zero_shape, x.dtype(), x.device())}, -1), -1, from_vector(from).to(x.device()));
}

Tensor Block::branch_input(const LayerNorm& norm, const ChannelSubset& in, const Tensor& gate,
                           const Tensor& x) const {
  Tensor h;
  if (in.all) {
    h = norm.forward(x);
  } else {  // statistics over all channels, only the kept ones written (one pass)
    h = layer_norm_select(x, from_vector(in.index).to(x.device()), norm.weight, norm.bias, norm.eps);
  }
  return gate.defined() ? h * gate : h;
}

Tensor Block::add_branch_output(const Tensor& x, const ChannelSubset& out_channels, const Tensor& gate,
                                const Tensor& out) const {
  Tensor a = gate.defined() ? out * gate : out;
  a = nn::drop_path(a, drop_path, is_training(), drop_path_gen, drop_path_shard);
  if (out_channels.all) return x + a;
  // x with `a` added at the out channels in one pass (x + spread_channels(a) without the D-wide temporaries);
  // a constant branch's (1 or B, 1, |out|) bias is broadcast first
  Shape src_shape = x.shape();
  src_shape.back() = a.size(-1);
  return index_add(x, -1, from_vector(out_channels.index).to(x.device()), a.shape() == src_shape ? a : expand(a, src_shape));
}

Tensor Block::constant_output(const Tensor& bias, const Tensor& x) const {
  Tensor c = reshape(bias, {1, 1, bias.size(0)});
  if (is_training() && drop_path > 0) c = expand(c, {x.size(0), 1, bias.size(0)});  // DropPath is per sample
  return c;
}

Tensor Block::forward(const Tensor& x_in, Tensor* after_attention) {
  const bool need_probs = keep_attention || static_cast<bool>(token_hook);
  SHEARS_CHECK(x_in.dim() == 3 && x_in.size(2) == dim_, "block", "expected x of shape (B, N, ", dim_, "), got ",
               shape_str(x_in.shape()));
  Tensor probs;
  Tensor x = x_in;
  if (attn_skipped() || attn_constant()) {
    SHEARS_CHECK(!need_probs, "block", "block ", index_, " has a ", attn_skipped() ? "skipped" : "constant",
                 " attention branch (P3B slicing): it has no attention probabilities for keep_attention or a token hook");
    if (attn_constant())
      x = add_branch_output(x_in, attn_out_channels, attn_out_gate, constant_output(attn->proj->bias, x_in));
  } else {
    Tensor a = attn->forward(branch_input(*norm1, attn_in_channels, attn_in_gate, x_in), need_probs ? &probs : nullptr);
    x = add_branch_output(x_in, attn_out_channels, attn_out_gate, a);
  }
  // kept without its autograd history, so a stored map does not hold the graph alive
  if (keep_attention) last_attention = Tensor::view_of(probs, probs.shape(), probs.strides(), probs.offset());
  if (after_attention) *after_attention = x;
  if (token_hook) x = token_hook(x, probs);
  if (mlp_skipped()) return x;
  if (mlp_constant()) return add_branch_output(x, mlp_out_channels, mlp_out_gate, constant_output(mlp->fc2->bias, x));
  return add_branch_output(x, mlp_out_channels, mlp_out_gate,
                           mlp->forward(branch_input(*norm2, mlp_in_channels, mlp_in_gate, x)));
}

bool Block::can_forward_pending() const {
  return !is_training() && !attn_in_gate.defined() && !attn_out_gate.defined() && !mlp_in_gate.defined() &&
         !mlp_out_gate.defined() && !token_hook && !keep_attention;
}

Tensor Block::resolve(const Pending& p) {
  if (!p.delta.defined()) return p.x;
  if (p.channels->all) return p.x + p.delta;
  return index_add(p.x, -1, from_vector(p.channels->index).to(p.x.device()), p.delta);
}

AddLayerNorm Block::pending_branch_input(const LayerNorm& norm, const ChannelSubset& in, const Pending& p) const {
  if (!p.delta.defined()) return {p.x, branch_input(norm, in, Tensor(), p.x)};
  const Device dev = p.x.device();
  const Tensor out_index = p.channels->all ? Tensor() : from_vector(p.channels->index).to(dev);
  const Tensor norm_index = in.all ? Tensor() : from_vector(in.index).to(dev);
  return add_layer_norm(p.x, p.delta, out_index, norm_index, norm.weight, norm.bias, norm.eps);
}

Block::Pending Block::forward_pending(const Pending& in) const {
  SHEARS_CHECK(can_forward_pending(), "block", "forward_pending needs eval mode and no channel gates, token hook or "
               "kept attention (block ", index_, ")");
  SHEARS_CHECK(in.x.dim() == 3 && in.x.size(2) == dim_, "block", "expected x of shape (B, N, ", dim_, "), got ",
               shape_str(in.x.shape()));
  Pending after = in;  // a skipped attention branch adds nothing: the pending output carries on
  if (attn_constant()) {
    const Tensor x = resolve(in);
    after = {add_branch_output(x, attn_out_channels, Tensor(), constant_output(attn->proj->bias, x)), Tensor(), nullptr};
  } else if (!attn_skipped()) {
    AddLayerNorm s = pending_branch_input(*norm1, attn_in_channels, in);
    after = {s.sum, attn->forward(s.normed), &attn_out_channels};
  }
  if (mlp_skipped()) return after;
  if (mlp_constant()) {
    const Tensor x = resolve(after);
    return {add_branch_output(x, mlp_out_channels, Tensor(), constant_output(mlp->fc2->bias, x)), Tensor(), nullptr};
  }
  AddLayerNorm s = pending_branch_input(*norm2, mlp_in_channels, after);
  return {s.sum, mlp->forward(s.normed), &mlp_out_channels};
}

// y = x * mask_b / (1 - p), mask_b ~ Bernoulli(1 - p) per sample;  backward through mul
Tensor drop_path(const Tensor& x, double p, bool training, Generator* gen, const SampleShard& shard) {
  if (!training || p <= 0.0) return x;
  Shape mask_shape(x.dim(), 1);
  mask_shape[0] = x.size(0);
  const bool sharded = shard.global > 0;  // data-parallel: draw the global batch's masks, keep our rows
  if (sharded) {
    SHEARS_CHECK(shard.first >= 0 && shard.first + x.size(0) <= shard.global, "drop_path", "a shard of ", x.size(0),
                 " samples at ", shard.first, " does not fit in a global batch of ", shard.global);
    mask_shape[0] = shard.global;
  }
  Tensor mask = bernoulli(mask_shape, 1.0 - p, x.dtype(), gen);
  if (sharded) mask = kernels::contiguous(kernels::narrow(mask, 0, shard.first, x.size(0)));
  return x * (mask.to(x.device()) * (1.0 / (1.0 - p)));  // drawn on the host: the same masks on every device
}

}  // namespace shears::nn
