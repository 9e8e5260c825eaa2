// Loading the checkpoint a pruning recipe starts from, whatever wrote it: shears (config and prune
// log inside), timm ViT/DeiT (shapes read from the tensors), or a Hugging Face VideoMAE classifier.
// Errors name the file and what was expected.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "nn/vision_transformer.h"

namespace shears::recipes {

// "shears" (a shears.config entry in the metadata), "hf-videomae" (encoder.layer.* tensors) or "timm".
std::string detect_checkpoint_format(const std::string& path);

// A Hugging Face VideoMAE classifier: width, tubelet, patch, depth, MLP widths and classes from the
// shapes; clip length, frame size and head count are not stored in the weights (`frames`,
// `image_size`, `heads`; heads 0 = width / 64 as in VideoMAE-S/B). num_classes 0 = the file's
// classifier; a file without one needs num_classes (a fresh head).
std::shared_ptr<nn::VisionTransformer> load_hf_videomae(const std::string& path, int64_t num_classes, int64_t heads,
                                                        int64_t frames, int64_t image_size);

struct InputModelOptions {
  std::string format = "auto";  // auto, shears, timm, hf-videomae
  int64_t num_classes = 0;       // timm / HF: 0 = the file's head
  int64_t heads = 0;             // timm / HF: 0 = attention width / 64
  int64_t frames = 16;           // HF VideoMAE clip length
  int64_t image_size = 224;      // HF VideoMAE frame size
};

// The model of `path` in `o.format` (auto: detect_checkpoint_format); `format` receives the format
// used and `head_replaced` whether a timm file's head was replaced by a fresh one.
std::shared_ptr<nn::VisionTransformer> load_input_model(const std::string& path, const InputModelOptions& o,
                                                        std::string& format, bool* head_replaced = nullptr);

}  // namespace shears::recipes
