// Line plots (recipes/common/line_plot.h): the data blocks and the script by hand, bad series named, and a
// real PNG when gnuplot is installed (scripts/setup.sh installs it).
#include <catch2/catch.hpp>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/gnuplot.h"
#include "common/line_plot.h"

namespace fs = std::filesystem;
using namespace shears;

namespace {
recipes::LinePlot two_series() {
  recipes::LinePlot p;
  p.title = "top-1 vs keep rate";
  p.xlabel = "keep rate";
  p.ylabel = "top-1 (%)";
  p.series.push_back({"EViT", {0.9, 0.7}, {80.5, 78.25}, {0.5, 0.25}, true});
  p.series.push_back({"dense", {1.0}, {81}, {}, false});
  return p;
}
}  // namespace

TEST_CASE("line_plot_data writes one block per series and line_plot_script plots each", "[recipes][plot]") {
  const recipes::LinePlot p = two_series();
  CHECK(recipes::line_plot_data(p) == "# EViT\n0.9 80.5 0.5\n0.7 78.25 0.25\n\n\n# dense\n1 81\n\n\n");
  const std::string gp = recipes::line_plot_script(p, "d/t.dat", "d/t.png");
  CHECK_THAT(gp, Catch::Contains("set output 'd/t.png'"));
  CHECK_THAT(gp, Catch::Contains("set xlabel 'keep rate'"));
  CHECK_THAT(gp, Catch::Contains("'d/t.dat' index 0 using 1:2:3 with yerrorbars"));
  CHECK_THAT(gp, Catch::Contains("'d/t.dat' index 0 using 1:2 with linespoints"));
  CHECK_THAT(gp, Catch::Contains("title 'EViT'"));
  CHECK_THAT(gp, Catch::Contains("'d/t.dat' index 1 using 1:2 with points"));
  CHECK_THAT(gp, !Catch::Contains("index 1 using 1:2:3"));  // no error bars for the dense point
  CHECK_THAT(gp, !Catch::Contains("reverse\nplot"));
  CHECK_THAT(gp, Catch::Contains("set title 'top-1 vs keep rate'\n"));
  recipes::LinePlot st = p;
  st.subtitle = "n = 5000";
  CHECK_THAT(recipes::line_plot_script(st, "d/t.dat", "d/t.png"),
             Catch::Contains("set title 'top-1 vs keep rate'.\"\\n\".'n = 5000'\n"));
  recipes::LinePlot lp = p;
  lp.series[1].point_labels = {"block 1"};
  CHECK(recipes::line_plot_data(lp) == "# EViT\n0.9 80.5 0.5\n0.7 78.25 0.25\n\n\n# dense\n1 81 \"block 1\"\n\n\n");
  CHECK_THAT(recipes::line_plot_script(lp, "d/t.dat", "d/t.png"), Catch::Contains("index 1 using 1:2:3 with labels"));
  lp.series[1].err = {0.5};
  CHECK_THAT(recipes::line_plot_script(lp, "d/t.dat", "d/t.png"), Catch::Contains("index 1 using 1:2:4 with labels"));
  recipes::LinePlot r = p;
  r.x_reversed = true;
  CHECK_THAT(recipes::line_plot_script(r, "d/t.dat", "d/t.png"), Catch::Contains("set xrange [*:*] reverse\nplot"));
}

TEST_CASE("line_plot_data names the series whose points do not match or are not finite", "[recipes][plot]") {
  recipes::LinePlot p = two_series();
  p.series[0].y.pop_back();
  CHECK_THROWS_WITH(recipes::line_plot_data(p), Catch::Contains("series 'EViT' has 2 x values but 1 y values"));
  p = two_series();
  p.series[0].err = {0.5};
  CHECK_THROWS_WITH(recipes::line_plot_data(p), Catch::Contains("series 'EViT' has 2 points but 1 error bars"));
  p = two_series();
  p.series[1].x.clear();
  p.series[1].y.clear();
  CHECK_THROWS_WITH(recipes::line_plot_data(p), Catch::Contains("series 'dense' has no point"));
  p = two_series();
  p.series[1].point_labels = {"a", "b"};
  CHECK_THROWS_WITH(recipes::line_plot_data(p), Catch::Contains("series 'dense' has 1 points but 2 point labels"));
  p.series[1].point_labels = {"say \"x\""};
  CHECK_THROWS_WITH(recipes::line_plot_data(p), Catch::Contains("point label 'say \"x\"' holds"));
  p = two_series();
  p.series[0].y[1] = std::nan("");
  CHECK_THROWS_WITH(recipes::line_plot_data(p), Catch::Contains("series 'EViT': y[1]"));
}

TEST_CASE("PictureList keeps the PNGs and says why one is missing", "[recipes][plot]") {
  recipes::PictureList l;
  CHECK(l.summary() == " none");
  l.record("a.png", "");
  l.record("", "gnuplot failed on b.gp");
  l.record("c.png", "");
  CHECK(l.pngs == std::vector<std::string>{"a.png", "c.png"});
  CHECK(l.summary() == " a.png c.png; gnuplot failed on b.gp");
  recipes::PictureList none;
  none.record("", "gnuplot not found: x");
  CHECK(none.summary() == " none; gnuplot not found: x");
}

TEST_CASE("write_line_plot writes the data and script, and the PNG when gnuplot is installed", "[recipes][plot]") {
  const fs::path dir = fs::temp_directory_path() / ("shears_line_plot_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string stem = (dir / "table1").string();
  std::string note = "stale";
  const std::string png = recipes::write_line_plot(stem, two_series(), note);
  CHECK(fs::file_size(stem + ".dat") > 0);
  CHECK(fs::file_size(stem + ".gp") > 0);
  if (recipes::gnuplot_available()) {
    REQUIRE(png == stem + ".png");
    CHECK(note.empty());
    std::ifstream in(png, std::ios::binary);
    char magic[8] = {};
    in.read(magic, 8);
    CHECK(std::string(magic + 1, 3) == "PNG");
  } else {
    CHECK(png.empty());
    CHECK_THAT(note, Catch::Contains("gnuplot not found"));
  }
  // a bad series writes nothing and says why, without throwing (the recipe's tables must not be lost to it)
  recipes::LinePlot bad = two_series();
  bad.series[0].y[0] = std::nan("");
  std::string why;
  CHECK(recipes::write_line_plot((dir / "bad").string(), bad, why).empty());
  CHECK_THAT(why, Catch::Contains("no picture " + (dir / "bad.png").string()) && Catch::Contains("series 'EViT': y[0]"));
  CHECK_FALSE(fs::exists(dir / "bad.dat"));
  CHECK_FALSE(fs::exists(dir / "bad.gp"));
  // a label with a newline stays one comment line in the data
  recipes::LinePlot two_lines = two_series();
  two_lines.series[1].label = "dense\nsecond line";
  CHECK_THAT(recipes::line_plot_data(two_lines), Catch::Contains("# dense second line\n1 81\n"));
  fs::remove_all(dir);
}
