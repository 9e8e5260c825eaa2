// VisionTransformer: timm ViT/DeiT (cls token, learned position embedding, final norm,
// head on the cls token) and the VideoMAE encoder classifier (tubelet embedding, fixed
// sinusoidal positions, no cls token, mean pooling + fc_norm + head) in one class, built
// from a ModelConfig. Parameter names follow timm: patch_embed.proj.weight,
// blocks.3.attn.qkv.weight, norm.weight, head.weight ...
#pragma once
#include <memory>
#include <vector>

#include "nn/block.h"
#include "nn/config.h"
#include "nn/conv2d.h"
#include "nn/model_extension.h"
#include "nn/prune_log.h"

namespace shears::nn {

// Patch (2-D) or tubelet (3-D) embedding as one GEMM over flattened patches. The weight
// keeps the convolution layout (dim, C, [t,] p, p) so checkpoints load one to one. With a conv
// stem (images only) the patches are cut from the stem's stem_channels-channel output.
class PatchEmbed : public Module {
 public:
  PatchEmbed(const ModelConfig& cfg, Generator& gen);
  // images (B, C, H, W) or clips (B, C, T, H, W) -> tokens (B, num_patches, dim)
  Tensor forward(const Tensor& x) const;

  struct Proj : Module {
    Tensor weight, bias;
    Proj(Tensor w, Tensor b);
  };
  std::shared_ptr<Proj> proj;
  std::shared_ptr<Proj> stem;  // 3x3 conv stem (ModelConfig::stem_channels), null without one
  std::vector<std::shared_ptr<Conv2d>> stem_convs;  // its further layers (stem_depth - 1; "stem_conv1", ...)
  int64_t in_chans, patch, tubelet, frames, image_size, dim;

 private:
  // (B, C, H, W) -> (B, H, W, S): GELU of the 3x3 "same" convolution, as shifted copies + one GEMM
  // (only ops every device backend has), then GELU(conv2d) per further layer (the host's conv2d op)
  Tensor stem_forward(const Tensor& x) const;
};

// Children registered under numeric names ("blocks.0", "blocks.1", ...). Keeps every block's
// index() current: push_back sets it, assign renumbers 0..k-1 and sets -1 on blocks left out.
class BlockList : public Module {
 public:
  void push_back(std::shared_ptr<Block> b);
  void assign(std::vector<std::shared_ptr<Block>> blocks);  // renumbers 0..k-1
  size_t size() const { return items.size(); }
  std::shared_ptr<Block>& operator[](size_t i) { return items[i]; }
  std::vector<std::shared_ptr<Block>> items;
};

class VisionTransformer : public Module {
 public:
  explicit VisionTransformer(const ModelConfig& cfg, uint64_t seed = 0);

  Tensor forward(const Tensor& x);           // logits (B, num_classes)
  Tensor forward_features(const Tensor& x);  // pooled features (B, dim) before the head
  Tensor embed(const Tensor& x);             // tokens (B, N, dim) with positions added
  Tensor pool(const Tensor& tokens);         // (B, N, dim) -> (B, dim): cls + norm, or mean + fc_norm

  // Applies the preprocessing the weights expect: (x - mean) / std per channel, for
  // images (B, C, H, W) or clips (B, C, T, H, W) with values in [0, 1].
  Tensor normalize(const Tensor& x) const;

  // The configuration of the model as it is now (per-block widths read off the blocks).
  ModelConfig config() const;

  std::shared_ptr<PatchEmbed> patch_embed;
  Tensor cls_token;   // (1, 1, dim)          vit only
  Tensor pos_embed;   // (1, N, dim) learned  vit only
  Tensor pos_table;   // (1, N, dim) fixed sinusoid, not a parameter (videomae)
  std::shared_ptr<BlockList> blocks;
  std::shared_ptr<LayerNorm> norm;     // vit
  std::shared_ptr<LayerNorm> fc_norm;  // videomae
  std::shared_ptr<Linear> head;        // undefined when num_classes == 0

  // Provenance: the transforms applied to this model, in order (pruning/transform.h appends).
  std::vector<PruneStep> prune_log;
  // Runtime state that is part of what the model computes (token pruning); saved by save_model.
  std::vector<std::shared_ptr<ModelExtension>> extensions;

  // Opt-in cache for distillation: while keep_last_features is true, forward() stores its pooled
  // features (B, dim), graph included, in last_features (read the student's features without a
  // second forward). Off by default; not saved, not copied by clone_model.
  bool keep_last_features = false;
  Tensor last_features;

  // Opt-in sub-block feature tap for P3B's block performance indicator (METHODS.md §2.2): while
  // keep_sub_block_features is true, forward()/forward_features() store 2*depth+1 tensors (B, N, dim)
  // with their graph: [0] the embeddings entering block 0, [2i+1] the residual stream after block i's
  // attention residual (before its token hook, if any), [2i+2] after its MLP residual. Cleared at
  // every forward (left empty while off). Off by default; not saved, not copied by clone_model.
  bool keep_sub_block_features = false;
  std::vector<Tensor> sub_block_features;

 private:
  ModelConfig base_;
};

// The fixed 1-D sinusoidal table of VideoMAE: (1, n, dim), angle(pos, j) =
// pos / 10000^(2*floor(j/2)/dim), sin on even j, cos on odd j.
Tensor sinusoid_table(int64_t n, int64_t dim);

}  // namespace shears::nn
