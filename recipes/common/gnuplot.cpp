// gnuplot runner (gnuplot.h).
#include "common/gnuplot.h"

#include <cstdlib>
#include <filesystem>

#include "common/report.h"

namespace shears::recipes {

bool gnuplot_available() { return std::system("command -v gnuplot > /dev/null 2>&1") == 0; }

std::string render_gnuplot(const std::string& gp_path, const std::string& script, const std::string& png_path,
                           std::string& note) {
  write_text_atomic(gp_path, script);
  if (!gnuplot_available()) {
    note = "gnuplot not found: the data and " + gp_path + " are written, no PNG (apt-get install gnuplot-nox)";
    return "";
  }
  std::error_code ec;
  std::filesystem::remove(png_path, ec);  // a PNG of an earlier run must not pass for this one
  const std::string cmd = "gnuplot " + gnuplot_quote(gp_path) + " 2>&1";
  if (std::system(cmd.c_str()) != 0 || !std::filesystem::exists(png_path)) {
    note = "gnuplot failed on " + gp_path + " (the data is written)";
    return "";
  }
  note.clear();
  return png_path;
}

void PictureList::record(const std::string& png, const std::string& why) {
  if (!png.empty()) pngs.push_back(png);
  else note = why;
}

std::string PictureList::summary() const {
  std::string s;
  for (const std::string& p : pngs) s += " " + p;
  if (pngs.empty()) s += " none";
  if (!note.empty()) s += "; " + note;
  return s;
}

std::string gnuplot_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

}  // namespace shears::recipes
