// Helpers of the CUDA suite: seeded host tensors, and the comparison of a result computed on
// the GPU with the same computation on the host (the reference), element by element.
#pragma once
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <string>

#include "nn/config.h"
#include "tensor/creation.h"
#include "tensor/kernels.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace shears::test {

inline Device gpu() { return Device::cuda(0); }

// A small ViT for the model tests: 32x32x3 images, patch 8, width 64, `depth` blocks of 4 heads
// (head dim 16, MLP 128), 10 classes.
inline nn::ModelConfig small_vit(int64_t depth) {
  nn::ModelConfig c;
  c.arch = "vit";
  c.image_size = 32, c.in_chans = 3, c.patch_size = 8, c.dim = 64;
  c.blocks = nn::uniform_blocks(depth, 4, 16, 128);
  c.num_classes = 10;
  return c;
}

// Normal(0, 1) values on the host, reproducible from `seed`.
inline Tensor host_randn(const Shape& shape, uint64_t seed, DType dtype = DType::F32) {
  Generator g(seed);
  return randn(shape, dtype, &g);
}

// got (any device) equals expect (host): same shape and dtype, every element within
// atol + rtol * |expect| (NaN where expect is NaN). Reports the worst element.
inline void require_close(const Tensor& got, const Tensor& expect, double rtol = 1e-5, double atol = 1e-6,
                          const std::string& what = "") {
  INFO(what);
  REQUIRE(got.defined());
  REQUIRE(expect.defined());
  REQUIRE(shape_str(got.shape()) == shape_str(expect.shape()));
  REQUIRE(dtype_name(got.dtype()) == std::string(dtype_name(expect.dtype())));
  auto g = got.to_vector<double>();
  auto e = expect.to_vector<double>();
  double worst = 0;
  size_t worst_i = 0;
  bool nan_mismatch = false;
  for (size_t i = 0; i < e.size(); ++i) {
    if (std::isnan(e[i]) || std::isnan(g[i])) {
      if (std::isnan(e[i]) != std::isnan(g[i])) nan_mismatch = true;
      continue;
    }
    double excess = std::abs(g[i] - e[i]) / (atol + rtol * std::abs(e[i]));
    if (excess > worst) {
      worst = excess;
      worst_i = i;
    }
  }
  INFO("worst element " << worst_i << ": got " << (g.empty() ? 0 : g[worst_i]) << " expected "
                        << (e.empty() ? 0 : e[worst_i]) << " (" << worst << "x the tolerance)");
  CHECK_FALSE(nan_mismatch);
  CHECK(worst <= 1.0);
}

// Exact equality (integer and bool results, indices).
inline void require_equal(const Tensor& got, const Tensor& expect, const std::string& what = "") {
  INFO(what);
  REQUIRE(shape_str(got.shape()) == shape_str(expect.shape()));
  REQUIRE(dtype_name(got.dtype()) == std::string(dtype_name(expect.dtype())));
  CHECK(got.to_vector<double>() == expect.to_vector<double>());
}

}  // namespace shears::test
