// Backward engine semantics: seeds, accumulation across calls, zero_grad, detach,
// NoGradGuard, retain_graph, shared subexpressions, frozen inputs, and a leak check.
#include <catch2/catch.hpp>

#include "autograd/ops.h"

using namespace shears;

TEST_CASE("backward of a scalar and with an explicit seed", "[engine]") {
  Tensor x = from_vector(std::vector<double>{1, 2, 3}).set_requires_grad();
  backward(sum(x * x));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 4, 6});
  x.set_grad(Tensor());
  Tensor y = x * 3.0;
  backward(y, from_vector(std::vector<double>{1, 0, 2}));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3, 0, 6});
}

TEST_CASE("gradients accumulate across backward calls until zero_grad", "[engine]") {
  Tensor w = from_vector(std::vector<double>{0.5, -1}).set_requires_grad();
  for (int i = 0; i < 3; ++i) backward(sum(w * 2.0));
  CHECK(w.grad().to_vector<double>() == std::vector<double>{6, 6});
  zero_grad({w});
  CHECK_FALSE(w.grad().defined());
  backward(sum(w));
  CHECK(w.grad().to_vector<double>() == std::vector<double>{1, 1});
}

TEST_CASE("a tensor used twice gets the sum of both paths", "[engine]") {
  Tensor x = from_vector(std::vector<double>{2}).set_requires_grad();
  Tensor y = exp(x);
  backward(sum(y * y + y));  // d/dx (e^2x + e^x) = 2 e^2x + e^x
  double e = std::exp(2.0);
  CHECK(x.grad().item<double>() == Approx(2 * e * e + e).epsilon(1e-12));
}

TEST_CASE("detach and NoGradGuard stop recording", "[engine]") {
  Tensor x = from_vector(std::vector<double>{1, 2}).set_requires_grad();
  Tensor d = detach(x * 2.0);
  CHECK_FALSE(d.requires_grad());
  {
    NoGradGuard guard;
    Tensor y = x * x;
    CHECK_FALSE(y.requires_grad());
  }
  CHECK((x * x).requires_grad());
  // a frozen input (no requires_grad) gets no gradient and does not stop the others
  Tensor frozen = from_vector(std::vector<double>{3, 4});
  backward(sum(x * frozen));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3, 4});
  CHECK_FALSE(frozen.grad().defined());
}

TEST_CASE("a freed graph gives a clear error, retain_graph allows a second pass", "[engine]") {
  Tensor x = from_vector(std::vector<double>{1}).set_requires_grad();
  Tensor y = sum(exp(x));
  backward(y, Tensor(), /*retain_graph=*/true);
  backward(y);
  CHECK(x.grad().item<double>() == Approx(2 * std::exp(1.0)));
  REQUIRE_THROWS_WITH(backward(y), Catch::Contains("already freed"));
}

TEST_CASE("non-leaf tensors cannot be marked, outputs of ops do not alias inputs' history", "[engine]") {
  Tensor x = from_vector(std::vector<double>{1, 2}).set_requires_grad();
  Tensor y = contiguous(x);  // a no-op on a contiguous tensor
  CHECK(x.is_leaf());
  Tensor z = x * 1.0;
  REQUIRE_THROWS_WITH(z.set_requires_grad(true), Catch::Contains("[set_requires_grad]"));
  (void)y;
}

TEST_CASE("graphs that are never backpropagated are freed (no reference cycles)", "[engine]") {
  size_t before = cpu_bytes_in_use();
  {
    Tensor x = randn({256, 256}, DType::F32).set_requires_grad();
    for (int i = 0; i < 5; ++i) {
      Tensor y = exp(x) * sigmoid(x);
      Tensor z = softmax(matmul(y, x), -1);
      (void)z;
    }
  }
  CHECK(cpu_bytes_in_use() == before);
}
