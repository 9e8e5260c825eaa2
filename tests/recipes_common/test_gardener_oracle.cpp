// recipes/common/gardener_oracle: paired oracle drops and their standard errors against hand-computed
// values, the pooled seed sd (NaN for one seed), Table 1's rows and notes, and the correlation table
// (bootstrap interval for varying lists, "undefined" for constant ones).
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "common/gardener_oracle.h"
#include "tiny_vit_task.h"

using namespace shears;
using Catch::Contains;

TEST_CASE("summarize_oracle: paired drops, SE and pooled seed sd", "[recipes_common][gardener_oracle]") {
  // dense 0.8, 0.7; block 1 removed 0.6, 0.6 (drops 0.2, 0.1); block 2 removed = dense (drops 0, 0)
  const recipes::OracleSummary o = recipes::summarize_oracle({0.8, 0.7}, {{0.6, 0.6}, {0.8, 0.7}});
  REQUIRE(o.blocks.size() == 2);
  REQUIRE(o.dense_mean == Approx(0.75));
  REQUIRE(o.dense_sd == Approx(std::sqrt(0.005)));
  REQUIRE(o.blocks[0].war == std::vector<double>{0.6, 0.6});
  REQUIRE(o.blocks[0].mean_war == Approx(0.6));
  REQUIRE(o.blocks[0].drop == Approx(0.15));
  REQUIRE(o.blocks[0].se == Approx(std::sqrt(0.005) / std::sqrt(2.0)));  // sd(0.2, 0.1) / sqrt(2) = 0.05
  REQUIRE(o.blocks[1].drop == Approx(0.0).margin(1e-15));
  REQUIRE(o.blocks[1].se == Approx(0.0).margin(1e-15));
  REQUIRE(o.drops.size() == 2);
  REQUIRE(o.drops[0] == o.blocks[0].drop);
  // pooled: mean of the variances 0 (block 1), 0.005 (block 2), 0.005 (dense)
  REQUIRE(o.run_sd == Approx(std::sqrt(0.01 / 3)));

  const recipes::OracleSummary one = recipes::summarize_oracle({0.8}, {{0.6}, {0.7}});
  REQUIRE(one.blocks[0].drop == Approx(0.2));
  REQUIRE(std::isnan(one.blocks[0].se));
  REQUIRE(std::isnan(one.dense_sd));
  REQUIRE(std::isnan(one.run_sd));
}

TEST_CASE("gardener_table1: Original and one row per block, resolved drops in the notes",
          "[recipes_common][gardener_oracle]") {
  const nn::ModelConfig cfg = test::tiny_vit_config(3);
  const recipes::OracleSummary o = recipes::summarize_oracle({0.8, 0.7}, {{0.6, 0.6}, {0.8, 0.7}});
  std::vector<recipes::RemovalResult> single(2);
  single[0].params = 1500000, single[0].gflops = 0.25;
  single[1].params = 2500000, single[1].gflops = 0.5;
  const recipes::Table t = recipes::gardener_table1(o, cfg, single, 100);
  REQUIRE(t.name == "table1");
  REQUIRE_THAT(t.title, Contains("mean of 2 seeds"));
  REQUIRE(t.rows.size() == 3);
  REQUIRE(t.rows[0][0] == "Original");
  REQUIRE(t.rows[0][3] == "75.00");
  REQUIRE(t.rows[1] == std::vector<std::string>{"RB-1", "1.500", "0.2500", "60.00", "0.00", "15.00", "5.00", "yes (> 2 SE)"});
  REQUIRE(t.rows[2][0] == "RB-2");
  REQUIRE(t.rows[2][7] == "NO");
  REQUIRE(t.notes.size() == 3);
  REQUIRE_THAT(t.notes[1], Contains("1 of 2 single-block drops exceed their SE (1 exceed 2 SE)") &&
                               Contains("does NOT exceed its SE: 2 --"));
  REQUIRE_THAT(t.notes[2], Contains("WAR on 100 held-out clips"));

  const recipes::OracleSummary one = recipes::summarize_oracle({0.8}, {{0.6}, {0.7}});
  const recipes::Table t1 = recipes::gardener_table1(one, cfg, single, 100);
  REQUIRE_THAT(t1.title, Contains("mean of 1 seed)"));
  REQUIRE(t1.rows[1][4] == "-");  // no seed sd
  REQUIRE(t1.rows[1][7] == "-");
  REQUIRE_THAT(t1.notes.back(), Contains("One seed: no standard error"));
}

TEST_CASE("gardener_table2: blocks in sensitivity-rank order with entropy and both ranks",
          "[recipes_common][gardener_oracle]") {
  const recipes::OracleSummary o = recipes::summarize_oracle({0.8, 0.7}, {{0.6, 0.6}, {0.8, 0.7}, {0.7, 0.7}});
  // drops: block 1 0.15, block 2 0, block 3 0.05 -> sensitivity ranks 1, 3, 2
  const recipes::Table t = recipes::gardener_table2(o, {1.5, 2.25, 3.0}, {3, 2, 1}, {1, 3, 2});
  REQUIRE(t.name == "table2");
  REQUIRE(t.rows.size() == 3);
  REQUIRE(t.rows[0] == std::vector<std::string>{"1", "60.00", "15.00", "5.00", "1.5000", "3", "1"});
  REQUIRE(t.rows[1][0] == "3");
  REQUIRE(t.rows[2][0] == "2");
  REQUIRE(t.rows[2][4] == "2.2500");
  REQUIRE_THAT(t.notes[0], Contains("Spearman rho 0.755"));
  const recipes::Table one = recipes::gardener_table2(recipes::summarize_oracle({0.8}, {{0.6}}), {1.0}, {1}, {1});
  REQUIRE(one.rows[0][3] == "-");  // one seed: no SE
}

TEST_CASE("gardener_correlation_table: bootstrap intervals, or undefined for constant lists",
          "[recipes_common][gardener_oracle]") {
  std::string line;
  const recipes::Table t = recipes::gardener_correlation_table({1, 2, 3, 4}, {0.1, 0.2, 0.3, 0.4}, {4, 3, 2, 1},
                                                               {4, 3, 2, 1}, 200, 5, line);
  REQUIRE(t.name == "table2_correlation");
  REQUIRE(t.rows.size() == 2);
  REQUIRE(t.rows[0][0] == "Spearman rho");
  REQUIRE(t.rows[0][1] == "1.000");
  REQUIRE(t.rows[1][0] == "Kendall tau-b");
  REQUIRE(t.rows[1][1] == "1.000");
  REQUIRE(t.rows[0][4] == "200");
  REQUIRE_THAT(t.notes[0], Contains("(seed 5)"));
  REQUIRE_THAT(t.notes[1], Contains("rho 1.000, tau 1.000."));
  REQUIRE_THAT(line, Contains("Spearman rho 1.000 [") && Contains("Kendall tau-b 1.000 ["));

  const recipes::Table u = recipes::gardener_correlation_table({1, 2, 3}, {0.5, 0.5, 0.5}, {3, 2, 1}, {1, 2, 3}, 200, 5, line);
  REQUIRE(u.rows.size() == 2);
  REQUIRE(u.rows[0][1] == "undefined");
  REQUIRE(u.notes == std::vector<std::string>{"Undefined: the entropies or the drops are all equal."});
  REQUIRE(line == "Spearman/Kendall undefined (constant entropies or drops)");
}

TEST_CASE("gardener_entropy_plot puts each block's drop over its entropy, labelled from 1", "[recipes][gardener][plot]") {
  // 3 seeds: dense 0.80, 0.82, 0.81; block 1 removed 0.70, 0.74, 0.72 (drop 0.09 exactly per seed: 0.10, 0.08,
  // 0.09); block 2 removed 0.80, 0.82, 0.81 (drop 0)
  const recipes::OracleSummary o = recipes::summarize_oracle({0.80, 0.82, 0.81}, {{0.70, 0.74, 0.72}, {0.80, 0.82, 0.81}});
  const recipes::LinePlot p = recipes::gardener_entropy_plot(o, {5.5, 6.25});
  REQUIRE(p.series.size() == 1);
  const recipes::PlotSeries& s = p.series[0];
  CHECK(s.x == std::vector<double>{5.5, 6.25});
  REQUIRE(s.y.size() == 2);
  CHECK(s.y[0] == Approx(9.0));
  CHECK(s.y[1] == Approx(0.0).margin(1e-12));
  REQUIRE(s.err.size() == 2);
  CHECK(s.err[0] == Approx(100 * 0.01 / std::sqrt(3.0)));  // sd of (0.10, 0.08, 0.09) = 0.01, over sqrt(3)
  CHECK(s.point_labels == std::vector<std::string>{"1", "2"});
  CHECK_FALSE(s.lines);
  CHECK_THAT(p.subtitle, Catch::Contains("bars: ± SE"));
  // one seed: no SE, no bars
  const recipes::LinePlot one = recipes::gardener_entropy_plot(recipes::summarize_oracle({0.8}, {{0.7}, {0.75}}), {1, 2});
  CHECK(one.series[0].err.empty());
  CHECK_THAT(one.subtitle, Catch::Contains("one seed"));
  CHECK_THROWS_WITH(recipes::gardener_entropy_plot(o, {1.0}), Catch::Contains("entropy of 1 blocks for an oracle of 2"));
}

TEST_CASE("gardener_war_plot: WAR in % per order over the pruning ratio, the dense model at 0", "[recipes][gardener][plot]") {
  const recipes::LinePlot p = recipes::gardener_war_plot({1, 3}, 4, {{"Entropy", {0.8, 0.5}}, {"Random", {0.7, 0.4}}}, 0.9, 5);
  REQUIRE(p.series.size() == 3);
  CHECK(p.series[0].label == "Entropy");
  CHECK(p.series[0].x == std::vector<double>{25, 75});
  CHECK(p.series[1].y[1] == Approx(40));
  CHECK(p.series[2].x == std::vector<double>{0});
  CHECK(p.series[2].y[0] == Approx(90));
  CHECK_THAT(p.subtitle, Contains("mean of 5 draws"));
  CHECK_THROWS_WITH(recipes::gardener_war_plot({1, 3}, 4, {{"L1", {0.8}}}, 0.9, 5), Contains("'L1' has 1 WAR values for 2"));
}
