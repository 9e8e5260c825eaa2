// Pictures through gnuplot (Debian's gnuplot-nox, found on PATH at run time): a recipe writes its data
// (the CSV beside every picture) and a .gp script, and render_gnuplot runs the script when gnuplot is
// installed. Without gnuplot the data and the script stay, and the note says how to get the PNG.
#pragma once
#include <string>
#include <vector>

namespace shears::recipes {

// True when `gnuplot` is on PATH.
bool gnuplot_available();

// Writes `script` to `gp_path` (atomically) and runs gnuplot on it. Returns `png_path` when gnuplot
// ran and the PNG exists; otherwise "" and `note` says why ("gnuplot not found: ... (apt-get install
// gnuplot-nox)" or "gnuplot failed on <gp_path>"). `note` is cleared on success.
std::string render_gnuplot(const std::string& gp_path, const std::string& script, const std::string& png_path,
                           std::string& note);

// The pictures a recipe rendered, for its closing "pictures:" line.
struct PictureList {
  std::vector<std::string> pngs;
  std::string note;  // why a picture has no PNG (the last such note)
  // A render_gnuplot / write_line_plot result: the PNG's path, or "" and why.
  void record(const std::string& png, const std::string& why);
  // " a.png b.png", " none; gnuplot not found: ..." or " a.png; gnuplot failed on ...".
  std::string summary() const;
};

// Text as a gnuplot single-quoted string literal ('it''s').
std::string gnuplot_quote(const std::string& text);

}  // namespace shears::recipes
