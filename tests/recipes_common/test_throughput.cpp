// recipes/common/throughput: the variants' calls interleave (warm-up A B, then A B per sample),
// medians come back one per variant, positive and finite, inference_forward runs an eval-mode
// no-grad forward, interleaved_rates keeps every sample and median_paired_speedup takes the median of
// the per-round ratios (hand-made rates), and bad options are refused. No assertion depends on timing.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "autograd/ops.h"
#include "common/throughput.h"
#include "tiny_vit_task.h"

using namespace shears;

TEST_CASE("interleaved_images_per_second interleaves the variants and returns one median each",
          "[recipes_common][throughput]") {
  std::string calls;
  recipes::ThroughputOptions o;
  o.warmup = 1, o.samples = 3, o.min_time = 0.0;  // min_time 0: one call per sample
  const auto rates = recipes::interleaved_images_per_second({[&] { calls += "A"; }, [&] { calls += "B"; }}, 32, o);
  CHECK(calls == "AB" "ABABAB");
  REQUIRE(rates.size() == 2);
  for (double r : rates) {
    CHECK(std::isfinite(r));
    CHECK(r > 0);
  }
  // with min_time > 0 a sample repeats its variant until the time is reached, A's before B's
  calls.clear();
  o.warmup = 0, o.samples = 1, o.min_time = 0.002;
  recipes::interleaved_images_per_second({[&] { calls += "A"; }, [&] { calls += "B"; }}, 1, o);
  REQUIRE(calls.size() >= 2);
  const size_t first_b = calls.find('B');
  CHECK(first_b != std::string::npos);
  CHECK(calls.find('A', first_b) == std::string::npos);
}

TEST_CASE("inference_forward measures a model's eval-mode forward", "[recipes_common][throughput]") {
  const nn::ModelConfig cfg = test::tiny_vit_config(3);
  nn::VisionTransformer model(cfg, 1);
  Generator gen(3);
  const Tensor images = rand({4, 1, 8, 8}, DType::F32, &gen);
  recipes::ThroughputOptions o;
  o.warmup = 1, o.samples = 2, o.min_time = 0.0;
  const auto rates = recipes::interleaved_images_per_second({recipes::inference_forward(model, images)}, 4, o);
  REQUIRE(rates.size() == 1);
  CHECK(std::isfinite(rates[0]));
  CHECK(rates[0] > 0);
  CHECK_FALSE(model.is_training());
  for (const auto& [name, p] : model.named_parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("interleaved_images_per_second refuses bad options", "[recipes_common][throughput]") {
  recipes::ThroughputOptions o;
  o.samples = 0;
  CHECK_THROWS_WITH(recipes::interleaved_images_per_second({[] {}}, 1, o), Catch::Contains("samples >= 1"));
}

TEST_CASE("interleaved_rates keeps every sample, paired_speedups are the per-round ratios, median_paired_speedup their median",
          "[recipes_common][throughput]") {
  recipes::ThroughputOptions o;
  o.warmup = 0, o.samples = 4, o.min_time = 0.0;
  const auto rates = recipes::interleaved_rates({[] {}, [] {}, [] {}}, 8, o);
  REQUIRE(rates.size() == 3);
  for (const auto& r : rates) CHECK(r.size() == 4);
  // hand-made rates: a machine that halves its speed after round 2 hurts the ratio of medians, not the pair ratios
  const std::vector<std::vector<double>> drift = {{10, 10, 5, 5, 5}, {30, 30, 15, 15, 15}, {20, 40, 10, 5, 20}};
  CHECK(recipes::median_paired_speedup(drift, 1) == 3.0);
  CHECK(recipes::median_paired_speedup(drift, 2) == 2.0);  // ratios 2, 4, 2, 1, 4 -> median 2
  CHECK(recipes::paired_speedups(drift, 2) == std::vector<double>{2, 4, 2, 1, 4});  // in round order
  CHECK(recipes::paired_speedups(drift, 0) == std::vector<double>(5, 1.0));
  CHECK_THROWS_WITH(recipes::paired_speedups({{1, 2}, {1}}, 1), Catch::Contains("equal"));
  CHECK(recipes::median_paired_speedup(drift, 0) == 1.0);
  CHECK_THROWS_WITH(recipes::median_paired_speedup(drift, 3), Catch::Contains("paired speedup"));
  CHECK_THROWS_WITH(recipes::median_paired_speedup({{1, 2}, {1}}, 1), Catch::Contains("equal"));
}
