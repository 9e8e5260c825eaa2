// The one name table between Hugging Face VideoMAE checkpoints
// (VideoMAEForVideoClassification / VideoMAEForPreTraining / VideoMAEModel) and shears'
// timm/original-VideoMAE names, incl. fusing HF's separate query/key/value weights into
// one qkv weight (rows q|k|v) and splitting it back.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace shears::nn {

// HF name                                                  shears name
// videomae.embeddings.patch_embeddings.projection.{w,b}    patch_embed.proj.{w,b}
// videomae.encoder.layer.{i}.layernorm_before.{w,b}        blocks.{i}.norm1.{w,b}
// videomae.encoder.layer.{i}.layernorm_after.{w,b}         blocks.{i}.norm2.{w,b}
// ...attention.attention.{query,key,value}.weight [W,C]x3  blocks.{i}.attn.qkv.weight [3W,C]
// ...attention.attention.{query,key,value}.bias   [W]x3    blocks.{i}.attn.qkv.bias [3W] (if present)
// ...attention.attention.{q_bias,v_bias}                   blocks.{i}.attn.{q_bias,v_bias}
// ...attention.output.dense.{w,b}                          blocks.{i}.attn.proj.{w,b}
// ...intermediate.dense.{w,b}                              blocks.{i}.mlp.fc1.{w,b}
// ...output.dense.{w,b}                                    blocks.{i}.mlp.fc2.{w,b}
// videomae.layernorm.{w,b}  (pretrain / no mean pooling)   norm.{w,b}
// fc_norm.{w,b}                                            fc_norm.{w,b}
// classifier.{w,b}                                         head.{w,b}
// The "videomae." prefix is optional on the HF side (a bare VideoMAEModel has none); the
// reverse direction always writes it.
//
// VideoMAEForPreTraining keys map to the original VideoMAE pretraining names (the ones
// nn/videomae_pretrain.h uses): decoder.decoder_layers.{i}.<layer suffix> ->
// decoder.blocks.{i}.<shears suffix> through the same per-layer table (q/k/v fused);
// decoder.norm.*, decoder.head.*, encoder_to_decoder.* and mask_token are already
// original names and pass through unchanged. `encoder_prefix` is put in front of every
// encoder name (patch_embed, blocks, norm): "" for the classification model, "encoder." for
// VideoMAEPretrain. Any key not in the table passes through unchanged, so a strict load
// reports it as unexpected instead of it being dropped silently.

// The eps of HF VideoMAEForVideoClassification's fc_norm: nn.LayerNorm(hidden_size) with PyTorch's
// default 1e-5, while its encoder layers (and shears' ln_eps) use 1e-6. load_safetensors sets
// it on a VisionTransformer's fc_norm when it loads an HF file that has fc_norm.* tensors, so
// config() then reports fc_norm_eps 1e-5 and save_model keeps it. Classifiers fine-tuned by
// shears from a pretraining checkpoint keep ln_eps (the original run_class_finetuning.py).
constexpr double kHfVideoMAEFcNormEps = 1e-5;

// True when the names contain HF VideoMAE encoder keys (embeddings.patch_embeddings or
// encoder.layer, with or without the "videomae." prefix).
bool looks_like_hf_videomae(const std::vector<std::string>& names);

// HF -> shears. Fuses query/key/value into qkv with kernels::concat along dim 0; throws
// shears::Error naming the layer when one of the three is missing or their shapes differ.
std::vector<std::pair<std::string, Tensor>> hf_videomae_to_shears(
    const std::vector<std::pair<std::string, Tensor>>& tensors, const std::string& encoder_prefix = "");

// shears -> HF. Splits qkv (rows divisible by 3) into contiguous query/key/value copies;
// names outside `encoder_prefix` (and not decoder.blocks / fc_norm / head) pass through.
std::vector<std::pair<std::string, Tensor>> shears_to_hf_videomae(
    const std::vector<std::pair<std::string, Tensor>>& tensors, const std::string& encoder_prefix = "");

}  // namespace shears::nn
