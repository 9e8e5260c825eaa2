// A tiny learnable classification task for trainer and fine-tune tests: a 1-block ViT on 8x8
// grey images, and a data set whose class sets the brightness of one image quadrant (plus
// fixed per-sample noise), so a few epochs of AdamW learn it. Deterministic from a seed.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "autograd/ops.h"
#include "data/dataset.h"
#include "nn/vision_transformer.h"
#include "tensor/random.h"

namespace shears::test {

inline nn::ModelConfig tiny_vit_config(int64_t num_classes = 3) {
  nn::ModelConfig c;
  c.arch = "vit";
  c.image_size = 8, c.in_chans = 1, c.patch_size = 4, c.dim = 16;
  c.blocks = nn::uniform_blocks(1, 2, 8, 32);
  c.num_classes = num_classes;
  c.mean = {0.5}, c.std = {0.5};
  return c;
}

// Sample i: label i % classes; quadrant (label % 4) of the (1, 8, 8) image is bright.
class QuadrantDataset : public data::Dataset {
 public:
  QuadrantDataset(int64_t size, int64_t classes = 3, uint64_t seed = 1) : size_(size), classes_(classes), seed_(seed) {}
  int64_t size() const override { return size_; }
  int64_t num_classes() const override { return classes_; }
  std::string describe() const override { return "quadrant task of " + std::to_string(size_); }
  data::Sample get(int64_t index) const override {
    Generator gen(seed_ * 1000003 + uint64_t(index));
    Tensor img = kernels::contiguous(mul_scalar(rand({1, 8, 8}, DType::F32, &gen), 0.3));
    const int64_t label = index % classes_, q = label % 4;
    float* p = img.data<float>();
    for (int64_t y = 0; y < 4; ++y)
      for (int64_t x = 0; x < 4; ++x) p[(y + 4 * (q / 2)) * 8 + x + 4 * (q % 2)] += 0.7f;
    return {img, label, -1};
  }

 private:
  int64_t size_, classes_;
  uint64_t seed_;
};

// The per-sample transform the models expect: (x - mean) / std with the config's statistics.
inline data::Transform normalize_for(const nn::ModelConfig& c) {
  const float mean = float(c.mean[0]), inv_std = float(1.0 / c.std[0]);
  return [mean, inv_std](const Tensor& x, Generator&) { return mul_scalar(add_scalar(x, -mean), inv_std); };
}

}  // namespace shears::test
