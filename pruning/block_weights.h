// The weights Gardener's block statistics are computed on: per transformer block, its four
// kernel matrices (attn.qkv, attn.proj, mlp.fc1, mlp.fc2 weights; biases, q/v biases and
// LayerNorms excluded), read off a model or straight from a safetensors file by name
// (timm/shears "blocks.N.attn.qkv.weight" or Hugging Face "encoder.layer.N.attention.
// attention.query.weight" ..., whose separate query/key/value matrices stand for qkv).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "nn/io/safetensors.h"
#include "nn/vision_transformer.h"

namespace shears::pruning {

struct BlockWeights {
  std::string name;               // "blocks.3" or "videomae.encoder.layer.3"
  std::vector<Tensor> matrices;   // the kernel matrices, pooled by the statistics (f32)
  std::vector<std::string> tensor_names;  // one per matrix, for messages
  int64_t count() const;          // total number of weights
};

// Where the blocks of a checkpoint were found.
enum class BlockLayout { Timm, HuggingFace };
const char* block_layout_name(BlockLayout layout);  // "timm/shears", "Hugging Face"

struct BlockSource {
  BlockLayout layout = BlockLayout::Timm;
  std::string prefix;                       // in front of "blocks." / "encoder.layer."
  std::vector<std::string> other_prefixes;  // blocks also found there (EMA copies, gradients): ignored
};

// The blocks of a model, in order (views of its parameters, no copy).
std::vector<BlockWeights> block_weights(const nn::VisionTransformer& model);

// The blocks of a checkpoint, found by name:
//   timm / shears:  <prefix>blocks.N.{attn.qkv, attn.proj, mlp.fc1, mlp.fc2}.weight
//   Hugging Face:   <prefix>encoder.layer.N.{attention.attention.{query,key,value},
//                   attention.output.dense, intermediate.dense, output.dense}.weight
// <prefix> is any string ("", "model.", "encoder.", "videomae.", "vit.", ...). Blocks under a prefix
// that contains "decoder" (MAE pretraining decoders) are ignored. When blocks sit under several
// prefixes, the shortest is taken (the others are listed in `source`) unless `prefix` names one.
// Throws shears::Error naming `path` when no block matches either pattern (listing the patterns),
// when the requested prefix has no blocks, when two shortest prefixes tie, when block numbers have
// gaps, or when a block lacks one of its matrices (naming the missing tensor).
std::vector<BlockWeights> block_weights(const nn::SafetensorsFile& file, const std::string& path,
                                        BlockSource* source = nullptr,
                                        const std::optional<std::string>& prefix = std::nullopt);

}  // namespace shears::pruning
