// Pre-norm transformer block: x + DropPath(attn(norm1(x))), then a hook point where a
// token policy may select/fuse tokens (after the attention residual, before the MLP, as
// in EViT), then x + DropPath(mlp(norm2(x))).
#pragma once
#include <functional>
#include <memory>

#include "nn/attention.h"
#include "nn/config.h"

namespace shears::nn {

class Block : public Module {
 public:
  Block(int64_t dim, const BlockConfig& cfg, QkvBias bias, double ln_eps, double drop_path, Generator& gen);
  Tensor forward(const Tensor& x);  // x: (B, N, dim) -> (B, N', dim), N' < N when a hook prunes
  BlockConfig config() const { return {attn->heads, attn->head_dim, mlp->hidden(), attn->config_scale()}; }
  // The block's current 0-based position in its model's BlockList (-1 when in none). BlockList
  // keeps it current through block surgery, so hooks that read it follow the block.
  int64_t index() const { return index_; }
  void set_index(int64_t index) { index_ = index; }

  std::shared_ptr<LayerNorm> norm1, norm2;
  std::shared_ptr<Attention> attn;
  std::shared_ptr<Mlp> mlp;
  double drop_path = 0.0;  // per-sample residual drop probability in training
  Generator* drop_path_gen = nullptr;  // defaults to the process generator

  // Called after the attention residual with the tokens (B, N, dim) and the attention
  // probabilities (B, H, N, N); returns the tokens the MLP should see.
  std::function<Tensor(const Tensor& x, const Tensor& probs)> token_hook;
  // When true, the last forward's probabilities are kept in last_attention.
  bool keep_attention = false;
  Tensor last_attention;

 private:
  int64_t index_ = -1;
};

// DropPath: zero whole samples of a residual branch with probability p, scale the rest by 1/(1-p).
Tensor drop_path(const Tensor& x, double p, bool training, Generator* gen);

}  // namespace shears::nn
