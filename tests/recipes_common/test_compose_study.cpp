// The composition study's pieces that need no model: pipeline families and parsing, the answers'
// selections (most accurate within a GFLOPs budget; the best single method at least as fast as a
// stack), the fronts and the order-ablation pairing on hand-made points.
#include <catch2/catch.hpp>

#include "common/compose_report.h"
#include "common/compose_study.h"

using namespace shears::recipes;

namespace {

ComposePoint point(const std::string& steps, bool ft, double gflops, double speedup, double top1) {
  ComposePoint p;
  p.pipeline = make_pipeline(steps);
  p.finetuned = ft;
  p.gflops = gflops;
  p.dense_images_per_s = 1000;
  p.images_per_s = 1000 * speedup;
  p.top1 = top1;
  p.n_test = 10000;
  return p;
}

}  // namespace

TEST_CASE("compose_family names each step and joins a stack in order", "[recipes][compose]") {
  CHECK(compose_family("") == "dense");
  CHECK(compose_family("blocks:entropy:k=2") == "Gardener");
  CHECK(compose_family("blocks:l1:k=2") == "blocks (l1)");
  CHECK(compose_family("mlp:amp:delta=0.01") == "AMP");
  CHECK(compose_family("mlp:magnitude:keep=0.5") == "neurons (magnitude)");
  CHECK(compose_family("p3b:ratio=0.5") == "P3B");
  CHECK(compose_family("tokens:evit@0.7") == "EViT");
  CHECK(compose_family("tokens:renyi:2@0.7") == "Rényi α=2");
  CHECK(compose_family("tokens:shannon@0.5") == "Shannon");
  CHECK(compose_family("blocks:entropy:k=1,mlp:amp:delta=0.003,tokens:evit@0.7") == "Gardener → AMP → EViT");
  CHECK(make_pipeline("p3b:ratio=0.5,tokens:evit@0.7").stack);
  CHECK_FALSE(make_pipeline("p3b:ratio=0.5").stack);
  CHECK_THROWS_WITH(compose_family("blocks:nonsense:k=1"), Catch::Contains("unknown block criterion 'nonsense'"));
}

TEST_CASE("parse_pipelines splits at '|', keeps token locations, drops empty items", "[recipes][compose]") {
  const auto p = parse_pipelines(" blocks:entropy:k=1 | | tokens:evit@0.7:locations=1;2,mlp:amp:delta=0.01|");
  REQUIRE(p.size() == 2);
  CHECK(p[0].steps == "blocks:entropy:k=1");
  CHECK(p[1].steps == "tokens:evit@0.7:locations=1;2,mlp:amp:delta=0.01");
  CHECK(p[1].family == "EViT → AMP");
  CHECK_THROWS_WITH(parse_pipelines("tokens:evit@1.5"), Catch::Contains("tokens:evit@1.5"));
}

TEST_CASE("single_pipelines: one per budget and method, EViT and the chosen entropy policy", "[recipes][compose]") {
  ComposeSingles s;
  s.gardener_ks = {1, 2};
  s.amp_deltas = {0.003};
  s.p3b_ratios = {0.5};
  s.p3b_epochs = 2;
  s.token_keeps = {0.7};
  s.entropy_policy = "renyi:inf";
  const auto p = single_pipelines(s);
  REQUIRE(p.size() == 6);
  CHECK(p[0].steps == "blocks:entropy:k=1");
  CHECK(p[2].steps == "mlp:amp:delta=0.003");
  CHECK(p[3].steps == "p3b:ratio=0.5:epochs=2");
  CHECK(p[4].steps == "tokens:evit@0.7");
  CHECK(p[5].steps == "tokens:renyi:inf@0.7");
  for (const auto& q : p) CHECK_FALSE(q.stack);
}

TEST_CASE("most_accurate_trained compares points trained for the same number of epochs", "[recipes][compose]") {
  std::vector<ComposePoint> pts = {
      point("", false, 1.0, 1.0, 0.90),
      point("blocks:entropy:k=3", true, 0.5, 1.9, 0.85),          // 1 epoch (its fine-tune)
      point("p3b:ratio=0.5", false, 0.5, 1.5, 0.86),               // 1 epoch (its pruning run)
      point("p3b:ratio=0.5", true, 0.5, 1.5, 0.88),                // 2 epochs
  };
  pts[1].train_epochs = 1, pts[2].train_epochs = 1, pts[3].train_epochs = 2;
  CHECK(most_accurate_trained(pts, 0.55, false, 1) == std::optional<size_t>(2));
  CHECK(most_accurate_trained(pts, 0.55, false, 2) == std::optional<size_t>(3));
  CHECK_FALSE(most_accurate_trained(pts, 0.55, true, 1).has_value());
  CHECK(most_accurate_within(pts, 0.55, false, true) == std::optional<size_t>(3));
}

TEST_CASE("the answers pick the most accurate point within the budget and the best single as fast", "[recipes][compose]") {
  std::vector<ComposePoint> pts = {
      point("", false, 1.0, 1.0, 0.90),                                     // 0 dense
      point("", true, 1.0, 1.0, 0.905),                                     // 1 dense fine-tuned
      point("blocks:entropy:k=3", true, 0.5, 1.9, 0.85),                    // 2 single at budget
      point("mlp:amp:delta=0.01", true, 0.54, 1.6, 0.87),                   // 3 single at budget (best)
      point("tokens:evit@0.5", true, 0.6, 1.5, 0.89),                       // 4 single over budget
      point("blocks:entropy:k=1,tokens:evit@0.7", true, 0.45, 1.8, 0.88),  // 5 stack at budget
      point("tokens:evit@0.7,blocks:entropy:k=1", true, 0.45, 2.5, 0.80),  // 6 stack, fastest of all
      point("blocks:entropy:k=3", false, 0.5, 1.9, 0.70),                   // 7 not fine-tuned
  };
  CHECK(most_accurate_within(pts, 0.55, false, true) == std::optional<size_t>(3));
  CHECK(most_accurate_within(pts, 0.55, true, true) == std::optional<size_t>(5));
  CHECK(most_accurate_within(pts, 0.55, false, false) == std::optional<size_t>(7));
  CHECK_FALSE(most_accurate_within(pts, 0.3, false, true).has_value());
  // stack 5 runs at 1.8x: singles at >= 0.95 * 1.8 = 1.71x are only point 2 (1.9x)
  CHECK(best_single_as_fast(pts, 5, 0.05) == std::optional<size_t>(2));
  CHECK_FALSE(best_single_as_fast(pts, 6, 0.05).has_value());
  // fronts within the fine-tuned state: 5 beats 6 (same cost), 2 and 3 (cheaper and more accurate)
  const auto fg = compose_front_gflops(pts, true);
  CHECK(fg == std::vector<size_t>{5, 4, 1});
  const auto fs = compose_front_speed(pts, true);
  CHECK(fs == std::vector<size_t>{6, 2, 5, 4, 1});
  const auto lines = compose_answers(pts, 0.5, 0.05, 0.05, true);
  std::string all;
  for (const auto& l : lines) all += l + "\n";
  CHECK_THAT(all, Catch::Contains("most accurate single method: `mlp:amp:delta=0.01`"));
  CHECK_THAT(all, Catch::Contains("most accurate stack: `blocks:entropy:k=1,tokens:evit@0.7`"));
  CHECK_THAT(all, Catch::Contains("1 of 2 stacks beat every single method that is at least as fast by more than 2 SE; "
                                  "1 are faster than every single-method point"));
  const auto order = compose_order_lines(pts, true);
  REQUIRE(order.size() == 1);
  CHECK_THAT(order[0], Catch::Contains("the order matters (beyond 2 SE)"));
}
