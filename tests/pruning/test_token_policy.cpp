// Token policies on a hand-built attention map (EViT, Shannon/Rényi entropy, random keep exactly
// the expected tokens), top-k selection order, the gather/fuse step, policy-name parsing, the
// default pruning locations and EViT's keep-rate schedule.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "pruning/keep_rate_schedule.h"
#include "pruning/token_policy.h"
#include "pruning/token_pruning.h"
#include "test_util.h"

using namespace shears;
using namespace shears::pruning;

namespace {

// B = 1, H = 2, N = 6 (CLS + 5 patch tokens).
// CLS rows: head-averaged attention to tokens 1..5 is 0.22, 0.10, 0.30, 0.08, 0.20, so EViT's order
// of the non-CLS tokens (0 = token 1) is 2, 0, 4, 1, 3.
// Query row of token t: a peak v_t on key t and (1 - v_t) / 5 on every other key, with
// v = 0.5, 0.9, 0.3, 0.7, 0.2 for tokens 1..5, so the lowest entropy (kept first) order is 1, 3, 0, 2, 4.
Tensor hand_built_attention(DType dtype) {
  const int64_t N = 6;
  std::vector<double> v(size_t(2 * N * N), 0.0);
  const std::vector<std::vector<double>> cls = {{0.1, 0.30, 0.05, 0.25, 0.10, 0.20},
                                                {0.1, 0.14, 0.15, 0.35, 0.06, 0.20}};
  const std::vector<double> peak = {0.0, 0.5, 0.9, 0.3, 0.7, 0.2};
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double p;
        if (i == 0) p = cls[size_t(h)][size_t(j)];
        else p = j == i ? peak[size_t(i)] : (1.0 - peak[size_t(i)]) / double(N - 1);
        v[size_t((h * N + i) * N + j)] = p;
      }
  return test::tensor_of(v, {1, 2, N, N}, dtype);
}

std::vector<int64_t> kept_by(const TokenPolicy& policy, const Tensor& probs, int64_t left, int64_t step = 0) {
  Tensor tokens = zeros({probs.size(0), probs.size(2), 4}, probs.dtype());
  return select_top_tokens(policy.keep_priority(tokens, probs, {3, step}), left).to_vector<int64_t>();
}

}  // namespace

TEST_CASE("each policy keeps exactly the expected tokens of a hand-built attention map", "[token_policy]") {
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor probs = hand_built_attention(dt);
    CHECK(kept_by(*make_evit_policy(), probs, 5) == std::vector<int64_t>{2, 0, 4, 1, 3});
    CHECK(kept_by(*make_evit_policy(), probs, 3) == std::vector<int64_t>{2, 0, 4});
    for (double a : {0.5, 1.0, 2.0, 3.0, kMinEntropyOrder})
      for (bool exclude : {false, true})
        for (HeadAggregation agg : {HeadAggregation::MeanOfHeadEntropies, HeadAggregation::EntropyOfHeadMean}) {
          INFO("alpha " << a << " exclude_cls_key " << exclude << " aggregation " << int(agg));
          auto policy = make_entropy_policy({a, exclude}, agg);
          CHECK(kept_by(*policy, probs, 5) == std::vector<int64_t>{1, 3, 0, 2, 4});
          CHECK(kept_by(*policy, probs, 3) == std::vector<int64_t>{1, 3, 0});
        }
  }
  // the CLS attention scores are the head mean of the CLS row without key 0
  test::require_close(cls_attention_scores(hand_built_attention(DType::F64)),
                      test::Ref({1, 5}, {0.22, 0.10, 0.30, 0.08, 0.20}), 1e-15);
}

TEST_CASE("random policy is deterministic in (seed, step) and keeps distinct tokens", "[token_policy]") {
  const int64_t N = 50;
  Tensor probs = full({2, 1, N, N}, 1.0 / N, DType::F32);
  auto policy = make_random_policy(7);
  std::vector<int64_t> a = kept_by(*policy, probs, 20, 0), b = kept_by(*policy, probs, 20, 0);
  std::vector<int64_t> c = kept_by(*policy, probs, 20, 1), d = kept_by(*make_random_policy(8), probs, 20, 0);
  CHECK(a == b);
  CHECK(a != c);
  CHECK(a != d);
  REQUIRE(a.size() == 40);
  for (int s = 0; s < 2; ++s) {
    std::set<int64_t> distinct(a.begin() + s * 20, a.begin() + (s + 1) * 20);
    CHECK(distinct.size() == 20);
    CHECK(*distinct.begin() >= 0);
    CHECK(*distinct.rbegin() < N - 1);
  }
  CHECK(!std::equal(a.begin(), a.begin() + 20, a.begin() + 20));  // samples draw independently
}

TEST_CASE("select_top_tokens orders by decreasing priority, ties and NaN last by index", "[token_policy]") {
  Tensor pr = test::tensor_of({0.5, 0.9, 0.5, NAN, 0.1, 0.9, 1, 2, 3, 4, 5, 6}, {2, 6}, DType::F64);
  CHECK(select_top_tokens(pr, 6).to_vector<int64_t>() == std::vector<int64_t>{1, 5, 0, 2, 4, 3, 5, 4, 3, 2, 1, 0});
  CHECK(select_top_tokens(pr, 2).to_vector<int64_t>() == std::vector<int64_t>{1, 5, 5, 4});
  CHECK(select_top_tokens(pr, 0).shape() == Shape{2, 0});
  CHECK_THROWS_WITH(select_top_tokens(pr, 7), Catch::Contains("left = 7"));
}

TEST_CASE("gather_and_fuse_tokens keeps CLS first, then the kept tokens, then the fused token", "[token_policy]") {
  const int64_t N = 6, C = 2;
  std::vector<double> xv;
  for (int64_t t = 0; t < N; ++t) xv.insert(xv.end(), {double(t), 10.0 * t});
  Tensor x = test::tensor_of(xv, {1, N, C}, DType::F64);
  Tensor probs = hand_built_attention(DType::F64);
  Tensor kept = from_vector(std::vector<int64_t>{2, 0, 4}, {1, 3});
  // kept tokens 3, 1, 5; pruned tokens 2 and 4 with CLS attention 0.10 and 0.08
  test::require_close(gather_and_fuse_tokens(x, probs, kept, false), test::Ref({1, 4, C}, {0, 0, 3, 30, 1, 10, 5, 50}),
                      0.0);
  test::require_close(gather_and_fuse_tokens(x, probs, kept, true),
                      test::Ref({1, 5, C}, {0, 0, 3, 30, 1, 10, 5, 50, 0.1 * 2 + 0.08 * 4, 0.1 * 20 + 0.08 * 40}),
                      1e-15);
  CHECK_THROWS_WITH(gather_and_fuse_tokens(x, probs, from_vector(std::vector<int64_t>{2, 2}, {1, 2}), true),
                    Catch::Contains("repeated"));
}

TEST_CASE("policy names parse, round-trip, and bad names give a clear error", "[token_policy]") {
  CHECK(parse_token_policy("evit").kind == TokenPolicyKind::EViT);
  CHECK(parse_token_policy("EViT").kind == TokenPolicyKind::EViT);
  CHECK(parse_token_policy("random").kind == TokenPolicyKind::Random);
  TokenPolicySpec shannon = parse_token_policy("shannon");
  CHECK((shannon.kind == TokenPolicyKind::Entropy && shannon.renyi_order == 1.0));
  CHECK(parse_token_policy("renyi:2").renyi_order == 2.0);
  CHECK(parse_token_policy("renyi:0.5").renyi_order == 0.5);
  CHECK(std::isinf(parse_token_policy("renyi:inf").renyi_order));
  CHECK(parse_token_policy("renyi:1").name() == "shannon");
  for (std::string name : {"evit", "shannon", "renyi:2", "renyi:0.5", "renyi:inf", "random"}) {
    INFO(name);
    CHECK(parse_token_policy(name).name() == name);
    CHECK(make_token_policy(parse_token_policy(name))->name() == name);
  }
  for (std::string bad : {"", "foo", "renyi", "renyi:", "renyi:abc", "renyi:-1", "renyi:0", "renyi:2x", "evit:2"}) {
    INFO("'" << bad << "'");
    CHECK_THROWS_WITH(parse_token_policy(bad), Catch::Contains("[parse_token_policy] unknown token policy '" + bad +
                                                               "'") &&
                                                   Catch::Contains("expected evit, shannon, renyi:<alpha>"));
  }
  CHECK_THROWS_WITH(parse_token_policy("renyi:-1"), Catch::Contains("must be > 0"));
}

TEST_CASE("default pruning locations: EViT's blocks 4, 7, 10 of 12, proportional otherwise", "[token_policy]") {
  CHECK(default_pruning_locations(12) == std::vector<int64_t>{3, 6, 9});
  CHECK(default_pruning_locations(24) == std::vector<int64_t>{6, 12, 18});
  CHECK(default_pruning_locations(6) == std::vector<int64_t>{1, 3, 4});
  CHECK(default_pruning_locations(4) == std::vector<int64_t>{1, 2, 3});
  CHECK(default_pruning_locations(2) == std::vector<int64_t>{0, 1});
  CHECK(default_pruning_locations(1) == std::vector<int64_t>{0});
  CHECK(tokens_left(0.7, 196) == 138);
  CHECK(tokens_left(0.7, 139) == 98);
  CHECK(tokens_left(0.7, 99) == 70);
  CHECK(tokens_left(1.0, 196) == 196);
}

TEST_CASE("EViT keep-rate schedule: 1 before shrinking, cosine to the base rate, then constant", "[token_policy]") {
  KeepRateSchedule s{0.7, 1.0, 10, 100, 5};
  CHECK(scheduled_keep_rate(s, 0, 0) == 1.0);
  CHECK(scheduled_keep_rate(s, 9, 49) == 1.0);
  CHECK(scheduled_keep_rate(s, 10, 50) == Approx(1.0));
  CHECK(scheduled_keep_rate(s, 60, 300) == Approx(0.85));  // halfway: (cos(pi/2) + 1) / 2 = 1/2
  CHECK(scheduled_keep_rate(s, 35, 175) == Approx(0.7 + 0.3 * (std::cos(M_PI / 4) + 1) / 2));
  CHECK(scheduled_keep_rate(s, 110, 550) == 0.7);
  CHECK(scheduled_keep_rate(s, 300, 1500) == 0.7);
  KeepRateSchedule finetune{0.5, 1.0, 0, 0, 100};  // EViT finetune.sh: constant rate from epoch 0
  CHECK(scheduled_keep_rate(finetune, 0, 0) == 0.5);
  CHECK_THROWS_WITH(scheduled_keep_rate(KeepRateSchedule{1.2, 1.0, 0, 0, 1}, 0, 0), Catch::Contains("base_keep_rate"));
}
