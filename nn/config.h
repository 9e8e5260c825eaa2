// Model configurations: everything needed to rebuild a ViT/DeiT or VideoMAE model,
// pruned ones included (per-block widths), plus the preprocessing it expects. The
// config travels in a checkpoint's safetensors __metadata__ as JSON.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace shears::nn {

// Caps on every size of a ModelConfig (docs/DESIGN.md "Hostile input"). Far above any real
// ViT/DeiT/VideoMAE (ViT-22B: dim 6144, MLP 24576, 48 heads), low enough that every product
// of them (weight sizes, token counts) fits int64 and a config from a file or flags cannot ask
// for an absurd model. validate() refuses a config beyond them, naming the field.
inline constexpr int64_t kMaxModelDim = int64_t(1) << 16;      // dim, heads * head_dim
inline constexpr int64_t kMaxHeads = int64_t(1) << 12;         // heads per block
inline constexpr int64_t kMaxHeadDim = int64_t(1) << 12;       // head_dim
inline constexpr int64_t kMaxMlpHidden = int64_t(1) << 18;     // mlp_hidden
inline constexpr int64_t kMaxDepth = int64_t(1) << 10;         // number of blocks
inline constexpr int64_t kMaxImageSize = int64_t(1) << 14;     // image_size (and patch_size)
inline constexpr int64_t kMaxInChans = int64_t(1) << 10;       // in_chans
inline constexpr int64_t kMaxStemDepth = 8;                      // stem_depth
inline constexpr int64_t kMaxFrames = int64_t(1) << 12;        // frames (and tubelet)
inline constexpr int64_t kMaxPatchPixels = int64_t(1) << 24;   // in_chans * tubelet * patch^2
inline constexpr int64_t kMaxTokens = int64_t(1) << 20;        // num_tokens()
inline constexpr int64_t kMaxClasses = int64_t(1) << 24;       // num_classes

// The residual-stream channels a residual branch reads (its input side) or writes (its output
// side) after P3B channel slicing (pruning::slice_by_gates). `all` = every channel in the dense
// layout (the default: nothing is written to JSON, so existing configs are unchanged); otherwise
// `index` lists the channels, sorted, unique, in [0, dim) (JSON: "attn_in": [0, 3, ...]; [] = none).
struct ChannelSubset {
  bool all = true;
  std::vector<int64_t> index;
  int64_t width(int64_t dim) const { return all ? dim : static_cast<int64_t>(index.size()); }
  bool none() const { return !all && index.empty(); }
  static ChannelSubset of(std::vector<int64_t> channels) { return {false, std::move(channels)}; }
  bool operator==(const ChannelSubset& o) const { return all == o.all && (all || index == o.index); }
  bool operator!=(const ChannelSubset& o) const { return !(*this == o); }
};

// One transformer block's shape. Attention inner width = heads * head_dim (may differ
// from dim after structural pruning); MLP hidden width may differ per block.
//
// Channel subsets (P3B): each branch reads the residual channels `*_in` (its LayerNorm still
// normalises over all dim channels, then only these feed the branch; the LayerNorm weight/bias
// hold only these entries) and adds its output into the channels `*_out`. Three forms per branch:
//  - normal:   in and out non-empty, inner width >= 1;
//  - constant: in = [] and inner width 0 (attention: heads = head_dim = 0; MLP: mlp_hidden = 0), out
//              non-empty: the branch adds its out Linear's bias (proj.bias / fc2.bias, (|out|,)) at the out
//              channels, nothing else (METHODS.md §2.7: an all-zero in-gate leaves a constant output);
//  - skipped:  in = out = [] and inner width 0: no compute, zero-size parameters.
// validate() accepts an inner width of 0 exactly when the in subset is empty, and an empty out subset
// only together with an empty in subset.
struct BlockConfig {
  int64_t heads = 6;
  int64_t head_dim = 64;
  int64_t mlp_hidden = 1536;
  // q.k scale of the attention; 0 = 1/sqrt(head_dim). Set when head dims were pruned (the
  // surviving dims keep the original 1/sqrt(head_dim)); JSON key "attn_scale", written only when set.
  double attn_scale = 0.0;
  // JSON keys of the same names, written only when not all
  ChannelSubset attn_in = {}, attn_out = {}, mlp_in = {}, mlp_out = {};
  int64_t attn_width() const { return heads * head_dim; }
  bool dense_channels() const { return attn_in.all && attn_out.all && mlp_in.all && mlp_out.all; }
};

struct ModelConfig {
  std::string arch = "vit";      // "vit" (timm ViT/DeiT) or "videomae" (encoder + classifier)
  int64_t image_size = 224;      // square input, H = W
  int64_t in_chans = 3;
  int64_t patch_size = 16;
  int64_t frames = 1;            // video clip length (videomae)
  int64_t tubelet = 1;           // frames per tubelet (videomae: 2)
  int64_t dim = 384;             // embedding width
  // Convolutional stem (vit only; 0 = none, timm's plain patchify): a 3x3 "same" convolution from
  // in_chans to stem_channels channels + GELU at full resolution before the patch embedding, which
  // then reads stem_channels channels per pixel ("early convolutions", Xiao et al. 2021, reduced to
  // one layer). Parameters patch_embed.stem.{weight (S, in_chans, 3, 3), bias (S)}; JSON key
  // "stem_channels", written only when set.
  int64_t stem_channels = 0;
  // Layers of that stem (1 = the single conv above; needs stem_channels > 0): each further layer is a
  // 3x3 "same" convolution S -> S + GELU at full resolution, parameters
  // patch_embed.stem_conv{k}.{weight (S, S, 3, 3), bias (S)} for k = 1 .. stem_depth - 1; JSON key
  // "stem_depth", written only when above 1.
  int64_t stem_depth = 1;
  std::vector<BlockConfig> blocks;
  int64_t num_classes = 1000;    // 0: no head (features only)
  bool qkv_bias = true;          // vit: one qkv bias; videomae: q_bias and v_bias (k bias 0)
  double ln_eps = 1e-6;           // every block LayerNorm and the vit final norm
  // eps of the videomae classifier's fc_norm; 0 = ln_eps (configs without the JSON key
  // "fc_norm_eps" load unchanged). Hugging Face's VideoMAEForVideoClassification builds fc_norm
  // with PyTorch's default 1e-5 (kHfVideoMAEFcNormEps, set when an HF file is loaded); shears'
  // own VideoMAE fine-tuning follows the original run_class_finetuning.py (1e-6 = ln_eps).
  double fc_norm_eps = 0.0;
  double resolved_fc_norm_eps() const { return fc_norm_eps > 0 ? fc_norm_eps : ln_eps; }
  double drop_path = 0.0;        // max DropPath rate (linspace over depth)
  // preprocessing the weights were trained with
  std::vector<double> mean = {0.485, 0.456, 0.406};
  std::vector<double> std = {0.229, 0.224, 0.225};

  bool has_cls_token() const { return arch == "vit"; }
  int64_t grid() const { return image_size / patch_size; }
  int64_t num_patches() const { return (frames / tubelet) * grid() * grid(); }
  int64_t num_tokens() const { return num_patches() + (has_cls_token() ? 1 : 0); }
  int64_t patch_pixels() const { return in_chans * tubelet * patch_size * patch_size; }
  // channels per pixel the patch embedding reads (the stem's output when there is one)
  int64_t embed_chans() const { return stem_channels > 0 ? stem_channels : in_chans; }
  int64_t embed_pixels() const { return embed_chans() * tubelet * patch_size * patch_size; }
  int64_t depth() const { return static_cast<int64_t>(blocks.size()); }

  // Throws shears::Error naming the bad field (sizes < 1 or above the caps above, sizes not
  // divisible, empty blocks, ...). Checks run before any division, so a zero never divides.
  void validate() const;
  std::string to_json() const;
  static ModelConfig from_json(const std::string& json);  // throws naming the bad key
};

// Uniform-depth helper: `depth` blocks of the same shape.
std::vector<BlockConfig> uniform_blocks(int64_t depth, int64_t heads, int64_t head_dim, int64_t mlp_hidden);

// Presets (timm names). num_classes defaults to the preset's usual value.
ModelConfig deit_tiny_patch16_224(int64_t num_classes = 1000);
ModelConfig deit_small_patch16_224(int64_t num_classes = 1000);
ModelConfig deit_base_patch16_224(int64_t num_classes = 1000);
// Small-image ViT presets, patch 4: 28x28x1 (Fashion-MNIST) and 32x32x3.
ModelConfig vit_tiny_patch4_28(int64_t num_classes = 10);
ModelConfig vit_tiny_patch4_32(int64_t num_classes = 10);
// VideoMAE encoders for 16x224x224 clips (tubelet 2x16x16) and 16-frame 32x32 clips.
ModelConfig videomae_small_patch16_224(int64_t num_classes = 400);
ModelConfig videomae_base_patch16_224(int64_t num_classes = 400);
ModelConfig videomae_small_patch4_32(int64_t num_classes = 10);
// Looks a preset up by name; throws listing the known names.
ModelConfig preset(const std::string& name, int64_t num_classes);

}  // namespace shears::nn
