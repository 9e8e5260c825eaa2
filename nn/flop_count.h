// Analytic FLOP and parameter counts for ViT/DeiT and VideoMAE configs (pruned ones included:
// per-block heads/head_dim/MLP widths and per-block token counts after token pruning), following
// fvcore's convention, plus a Markdown table of the per-block breakdown.
//
// Conventions (fvcore, `fvcore/nn/flop_count.py` + `jit_handles.py`; METHODS.md §8):
//  - One multiply-add = one "flop". fvcore's "GFLOPs" are therefore GMACs; multiply by 2 for
//    arithmetic operations. All counts are per sample (one image or one clip), forward only.
//  - Counted: every Linear/matmul (n*k*m, bias add ignored), the patch/tubelet embedding
//    (num_patches * dim * patch_pixels, bias ignored; with a conv stem, stem_channels per pixel
//    plus the stem's H*W*stem_channels*in_chans*9 and H*W*stem_channels^2*9 per further stem
//    layer), LayerNorm 5 per input element (affine),
//    and the two attention matmuls QK^T and AV, N*N*attn_width each. fvcore skips
//    scaled_dot_product_attention, so those are counted here explicitly: a counter that
//    drops them under-reports DeiT-S by 0.36 G and VideoMAE-B by 45.3 G.
//  - Not counted: softmax, GELU, residual adds, the 1/sqrt(d) scale, mean pooling, dropout.
//  - The head count does not change attention FLOPs: QK^T over h heads of width d costs
//    h * N*N*d = N*N*(h*d); only attn_width = heads * head_dim enters.
//  - Token pruning inside a block (EViT, entropy policies) happens after attention and before
//    the MLP: attention (norm1, qkv, QK^T, AV, proj) sees N_in tokens, norm2 and the MLP N_out.
//  - P3B channel subsets (BlockConfig::attn_in ...): qkv reads |attn_in| channels, proj writes
//    |attn_out|, fc1 reads |mlp_in|, fc2 writes |mlp_out|; a branch LayerNorm still costs 5*N*dim (its
//    statistics span every channel) unless the branch reads nothing; a constant branch (bias add) and
//    a skipped branch cost 0. The index/scatter copies of the sliced forward are not counted.
//  - Final norm: ViT applies timm's `norm` to all tokens it sees (5*N*dim); VideoMAE applies
//    `fc_norm` to the one mean-pooled vector (5*dim). Head: dim*num_classes (0 without a head).
// Reference values (tests/nn/test_flop_count.cpp): DeiT-S 4.608 G, DeiT-B 17.58 G, DeiT-T 1.258 G,
// VideoMAE-B 16x224 (400 classes) 180.49 G, 14.887 G per block.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "nn/config.h"

namespace shears::nn {

// (N_in, N_out): tokens entering a block and tokens left after its pruning point.
using TokenCounts = std::vector<std::pair<int64_t, int64_t>>;

// One block's FLOPs by part.
struct BlockFlops {
  int64_t tokens_in = 0;
  int64_t tokens_out = 0;
  double norm1 = 0;   // 5 * N_in * dim (0 when the attention branch reads no channel)
  double qkv = 0;     // N_in * |attn_in| * 3 * attn_width
  double attn = 0;    // QK^T + AV: 2 * N_in^2 * attn_width
  double proj = 0;    // N_in * attn_width * |attn_out|
  double norm2 = 0;   // 5 * N_out * dim (0 when the MLP branch reads no channel)
  double mlp = 0;     // fc1 + fc2: N_out * (|mlp_in| + |mlp_out|) * mlp_hidden
  double total() const { return norm1 + qkv + attn + proj + norm2 + mlp; }
};

struct FlopReport {
  double total = 0;
  double embed = 0;                 // patch / tubelet embedding (and the conv stem, when there is one)
  std::vector<double> per_block;    // blocks[i].total()
  std::vector<BlockFlops> blocks;   // breakdown by part
  double final_norm = 0;            // vit: norm over the last N_out tokens; videomae: fc_norm, 5*dim
  double head = 0;                  // dim * num_classes
};

// FLOPs of one block of `cfg` with shape `block`, N_in tokens entering, N_out after pruning.
BlockFlops count_block_flops(const ModelConfig& cfg, const BlockConfig& block, int64_t tokens_in,
                             int64_t tokens_out);

// Whole-model FLOPs. `tokens_per_block` empty: dense (N_in = N_out = cfg.num_tokens() for every
// block); otherwise one (N_in, N_out) per block with 1 <= N_out <= N_in and N_in of block i+1 equal to
// N_out of block i (block 0 may start below num_tokens(), e.g. MAE-style visible tokens only).
FlopReport count_flops(const ModelConfig& cfg, const TokenCounts& tokens_per_block = {});

// Token counts per block for keep-rate token pruning with the EViT rule: in a block with rate
// rho < 1 and N tokens (S special = 1 CLS for vit, 0 for videomae), left = ceil(rho * (N - S));
// if left < N - S the block keeps S + left tokens, plus one fused token when `fuse`. Rates >= 1
// never prune. `keep_rate_per_block` has one entry per block.
TokenCounts keep_rate_token_counts(const ModelConfig& cfg, const std::vector<double>& keep_rate_per_block,
                                   bool fuse);
// Same, with one `keep_rate` at the given 0-based block indices (EViT default: {3, 6, 9}).
TokenCounts keep_rate_token_counts(const ModelConfig& cfg, double keep_rate, const std::vector<int64_t>& locations,
                                   bool fuse);

// Parameters stored by a timm ViT / HF VideoMAE classifier with this config.
//  vit:      cls_token (dim) + pos_embed (N*dim) + patch_embed (dim*P + dim; P per embed_pixels, plus the stem's
//            S*(in_chans*9 + 1) + (stem_depth-1)*S*(S*9 + 1) when stem_channels = S > 0) + blocks
//            + norm (2*dim) + head
//  videomae: patch_embed (dim*P + dim) + blocks + fc_norm (2*dim) + head; the sinusoidal position
//            embedding is fixed, not a parameter.
//  block:    norm1 (2*dim) + qkv weight (3*aw*dim) + qkv bias (vit: 3*aw; videomae: q_bias + v_bias = 2*aw;
//            none when !qkv_bias) + proj (dim*aw + dim) + norm2 (2*dim) + fc1 (M*dim + M) + fc2 (dim*M + dim);
//            with P3B channel subsets dim is |attn_in| (norm1, qkv), |attn_out| (proj), |mlp_in| (norm2,
//            fc1), |mlp_out| (fc2) -- the shapes the sliced model stores.
//  head:     num_classes*dim + num_classes (none when num_classes == 0).
int64_t count_parameters(const ModelConfig& cfg);
int64_t count_block_parameters(const ModelConfig& cfg, const BlockConfig& block);

// Markdown table: one row per part (embedding, each block with its token counts and the parts of
// its cost, final norm, head, total), in G when the total is >= 1e9, otherwise in M.
std::string flop_table_markdown(const ModelConfig& cfg, const FlopReport& report);

}  // namespace shears::nn
