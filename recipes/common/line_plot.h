// Line plots of a study's results through gnuplot (recipes/common/gnuplot.h): each series a list of
// (x, y[, ± err]) points with a legend label, written as <stem>.dat (one block per series), <stem>.gp and,
// when gnuplot is installed, <stem>.png. Recipes name the stem after the table the plot shows, so the
// table's CSV lies beside the picture (table1.csv, table1.png).
#pragma once
#include <string>
#include <vector>

namespace shears::recipes {

struct PlotSeries {
  std::string label;        // legend entry
  std::vector<double> x, y;
  std::vector<double> err;  // empty: no error bars; else one ± half-width per point (e.g. the SE)
  bool lines = true;        // false: markers only (a scatter)
  std::vector<std::string> point_labels;  // empty: none; else one text per point, printed beside it
};

struct LinePlot {
  std::string title, xlabel, ylabel;
  std::string subtitle;     // a second title line (smaller print); empty: none
  std::vector<PlotSeries> series;
  bool x_reversed = false;  // e.g. keep rates from 1.0 down
};

// The .dat text: per series a "# label" line, then "x y [err] ["point label"]" rows, then two blank lines
// (gnuplot's `index` blocks). Throws shears::Error naming the series when its x, y (and err, point_labels)
// lengths differ, when it has no point, when a value is not finite or a point label holds a '"' or a newline.
std::string line_plot_data(const LinePlot& plot);
// The .gp script plotting `dat_path` into `png_path` (pngcairo, legend outside on the right, a grid).
std::string line_plot_script(const LinePlot& plot, const std::string& dat_path, const std::string& png_path);
// Writes <stem>.dat and <stem>.gp (atomically) and renders <stem>.png. Returns the PNG's path, or "" with
// `note` saying why there is none (render_gnuplot's notes, or "no picture <png>: <what line_plot_data threw>":
// bad data costs the picture, never the study's tables; nothing is written then). Throws only when a file
// cannot be written.
std::string write_line_plot(const std::string& stem, const LinePlot& plot, std::string& note);

}  // namespace shears::recipes
