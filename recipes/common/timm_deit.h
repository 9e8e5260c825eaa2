// Loading a timm DeiT-S / DeiT-B ImageNet checkpoint (safetensors, timm parameter names) for
// fine-tuning on another data set: the variant is recognised from the tensor shapes, the
// backbone weights are loaded strictly and the classification head is replaced by a fresh one
// when the class count differs (or the file has none). Errors name the file and what was expected.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "data/dataset.h"
#include "nn/vision_transformer.h"

namespace shears::recipes {

// The timm preset a checkpoint holds, read from its shapes: patch_embed.proj.weight must be
// (384 or 768, 3, 16, 16) and pos_embed (1, 197, dim) (DeiT-S / DeiT-B at 224 px); the depth
// is the number of blocks.<i> present. Throws naming the file and the shapes found otherwise.
nn::ModelConfig timm_deit_config(const std::string& path, int64_t num_classes);

// The model of timm_deit_config(path, num_classes) with `drop_path` as its max DropPath rate,
// its backbone loaded from the file. The head is loaded too when its shape matches num_classes,
// else left freshly initialised (`head_replaced` says which). Extra tensors of the file
// (head_dist of distilled DeiT) are ignored.
std::shared_ptr<nn::VisionTransformer> load_timm_deit(const std::string& path, int64_t num_classes,
                                                      double drop_path, bool* head_replaced = nullptr);

// Any timm ViT/DeiT state dict (cls token, learned pos_embed): patch size, width, input size, per-block
// attention and MLP widths and the qkv bias are read from the shapes; the head count is not stored in a
// timm file: `heads` (0 = attention width / 64, timm's DeiT/ViT convention; an error when that does not
// divide). num_classes 0 = the file's head. Mean/std: ImageNet for 3 channels, 0.5 otherwise.
nn::ModelConfig timm_vit_config(const std::string& path, int64_t num_classes, int64_t heads);
std::shared_ptr<nn::VisionTransformer> load_timm_vit(const std::string& path, int64_t num_classes, int64_t heads,
                                                     bool* head_replaced = nullptr);
// A model of `cfg` with the file's weights: the backbone strictly, the head when its shape matches.
std::shared_ptr<nn::VisionTransformer> load_timm_model(const nn::ModelConfig& cfg, const std::string& path,
                                                       bool* head_replaced = nullptr);

// DeiT training augmentation for ImageNet-style folders (METHODS.md §7): RandomResizedCrop
// (size, scale 0.08-1, bicubic), flip 0.5, ImageNet normalization, RandomErasing 0.25 'pixel'.
// (RandAugment and color jitter are not implemented in shears::data.)
data::Transform deit_train_transform(int64_t size = 224, double erase = 0.25);
// DeiT evaluation: resize the shorter side to int(size / 0.875) (256 for 224, bicubic),
// center-crop size, ImageNet normalization.
data::Transform deit_eval_transform(int64_t size = 224);

}  // namespace shears::recipes
