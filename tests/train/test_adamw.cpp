// AdamW against a hand computation of two steps, and the decay/no-decay split.
#include <catch2/catch.hpp>

#include <cmath>

#include "autograd/ops.h"
#include "nn/linear.h"
#include "train/adamw.h"

using namespace shears;

TEST_CASE("two AdamW steps match the formula", "[train][adamw]") {
  Tensor p = from_vector(std::vector<float>{1.0f, -2.0f}).set_requires_grad();
  train::AdamWOptions o;
  o.lr = 0.1;
  o.beta1 = 0.9;
  o.beta2 = 0.99;
  o.eps = 1e-8;
  train::AdamW opt({{{p}, 0.05, 1.0}}, o);
  double w[2] = {1.0, -2.0}, m[2] = {0, 0}, v[2] = {0, 0};
  for (int t = 1; t <= 2; ++t) {
    opt.zero_grad();
    backward(sum(p * p * 3.0));  // g = 6 p
    opt.step();
    for (int i = 0; i < 2; ++i) {
      double g = 6 * w[i];
      w[i] *= 1 - 0.1 * 0.05;
      m[i] = 0.9 * m[i] + 0.1 * g;
      v[i] = 0.99 * v[i] + 0.01 * g * g;
      double mh = m[i] / (1 - std::pow(0.9, t)), vh = v[i] / (1 - std::pow(0.99, t));
      w[i] -= 0.1 * mh / (std::sqrt(vh) + 1e-8);
    }
    auto got = p.to_vector<float>();
    CHECK(got[0] == Approx(w[0]).epsilon(1e-6));
    CHECK(got[1] == Approx(w[1]).epsilon(1e-6));
  }
}

TEST_CASE("decay_groups puts biases and 1-d params in the no-decay group", "[train][adamw]") {
  Generator gen(0);
  nn::Linear lin(3, 2, true, gen);
  auto groups = train::decay_groups(lin, 0.05);
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].params.size() == 1);  // weight
  CHECK(groups[0].weight_decay == 0.05);
  CHECK(groups[1].params.size() == 1);  // bias
  CHECK(groups[1].weight_decay == 0.0);
}
