// Line plots through gnuplot (line_plot.h).
#include "common/line_plot.h"

#include <cmath>
#include <sstream>

#include "common/gnuplot.h"
#include "common/report.h"
#include "tensor/error.h"

namespace shears::recipes {
namespace {

// Distinguishable colours (the composition study's palette) and filled point types
const char* const kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                               "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#000000"};
const int kPoints[] = {7, 5, 9, 11, 13, 15};

void check_series(const PlotSeries& s) {
  if (s.x.empty()) fail("line plot", "series '", s.label, "' has no point");
  if (s.y.size() != s.x.size())
    fail("line plot", "series '", s.label, "' has ", s.x.size(), " x values but ", s.y.size(), " y values");
  if (!s.err.empty() && s.err.size() != s.x.size())
    fail("line plot", "series '", s.label, "' has ", s.x.size(), " points but ", s.err.size(), " error bars");
  if (!s.point_labels.empty() && s.point_labels.size() != s.x.size())
    fail("line plot", "series '", s.label, "' has ", s.x.size(), " points but ", s.point_labels.size(), " point labels");
  for (const std::string& l : s.point_labels)
    if (l.find_first_of("\"\n") != std::string::npos)
      fail("line plot", "series '", s.label, "': point label '", l, "' holds a '\"' or a newline");
  auto finite = [&](const std::vector<double>& v, const char* what) {
    for (size_t i = 0; i < v.size(); ++i)
      if (!std::isfinite(v[i])) fail("line plot", "series '", s.label, "': ", what, "[", i, "] = ", v[i], " is not finite");
  };
  finite(s.x, "x");
  finite(s.y, "y");
  finite(s.err, "err");
}

}  // namespace

std::string line_plot_data(const LinePlot& plot) {
  std::ostringstream dat;
  dat.precision(10);
  for (const PlotSeries& s : plot.series) {
    check_series(s);
    std::string comment = s.label;  // one comment line, whatever the label holds
    for (char& c : comment)
      if (c == '\n' || c == '\r') c = ' ';
    dat << "# " << comment << "\n";
    for (size_t i = 0; i < s.x.size(); ++i) {
      dat << s.x[i] << " " << s.y[i];
      if (!s.err.empty()) dat << " " << s.err[i];
      if (!s.point_labels.empty()) dat << " \"" << s.point_labels[i] << "\"";
      dat << "\n";
    }
    dat << "\n\n";
  }
  return dat.str();
}

std::string line_plot_script(const LinePlot& plot, const std::string& dat_path, const std::string& png_path) {
  std::ostringstream gp;
  gp << "set terminal pngcairo noenhanced size 1100,640 font 'Sans,10'\n"
     << "set output " << gnuplot_quote(png_path) << "\n"
     << "set title " << gnuplot_quote(plot.title)
     << (plot.subtitle.empty() ? std::string() : ".\"\\n\"." + gnuplot_quote(plot.subtitle)) << "\n"
     << "set xlabel " << gnuplot_quote(plot.xlabel) << "\n"
     << "set ylabel " << gnuplot_quote(plot.ylabel) << "\n"
     << "set grid\nset key outside right top vertical Left reverse\nset offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05\n"
     << (plot.x_reversed ? "set xrange [*:*] reverse\n" : "") << "plot ";
  for (size_t i = 0; i < plot.series.size(); ++i) {
    const PlotSeries& s = plot.series[i];
    const std::string color = kColors[i % (sizeof kColors / sizeof *kColors)];
    const int pt = kPoints[i % (sizeof kPoints / sizeof *kPoints)];
    const std::string src = gnuplot_quote(dat_path) + " index " + std::to_string(i);
    const std::string style = "lc rgb '" + color + "' pt " + std::to_string(pt) + " ps 1.3";
    if (i > 0) gp << ", \\\n     ";
    if (!s.err.empty()) {  // the bars, then the line through the points under the legend entry
      gp << src << " using 1:2:3 with yerrorbars " << style << " notitle, \\\n     ";
    }
    gp << src << " using 1:2 with " << (s.lines ? "linespoints lw 1.5 " : "points ") << style
       << " title " << gnuplot_quote(s.label);
    if (!s.point_labels.empty())
      gp << ", \\\n     " << src << " using 1:2:" << (s.err.empty() ? 3 : 4)
         << " with labels offset char 1.2,0.6 left tc rgb '" << color << "' notitle";
  }
  gp << "\n";
  return gp.str();
}

std::string write_line_plot(const std::string& stem, const LinePlot& plot, std::string& note) {
  const std::string dat_path = stem + ".dat", png_path = stem + ".png";
  std::string data;
  try {
    data = line_plot_data(plot);  // validates every series before anything is written
  } catch (const Error& e) {
    // a study's results are not lost to its picture: the recipe prints this note and goes on
    note = std::string("no picture ") + png_path + ": " + e.what();
    return "";
  }
  write_text_atomic(dat_path, data);
  return render_gnuplot(stem + ".gp", line_plot_script(plot, dat_path, png_path), png_path, note);
}

}  // namespace shears::recipes
