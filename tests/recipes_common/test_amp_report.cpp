// AMP's A1 picture (recipes/common/amp_report.h): one point per δ at its GFLOPs for the pruned and the recovered
// models with binomial SEs, δ labels on the pruned points, the original alone; no recovered line without recovery.
#include <catch2/catch.hpp>

#include <cmath>

#include "common/amp_report.h"

using namespace shears;

TEST_CASE("amp_plot_a1 puts each δ's top-1 over its GFLOPs, the original alone", "[recipes][amp][plot]") {
  recipes::AmpStudySummary sum;
  sum.model_name = "m", sum.dataset_name = "d", sum.test_images = 400;
  sum.original_cost.gflops = 2.0, sum.original_top1 = 0.9, sum.recovered = true;
  std::vector<recipes::AmpDeltaRun> runs(2);
  runs[0].delta = 0.001, runs[0].cost.gflops = 1.5, runs[0].acc_pruned = 0.8, runs[0].acc_recovered = 0.85;
  runs[1].delta = 0.01, runs[1].cost.gflops = 1.0, runs[1].acc_pruned = 0.5, runs[1].acc_recovered = 0.75;
  const recipes::LinePlot p = recipes::amp_plot_a1(runs, sum);
  REQUIRE(p.series.size() == 3);
  CHECK(p.series[0].x == std::vector<double>{1.5, 1.0});
  CHECK(p.series[0].y[1] == Approx(50));
  CHECK(p.series[0].err[1] == Approx(100 * std::sqrt(0.25 / 400)));  // 2.5 points
  CHECK(p.series[0].point_labels == std::vector<std::string>{"δ=0.001", "δ=0.01"});
  CHECK(p.series[1].y[0] == Approx(85));
  CHECK(p.series[1].point_labels.empty());
  CHECK(p.series[2].x == std::vector<double>{2.0});
  CHECK(p.series[2].err[0] == Approx(100 * std::sqrt(0.09 / 400)));  // 1.5 points
  CHECK_NOTHROW(recipes::line_plot_data(p));
  sum.recovered = false;  // no distillation: no recovered line (its accuracies are NaN)
  runs[0].acc_recovered = runs[1].acc_recovered = std::nan("");
  const recipes::LinePlot q = recipes::amp_plot_a1(runs, sum);
  REQUIRE(q.series.size() == 2);
  CHECK(q.series[1].label == "m (original)");
  CHECK_NOTHROW(recipes::line_plot_data(q));
}
