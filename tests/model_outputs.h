// Model-level test helpers shared by the gate, surgery and slicing tests: a fixed random input batch
// for a config (images or clips), the eval-mode no-grad logits of a model, and the largest absolute
// difference of two logit vectors.
#pragma once
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "autograd/node.h"
#include "nn/vision_transformer.h"
#include "tensor/random.h"

namespace shears::test {

// Two inputs of the config's shape, N(0, 1) from a fixed seed.
inline Tensor input_for(const nn::ModelConfig& cfg) {
  Generator gen(9);
  if (cfg.arch == "vit") return randn({2, cfg.in_chans, cfg.image_size, cfg.image_size}, DType::F32, &gen);
  return randn({2, cfg.in_chans, cfg.frames, cfg.image_size, cfg.image_size}, DType::F32, &gen);
}

// Logits of `model` on x in eval mode without a graph (the model is left in eval mode).
inline std::vector<float> outputs(nn::VisionTransformer& model, const Tensor& x) {
  NoGradGuard ng;
  model.eval();
  return model.forward(x).to_vector<float>();
}

inline float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

}  // namespace shears::test
