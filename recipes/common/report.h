// Result tables for recipes: one Table (title, columns, rows of cells) printed as Markdown
// on stdout and written as CSV and JSON under the run's --out folder (atomically: temp file
// + rename). Cells are strings; fmt() formats numbers with a fixed number of decimals.
#pragma once
#include <string>
#include <vector>

namespace shears::recipes {

struct Table {
  std::string name;                          // file stem under --out, e.g. "table1"
  std::string title;                         // Markdown heading / caption
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> notes;            // printed under the table

  void add_row(std::vector<std::string> cells);
  std::string markdown() const;
  std::string csv() const;
  std::string json() const;                  // {"title":..., "columns":[...], "rows":[[...]], "notes":[...]}
  // Prints markdown() to stdout and writes <out_dir>/<name>.csv and <name>.json (creates out_dir).
  void emit(const std::string& out_dir) const;
};

std::string fmt(double value, int decimals = 2);
std::string fmt_percent(double fraction, int decimals = 2);  // 0.8761 -> "87.61"

// Writes text to path atomically (nn::write_file_atomic: "<path>.tmp.<pid>", fsync, rename;
// temp files of dead writers are removed first); throws shears::Error naming the file on failure.
void write_text_atomic(const std::string& path, const std::string& text);

}  // namespace shears::recipes
