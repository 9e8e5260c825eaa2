// Forward values of conv2d and batch_norm against hand-computed results and a naive loop,
// f32 gradients against f64, bit-identical results on 1 and 2 threads, and clear errors on
// bad inputs. (Float64 gradient checks of both ops are in test_gradcheck.cpp.)
#include <catch2/catch.hpp>

#include <cmath>

#include "tensor/parallel.h"
#include "test_util.h"

using namespace shears;
using shears::test::random_tensor;
using shears::test::ref_values;
using shears::test::Ref;
using shears::test::require_close;

namespace {

// Direct loop: y[b,h,w,o] = bias[o] + sum x[b, h+ky-p, w+kx-p, c] * weight[o, c, ky, kx]
Ref naive_conv(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), Cin = x.size(3), Cout = weight.size(0), k = weight.size(2);
  const int64_t p = k / 2;
  std::vector<double> xv = ref_values(x), wv = ref_values(weight), bv;
  if (bias.defined()) bv = ref_values(bias);
  std::vector<double> y;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t w = 0; w < W; ++w)
        for (int64_t o = 0; o < Cout; ++o) {
          double s = bias.defined() ? bv[o] : 0.0;
          for (int64_t c = 0; c < Cin; ++c)
            for (int64_t ky = 0; ky < k; ++ky)
              for (int64_t kx = 0; kx < k; ++kx) {
                const int64_t sy = h + ky - p, sx = w + kx - p;
                if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
                s += xv[((b * H + sy) * W + sx) * Cin + c] * wv[((o * Cin + c) * k + ky) * k + kx];
              }
          y.push_back(s);
        }
  return Ref({B, H, W, Cout}, y);
}

Tensor image_1_to_9() { return from_vector(std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 3, 3, 1}); }

}  // namespace

TEST_CASE("conv2d: 3x3 box filter of a known image", "[conv]") {
  Tensor y = conv2d(image_1_to_9(), ones({1, 1, 3, 3}, DType::F64));
  require_close(y, Ref({1, 3, 3, 1}, {12, 21, 16, 27, 45, 33, 24, 39, 28}), 0.0);
}

TEST_CASE("conv2d: cross-correlation orientation and bias (top-left tap shifts the image)", "[conv]") {
  Tensor w = zeros({1, 1, 3, 3}, DType::F64);
  kernels::fill_(kernels::narrow(kernels::narrow(w, 2, 0, 1), 3, 0, 1), 1.0);  // weight[0, 0, 0, 0] = 1
  Tensor y = conv2d(image_1_to_9(), w, from_vector(std::vector<double>{0.5}));
  // y[h, w] = x[h-1, w-1] + 0.5 (PyTorch Conv2d is a cross-correlation)
  require_close(y, Ref({1, 3, 3, 1}, {0.5, 0.5, 0.5, 0.5, 1.5, 2.5, 0.5, 4.5, 5.5}), 0.0);
}

TEST_CASE("conv2d: 1x1 kernel mixes channels per pixel", "[conv]") {
  Tensor x = from_vector(std::vector<double>{1, 10, 2, 20, 3, 30, 4, 40}, {1, 2, 2, 2});
  Tensor w = from_vector(std::vector<double>{2, -1, 0, 1}, {2, 2, 1, 1});  // out0 = 2 c0 - c1, out1 = c1
  require_close(conv2d(x, w), Ref({1, 2, 2, 2}, {-8, 10, -16, 20, -24, 30, -32, 40}), 0.0);
}

TEST_CASE("conv2d matches a direct loop (f64 and f32, non-contiguous input, 5x5 kernel)", "[conv]") {
  for (DType dt : {DType::F64, DType::F32}) {
    Tensor x = kernels::permute(random_tensor({2, 5, 4, 3}, dt, 1), {0, 2, 1, 3});  // (2, 4, 5, 3) strided
    Tensor w = random_tensor({4, 3, 3, 3}, dt, 2), b = random_tensor({4}, dt, 3);
    require_close(conv2d(x, w, b), naive_conv(x, w, b), dt == DType::F64 ? 1e-12 : 1e-5);
    Tensor w5 = random_tensor({2, 3, 5, 5}, dt, 4);
    require_close(conv2d(x, w5), naive_conv(x, w5, Tensor()), dt == DType::F64 ? 1e-12 : 1e-5);
  }
}

TEST_CASE("conv2d and batch_norm: f32 gradients agree with f64", "[conv]") {
  Tensor x64 = random_tensor({2, 4, 3, 3}, DType::F64, 5), w64 = random_tensor({2, 3, 3, 3}, DType::F64, 6);
  Tensor b64 = random_tensor({2}, DType::F64, 7), g64 = random_tensor({2}, DType::F64, 8, 0.5, 1.5);
  Tensor wt = random_tensor({2, 4, 3, 2}, DType::F64, 9);
  auto run = [&](DType dt) {
    Tensor x = kernels::to_dtype(x64, dt).set_requires_grad(true), w = kernels::to_dtype(w64, dt).set_requires_grad(true);
    Tensor b = kernels::to_dtype(b64, dt).set_requires_grad(true), g = kernels::to_dtype(g64, dt).set_requires_grad(true);
    Tensor y = batch_norm(conv2d(x, w, b), g, Tensor(), 1e-5);
    backward(sum(y * kernels::to_dtype(wt, dt)));
    return TensorList{x.grad(), w.grad(), b.grad(), g.grad()};
  };
  TensorList g32 = run(DType::F32), g64s = run(DType::F64);
  for (size_t i = 0; i < g32.size(); ++i) {
    INFO("gradient " << i);
    require_close(g32[i], g64s[i], 1e-4);
  }
  // the conv bias is cancelled by the batch norm that follows
  require_close(g64s[2], Ref({2}, {0.0, 0.0}), 1e-12);
}

TEST_CASE("batch_norm of a known vector, with batch statistics", "[batch_norm]") {
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 4}, {4, 1});
  Tensor mean, var;
  Tensor y = batch_norm(x, from_vector(std::vector<double>{2.0}), from_vector(std::vector<double>{1.0}), 0.0, &mean, &var);
  // mean 2.5, biased variance 1.25 in the normalisation, unbiased 5/3 reported
  const double s = 2.0 / std::sqrt(1.25);
  require_close(y, Ref({4, 1}, {1 - 1.5 * s, 1 - 0.5 * s, 1 + 0.5 * s, 1 + 1.5 * s}), 1e-15);
  require_close(mean, Ref({1}, {2.5}), 0.0);
  require_close(var, Ref({1}, {5.0 / 3.0}), 1e-15);
  // eps enters under the square root
  Tensor y_eps = batch_norm(x, Tensor(), Tensor(), 0.75);
  require_close(y_eps, Ref({4, 1}, {-0.75 * std::sqrt(2.0), -0.25 * std::sqrt(2.0), 0.25 * std::sqrt(2.0), 0.75 * std::sqrt(2.0)}), 1e-15);
}

TEST_CASE("batch_norm: statistics per channel over all leading dims (f32)", "[batch_norm]") {
  // (2, 2, 2): channel 0 = 1..4, channel 1 = 10 x channel 0 + 7: the same normalised values
  Tensor x = from_vector(std::vector<float>{1, 17, 2, 27, 3, 37, 4, 47}, {2, 2, 2});
  Tensor mean, var;
  Tensor y = batch_norm(x, Tensor(), Tensor(), 0.0, &mean, &var);
  const double a = 1.5 / std::sqrt(1.25), b = 0.5 / std::sqrt(1.25);
  require_close(y, Ref({2, 2, 2}, {-a, -a, -b, -b, b, b, a, a}), 1e-6);
  require_close(mean, Ref({2}, {2.5, 32.0}), 1e-7);
  require_close(var, Ref({2}, {5.0 / 3.0, 500.0 / 3.0}), 1e-6);
  CHECK(mean.dtype() == DType::F32);
  CHECK_FALSE(mean.requires_grad());
}

TEST_CASE("conv2d and batch_norm give the same bits on 1 and 2 threads", "[conv][batch_norm]") {
  Tensor x = random_tensor({4, 7, 7, 16}, DType::F32, 11).set_requires_grad(true);
  Tensor w = random_tensor({8, 16, 3, 3}, DType::F32, 12).set_requires_grad(true);
  Tensor g = random_tensor({8}, DType::F32, 13).set_requires_grad(true);
  Tensor wt = random_tensor({4, 7, 7, 8}, DType::F32, 14);
  const int saved = get_num_threads();
  auto run = [&](int threads) {
    set_num_threads(threads);
    zero_grad({x, w, g});
    Tensor y = batch_norm(conv2d(x, w), g, Tensor(), 1e-5);
    backward(sum(y * wt));
    return TensorList{kernels::clone(y), x.grad(), w.grad(), g.grad()};
  };
  TensorList one = run(1), two = run(2);
  set_num_threads(saved);
  for (size_t i = 0; i < one.size(); ++i) {
    INFO("tensor " << i);
    CHECK(ref_values(one[i]) == ref_values(two[i]));
  }
}

TEST_CASE("conv2d: bad inputs give errors naming the op and shapes", "[conv]") {
  using Catch::Contains;
  REQUIRE_THROWS_WITH(conv2d(zeros({3, 3, 1}), zeros({1, 1, 3, 3})),
                      Contains("[conv2d]") && Contains("(B, H, W, Cin)") && Contains("(3, 3, 1)"));
  REQUIRE_THROWS_WITH(conv2d(zeros({1, 4, 4, 1}), zeros({1, 1, 2, 2})),
                      Contains("[conv2d]") && Contains("odd") && Contains("(1, 1, 2, 2)"));
  REQUIRE_THROWS_WITH(conv2d(zeros({1, 4, 4, 1}), zeros({1, 1, 3, 1})), Contains("square kernel"));
  REQUIRE_THROWS_WITH(conv2d(zeros({1, 4, 4, 2}), zeros({1, 3, 3, 3})),
                      Contains("[conv2d]") && Contains("(1, 4, 4, 2)") && Contains("has 2 channels") &&
                          Contains("expects 3"));
  REQUIRE_THROWS_WITH(conv2d(zeros({1, 4, 4, 1}), zeros({1, 1, 3, 3}, DType::F64)), Contains("dtype mismatch"));
  REQUIRE_THROWS_WITH(conv2d(zeros({1, 4, 4, 1}), zeros({2, 1, 3, 3}), zeros({3})),
                      Contains("[conv2d]") && Contains("bias (3,)"));
}

TEST_CASE("batch_norm: bad inputs give errors naming the op and shapes", "[batch_norm]") {
  using Catch::Contains;
  REQUIRE_THROWS_WITH(batch_norm(zeros({4}), Tensor(), Tensor(), 1e-5), Contains("[batch_norm]") && Contains("(4,)"));
  REQUIRE_THROWS_WITH(batch_norm(zeros({1, 1, 3}), Tensor(), Tensor(), 1e-5),
                      Contains("more than one value per channel") && Contains("(1, 1, 3)"));
  REQUIRE_THROWS_WITH(batch_norm(zeros({4, 3}), zeros({2}), Tensor(), 1e-5),
                      Contains("[batch_norm]") && Contains("weight (2,)") && Contains("(4, 3)"));
  REQUIRE_THROWS_WITH(batch_norm(zeros({4, 3}), Tensor(), zeros({3}, DType::F64), 1e-5), Contains("bias (3,) f64"));
  REQUIRE_THROWS_WITH(batch_norm(zeros({4, 3}), Tensor(), Tensor(), -1.0), Contains("eps"));
}
