// Pre-norm transformer block: x + DropPath(attn(norm1(x))), then a hook point where a
// token policy may select/fuse tokens (after the attention residual, before the MLP, as
// in EViT), then x + DropPath(mlp(norm2(x))). P3B adds channel gates on each branch's input
// and output, and its sliced form where each branch reads and writes a subset of the
// residual channels (BlockConfig's ChannelSubsets: normal, constant or skipped branches).
#pragma once
#include <functional>
#include <memory>

#include "autograd/ops.h"
#include "nn/attention.h"
#include "nn/config.h"

namespace shears::nn {

// The rows of a global batch one process holds in data-parallel training (set by train::Trainer
// from TrainerOptions::shard_*): samples [first, first + B) of a batch of `global` samples.
// global = 0: the batch is the whole batch.
struct SampleShard {
  int64_t first = 0;
  int64_t global = 0;
};

class Block : public Module {
 public:
  // Builds the dense block, or the sliced one when cfg has channel subsets (norm1/qkv read
  // |attn_in| channels, proj writes |attn_out|, likewise norm2/fc1/fc2 for the MLP).
  Block(int64_t dim, const BlockConfig& cfg, QkvBias bias, double ln_eps, double drop_path, Generator& gen);
  // x: (B, N, dim) -> (B, N', dim), N' < N when a hook prunes. after_attention (optional) receives
  // the residual stream after the attention residual, before the token hook (B, N, dim), graph kept.
  Tensor forward(const Tensor& x, Tensor* after_attention = nullptr);
  BlockConfig config() const;
  int64_t dim() const { return dim_; }  // width of the residual stream

  // The forward over a residual stream that may carry the previous branch's output not yet added: the stream
  // is x + delta (delta at *channels; none when delta is undefined). Each branch adds the pending delta in the
  // same pass as its layer norm (add_layer_norm: one read of the stream instead of two) and hands its own
  // output on as the new delta; resolve() adds the last one. Same results, bit for bit, as forward(); for
  // evaluation forwards of whole models (VisionTransformer::forward_features) when can_forward_pending().
  struct Pending {
    Tensor x, delta;
    const ChannelSubset* channels = nullptr;
  };
  // Eval mode, no channel gates, token hook or kept attention (what forward() would apply between branches).
  bool can_forward_pending() const;
  Pending forward_pending(const Pending& in) const;
  static Tensor resolve(const Pending& p);
  // The block's current 0-based position in its model's BlockList (-1 when in none). BlockList
  // keeps it current through block surgery, so hooks that read it follow the block.
  int64_t index() const { return index_; }
  void set_index(int64_t index) { index_ = index; }

  std::shared_ptr<LayerNorm> norm1, norm2;
  std::shared_ptr<Attention> attn;
  std::shared_ptr<Mlp> mlp;
  // Residual channels each branch reads / writes (all = dense). Set by the constructor from the
  // BlockConfig and by pruning::slice_by_gates together with the weights; config() reports them.
  ChannelSubset attn_in_channels, attn_out_channels, mlp_in_channels, mlp_out_channels;
  // Branch forms (BlockConfig): skipped = writes no channel (not computed at all); constant = reads
  // no channel, inner width 0, adds its out Linear's bias at the out channels.
  bool attn_skipped() const { return attn_out_channels.none(); }
  bool attn_constant() const { return !attn_skipped() && attn->width() == 0; }
  bool mlp_skipped() const { return mlp_out_channels.none(); }
  bool mlp_constant() const { return !mlp_skipped() && mlp->hidden() == 0; }

  // P3B channel gates (METHODS.md §2.1), each (width,) or undefined; conventions of Attention::gate
  // (not parameters, not saved, grad on request, absent = forward bit for bit unchanged):
  //  attn_in_gate  (|attn_in| = dim when dense): multiplies norm1's output channels (what qkv reads);
  //  attn_out_gate (|attn_out|): multiplies the attention branch output (proj) before DropPath and
  //                the residual add; mlp_in_gate / mlp_out_gate: the same for the MLP branch.
  // With attn->qkv_gate (head dims) and mlp->gate (hidden neurons) these are P3B's six gates.
  Tensor attn_in_gate, attn_out_gate, mlp_in_gate, mlp_out_gate;
  void attach_channel_gates(bool requires_grad = false);  // four gates of ones
  void remove_channel_gates();

  double drop_path = 0.0;  // per-sample residual drop probability in training
  Generator* drop_path_gen = nullptr;  // defaults to the process generator
  SampleShard drop_path_shard;         // data-parallel: masks are drawn for the global batch

  // Called after the attention residual with the tokens (B, N, dim) and the attention
  // probabilities (B, H, N, N); returns the tokens the MLP should see.
  std::function<Tensor(const Tensor& x, const Tensor& probs)> token_hook;
  // When true, the last forward's probabilities are kept in last_attention.
  bool keep_attention = false;
  Tensor last_attention;

 private:
  // norm(x) on the channels `in` (LayerNorm statistics over all dim channels), times `gate`.
  Tensor branch_input(const LayerNorm& norm, const ChannelSubset& in, const Tensor& gate, const Tensor& x) const;
  // x + DropPath(out * gate) with `out` (.., |out_channels|) added at out_channels.
  Tensor add_branch_output(const Tensor& x, const ChannelSubset& out_channels, const Tensor& gate,
                           const Tensor& out) const;
  // A constant branch's output: its bias (|out|,) shaped to broadcast against x (B, N, dim) (per sample in
  // training with DropPath).
  Tensor constant_output(const Tensor& bias, const Tensor& x) const;
  // The stream entering a normal branch and its input: (x + delta, norm of it on `in`) from a pending stream.
  AddLayerNorm pending_branch_input(const LayerNorm& norm, const ChannelSubset& in, const Pending& p) const;

  int64_t index_ = -1;
  int64_t dim_ = 0;
};

// (..., k) -> (..., dim): the entries of x placed at `channels` (k of them), zeros elsewhere.
// Differentiable (index_select on x with one appended zero column).
Tensor spread_channels(const Tensor& x, const ChannelSubset& channels, int64_t dim);

// DropPath: zero whole samples of a residual branch with probability p, scale the rest by 1/(1-p).
// With a shard, the masks are drawn for the global batch and rows [first, first + B) kept, so a
// process holding part of a batch drops exactly the samples a one-process run drops.
Tensor drop_path(const Tensor& x, double p, bool training, Generator* gen, const SampleShard& shard = {});

}  // namespace shears::nn
