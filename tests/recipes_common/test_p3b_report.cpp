// P3B's P1 picture (recipes/common/p3b_report.h): the points are the table's means and SEs (binomial or seed
// spread, whichever is larger), by hand; a ratio without runs has no point; the dense fine-tune sits at 0.
#include <catch2/catch.hpp>

#include <cmath>

#include "common/p3b_report.h"

using namespace shears;

namespace {
recipes::P3bStudyRow row(const std::string& method, double ratio, double top1) {
  recipes::P3bStudyRow r;
  r.method = method, r.ratio = ratio, r.test_samples = 100;
  r.finetuned.top1 = top1;
  return r;
}
}  // namespace

TEST_CASE("p3b_plot_p1 plots the P1 means and SEs per method, the dense fine-tune at 0", "[recipes][p3b][plot]") {
  const std::vector<recipes::P3bStudyRow> rows = {row("dense", 0, 0.85), row("p3b", 0.5, 0.8), row("p3b", 0.5, 0.9),
                                                  row("p3b", 0.7, 0.6), row("uniform", 0.5, 0.7)};
  const recipes::LinePlot p = recipes::p3b_plot_p1(rows, {0.5, 0.7}, {"p3b", "uniform"}, "a setting");
  REQUIRE(p.series.size() == 3);
  const recipes::PlotSeries& a = p.series[0];
  CHECK(a.label == "P3B (block benefit, reactivation)");
  CHECK(a.x == std::vector<double>{50, 70});
  CHECK(a.y[0] == Approx(85));
  // two seeds: binomial SE of the mean sqrt(0.16 / 100 + 0.09 / 100) / 2 = 2.5 points < spread 0.0707 / sqrt(2) = 5
  CHECK(a.err[0] == Approx(5.0));
  CHECK(a.y[1] == Approx(60));
  CHECK(a.err[1] == Approx(100 * std::sqrt(0.24 / 100)));
  const recipes::PlotSeries& u = p.series[1];  // no uniform run at 0.7: one point
  CHECK(u.x == std::vector<double>{50});
  const recipes::PlotSeries& d = p.series[2];
  CHECK(d.x == std::vector<double>{0});
  CHECK(d.y[0] == Approx(85));
  CHECK(d.err[0] == Approx(100 * std::sqrt(0.85 * 0.15 / 100)));
  CHECK_FALSE(d.lines);
  CHECK_THAT(p.subtitle, Catch::Contains("a setting"));
  CHECK_NOTHROW(recipes::line_plot_data(p));
}
