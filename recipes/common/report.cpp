// Markdown / CSV / JSON output of recipe tables (see report.h).
#include "common/report.h"

#include <nlohmann/json.hpp>

#include "nn/io/atomic_file.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace shears::recipes {

void Table::add_row(std::vector<std::string> cells) {
  if (cells.size() != columns.size())
    throw std::invalid_argument("table '" + name + "': row has " + std::to_string(cells.size()) + " cells, expected " +
                                std::to_string(columns.size()));
  rows.push_back(std::move(cells));
}

std::string Table::markdown() const {
  std::string s;
  if (!title.empty()) s += "### " + title + "\n\n";
  s += "|";
  for (const auto& c : columns) s += " " + c + " |";
  s += "\n|";
  for (size_t i = 0; i < columns.size(); ++i) s += "---|";
  s += "\n";
  for (const auto& r : rows) {
    s += "|";
    for (const auto& c : r) s += " " + c + " |";
    s += "\n";
  }
  for (const auto& n : notes) s += "\n" + n + "\n";
  return s;
}

namespace {
std::string csv_cell(const std::string& c) {
  if (c.find_first_of(",\"\n") == std::string::npos) return c;
  std::string q = "\"";
  for (char ch : c) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
}
}  // namespace

std::string Table::csv() const {
  std::string s;
  for (size_t i = 0; i < columns.size(); ++i) s += (i ? "," : "") + csv_cell(columns[i]);
  s += "\n";
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) s += (i ? "," : "") + csv_cell(r[i]);
    s += "\n";
  }
  return s;
}

std::string Table::json() const {
  nlohmann::json j;
  j["name"] = name;
  j["title"] = title;
  j["columns"] = columns;
  j["rows"] = rows;
  j["notes"] = notes;
  return j.dump(1) + "\n";
}

void Table::emit(const std::string& out_dir) const {
  std::printf("%s\n", markdown().c_str());
  std::fflush(stdout);
  if (out_dir.empty()) return;
  std::filesystem::create_directories(out_dir);
  write_text_atomic(out_dir + "/" + name + ".csv", csv());
  write_text_atomic(out_dir + "/" + name + ".json", json());
}

std::string fmt(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

std::string fmt_percent(double fraction, int decimals) { return fmt(100.0 * fraction, decimals); }

void write_text_atomic(const std::string& path, const std::string& text) {
  // "<path>.tmp.<pid>", fsync, rename; temp files of dead writers of `path` are removed first
  nn::write_file_atomic(path, "report", [&](const nn::ByteSink& put) { put(text.data(), text.size()); });
}

}  // namespace shears::recipes
