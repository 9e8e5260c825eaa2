// nn::Conv2d and nn::BatchNorm modules: PyTorch default init bounds, parameters vs running buffers,
// running statistics updated with momentum from the unbiased batch variance, eval mode on running stats.
#include <catch2/catch.hpp>

#include <cmath>

#include "autograd/ops.h"
#include "nn/batch_norm.h"
#include "nn/conv2d.h"

using namespace shears;

TEST_CASE("nn::Conv2d: layout, PyTorch default init, forward = conv2d op", "[conv_module]") {
  Generator gen(3);
  nn::Conv2d conv(4, 6, 3, true, gen);
  CHECK(conv.weight.shape() == Shape{6, 4, 3, 3});
  CHECK(conv.bias.shape() == Shape{6});
  CHECK(conv.named_parameters().size() == 2);
  const double bound = 1.0 / std::sqrt(36.0);
  double max_abs = 0.0;
  for (float w : conv.weight.to_vector<float>()) max_abs = std::max(max_abs, std::fabs(double(w)));
  CHECK(max_abs <= bound);
  CHECK(max_abs > 0.9 * bound);  // uniform over the whole range, not a narrow normal
  for (float b : conv.bias.to_vector<float>()) CHECK(std::fabs(b) <= bound);
  Tensor x = uniform({2, 5, 5, 4}, -1.0, 1.0, DType::F32, &gen);
  CHECK(conv.forward(x).to_vector<float>() == conv2d(x, conv.weight, conv.bias).to_vector<float>());
  nn::Conv2d no_bias(4, 6, 1, false, gen);
  CHECK_FALSE(no_bias.bias.defined());
  CHECK(no_bias.named_parameters().size() == 1);
  REQUIRE_THROWS_WITH(nn::Conv2d(4, 6, 2, false, gen), Catch::Contains("odd"));
}

TEST_CASE("nn::BatchNorm: running statistics in training, used in eval", "[batch_norm_module]") {
  nn::BatchNorm bn(1, 0.0, 0.1);
  CHECK(bn.named_parameters().size() == 2);  // running stats are not parameters
  CHECK_FALSE(bn.running_mean.requires_grad());
  Tensor x = from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2, 1});
  Tensor y = bn.forward(x);
  const double s = 1.0 / std::sqrt(1.25);
  CHECK(y.to_vector<float>()[0] == Approx(-1.5 * s));
  // mean 2.5, unbiased var 5/3: running = 0.9 * (0, 1) + 0.1 * batch
  CHECK(bn.running_mean.item<double>() == Approx(0.25));
  CHECK(bn.running_var.item<double>() == Approx(0.9 + 0.1 * 5.0 / 3.0));
  bn.forward(from_vector(std::vector<float>{10, 10, 12, 12}, {4, 1}));  // mean 11, unbiased var 4/3
  CHECK(bn.running_mean.item<double>() == Approx(0.9 * 0.25 + 1.1));
  const double rv = 0.9 * (0.9 + 0.1 * 5.0 / 3.0) + 0.1 * 4.0 / 3.0;
  CHECK(bn.running_var.item<double>() == Approx(rv));
  CHECK(bn.num_batches_tracked == 2);
  // eval: (x - running_mean) / sqrt(running_var + eps) * w + b, differentiable in w and b, stats unchanged
  bn.eval();
  kernels::fill_(bn.weight, 2.0);
  kernels::fill_(bn.bias, 0.5);
  Tensor ye = bn.forward(from_vector(std::vector<float>{3.0f}, {1, 1}));
  const double rm = 0.9 * 0.25 + 1.1;
  CHECK(ye.item<double>() == Approx((3.0 - rm) / std::sqrt(rv) * 2.0 + 0.5).epsilon(1e-6));
  CHECK(bn.running_mean.item<double>() == Approx(rm));
  CHECK(bn.num_batches_tracked == 2);
  backward(sum(ye));
  CHECK(bn.bias.grad().item<double>() == Approx(1.0));
  REQUIRE_THROWS_WITH(bn.forward(zeros({2, 3})), Catch::Contains("nn::BatchNorm") && Catch::Contains("(2, 3)"));
}
