// Model surgery: the only code that rewrites a model's modules. Drops whole blocks, prunes MLP
// hidden neurons (fc1 rows + bias, fc2 columns), attention heads and per-head dims (q/k/v rows,
// proj columns). Every function validates its arguments first (the model is untouched on error),
// keeps requires_grad on the replaced parameters, slices gates attached to the module the same
// way, and returns the ParameterSlices it made so that optimizers can follow (apply_slices).
#pragma once
#include <cstdint>
#include <vector>

#include "nn/parameter_slice.h"
#include "nn/vision_transformer.h"

namespace shears::pruning {

// Removes the blocks at the given 0-based indices (any order) in place and renumbers the
// survivors 0..k-1. An empty list changes nothing. Throws shears::Error naming the index and the
// depth when an index is out of range or repeated, or when every block would be removed.
// Returns one slice per parameter of every block: removed (new_name "") or renamed
// ("blocks.3.*" -> "blocks.2.*"; unchanged names are listed too, dim -1).
std::vector<nn::ParameterSlice> drop_blocks(nn::VisionTransformer& model, const std::vector<int64_t>& indices);

// The 0-based indices kept when `indices` are removed from a model of `depth` blocks (same
// validation as drop_blocks).
std::vector<int64_t> kept_blocks(int64_t depth, const std::vector<int64_t>& indices);

// Keeps the MLP hidden neurons `keep` (sorted, unique, in range, non-empty) of block `block`:
// fc1 rows + fc1 bias, fc2 columns (fc2 bias kept whole), and the MLP gate if any.
std::vector<nn::ParameterSlice> prune_mlp_hidden(nn::VisionTransformer& model, int64_t block,
                                                 const std::vector<int64_t>& keep);

// Keeps the attention heads `keep` (sorted, unique, in range, non-empty) of block `block`: the
// q, k and v rows of those heads (qkv bias, or q_bias/v_bias for VideoMAE), proj columns, and
// the attention gate if any. head_dim and the attention scale are unchanged.
std::vector<nn::ParameterSlice> prune_attention_heads(nn::VisionTransformer& model, int64_t block,
                                                      const std::vector<int64_t>& keep);

// Keeps the dims `keep` (sorted, unique, in [0, head_dim), non-empty) inside every head of block
// `block` (the same dims for every head): head_dim shrinks, the attention scale stays
// 1/sqrt(original head_dim) so the remaining dims compute what they did before.
std::vector<nn::ParameterSlice> prune_attention_dims(nn::VisionTransformer& model, int64_t block,
                                                     const std::vector<int64_t>& keep);

// P3B finalize (METHODS.md §2.1, §2.4, §2.7): physically slices every block by the HARD masks
// (gate >= 0.5 kept) of its attached P3B gates -- Block::attn_in_gate / attn_out_gate /
// mlp_in_gate / mlp_out_gate, Attention::qkv_gate (head dims shared by q, k, v and all heads) and
// Mlp::gate (hidden neurons); a missing gate keeps everything. Only the hard masks matter: kept
// entries are taken as 1 whatever their soft value (the caller sets hard masks first if it wants
// the gated and the sliced model to agree). Per branch:
//  - normal:   norm1/norm2 weight+bias and qkv/fc1 input columns keep the in channels; qkv rows keep
//              the kept head dims of every head (q, k, v; qkv bias or q_bias/v_bias), proj columns the
//              same; fc1 rows / fc1 bias / fc2 columns keep the hidden neurons; proj/fc2 rows + bias
//              keep the out channels. The attention scale stays what it was (1/sqrt(original head_dim)).
//  - constant: no in channel, no head dim or no hidden neuron left: the branch output no longer
//              depends on x; it is computed once (the branch on a zero input, hard masks applied) and
//              folded into proj.bias / fc2.bias (|out|,), with inner width 0 (heads = head_dim = 0,
//              mlp_hidden = 0) and zero-size other tensors (nn/config.h BlockConfig).
//  - skipped:  no out channel left: the branch is removed from the forward (every tensor zero-size).
// The block's channel subsets (BlockConfig::attn_in ...) record which residual channels remain, so
// save_model/load_model rebuild the sliced model from the file alone. Works on an already sliced
// model too (gates then index its current widths). Every attached P3B gate is removed afterwards
// (Attention::gate, not a P3B gate, is sliced and kept). Validates every gate's shape first (the
// model is untouched on error). Returns the ParameterSlices (a parameter sliced along two dims gets
// two, in order); a folded bias is sliced to the out channels and then overwritten, so optimizer
// state following the slices keeps its moments at those positions.
std::vector<nn::ParameterSlice> slice_by_gates(nn::VisionTransformer& model);

}  // namespace shears::pruning
