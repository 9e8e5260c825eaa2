// Tables, answers, JSON and pictures of the composition study (compose_report.h).
#include "common/compose_report.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/gnuplot.h"
#include "common/pareto.h"
#include "pruning/transform.h"
#include "tensor/error.h"
#include "train/median.h"

namespace shears::recipes {

namespace {

std::optional<size_t> dense_point(const std::vector<ComposePoint>& points, bool finetuned) {
  for (size_t i = 0; i < points.size(); ++i)
    if (points[i].pipeline.steps.empty() && points[i].finetuned == finetuned) return i;
  return std::nullopt;
}

double dense_gflops(const std::vector<ComposePoint>& points) {
  const auto d = dense_point(points, false);
  SHEARS_CHECK(d.has_value(), "shears_compose", "no dense point among the results");
  return points[*d].gflops;
}

std::string acc_cell(const ComposePoint& p) {
  return fmt_percent(p.top1) + " ± " + fmt(100 * p.se(), 2);
}

std::string diff_cell(const ComposePoint& a, const ComposePoint& b) {  // a - b in points, ± SE of the difference
  const double se = 100 * std::sqrt(a.se() * a.se() + b.se() * b.se());
  const double d = 100 * (a.top1 - b.top1);
  return (d >= 0 ? "+" : "") + fmt(d, 2) + " ± " + fmt(se, 2) + " points";
}

std::string point_label(const ComposePoint& p) {
  return (p.pipeline.steps.empty() ? std::string("dense") : "`" + p.pipeline.steps + "`") +
         (p.finetuned ? " + fine-tune" : "");
}

std::vector<size_t> front_of(const std::vector<ComposePoint>& points, bool finetuned, bool speed) {
  std::vector<double> cost, value;
  for (const ComposePoint& p : points) {
    const bool in = p.finetuned == finetuned;
    cost.push_back(!in ? NAN : speed ? -p.speedup() : p.gflops);
    value.push_back(in ? p.top1 : NAN);
  }
  return pareto_front(cost, value);
}

}  // namespace

double median_dense_images_per_s(const std::vector<ComposePoint>& points) {
  std::vector<double> v;
  for (const ComposePoint& p : points) v.push_back(p.dense_images_per_s);
  SHEARS_CHECK(!v.empty(), "shears_compose", "no points");
  return train::median(v);
}

double normalized_images_per_s(const std::vector<ComposePoint>& points, size_t i) {
  return points.at(i).speedup() * median_dense_images_per_s(points);
}

std::vector<size_t> compose_front_gflops(const std::vector<ComposePoint>& points, bool finetuned) {
  return front_of(points, finetuned, false);
}
std::vector<size_t> compose_front_speed(const std::vector<ComposePoint>& points, bool finetuned) {
  return front_of(points, finetuned, true);
}

Table compose_points_table(const std::vector<ComposePoint>& points) {
  const double g0 = dense_gflops(points);
  std::vector<bool> on_g(points.size()), on_s(points.size());
  for (bool ft : {false, true}) {
    for (size_t i : compose_front_gflops(points, ft)) on_g[i] = true;
    for (size_t i : compose_front_speed(points, ft)) on_s[i] = true;
  }
  Table t;
  t.name = "compose_points";
  t.title = "C1 - every point: pipeline, cost, measured speed and top-1, right after pruning and after the recovery "
            "fine-tune";
  t.columns = {"Pipeline", "Family", "Recovery", "Training epochs", "Params (M)", "GFLOPs", "GFLOPs / dense",
               "Images/s", "Speed-up", "Top-1 (%) ± SE", "Pareto (GFLOPs / speed)", "Checkpoint"};
  for (size_t i = 0; i < points.size(); ++i) {
    const ComposePoint& p = points[i];
    t.add_row({p.pipeline.steps.empty() ? "(dense)" : p.pipeline.steps, p.pipeline.family,
               p.finetuned ? "fine-tuned" : "none", std::to_string(p.train_epochs), fmt(p.params / 1e6, 3), fmt(p.gflops, 5), fmt(p.gflops / g0, 3),
               fmt(p.images_per_s, 0), fmt(p.speedup(), 2) + "x", acc_cell(p),
               std::string(on_g[i] ? "G" : "-") + " / " + (on_s[i] ? "S" : "-"), p.checkpoint});
  }
  t.notes.push_back("GFLOPs: fvcore convention (1 multiply-add = 1 flop) per image, from each model's real shapes and "
                    "the token counts of a forward. Images/s: no-grad forward of one fixed test batch, median of "
                    "interleaved samples against the dense model (Speed-up = this model / dense in the same "
                    "measurement). SE: binomial standard error on the test images. Pareto: G = on the accuracy-vs-"
                    "GFLOPs front, S = on the accuracy-vs-speed front, each within its recovery state. Training epochs: "
                    "training after the dense model (P3B trains during its pruning run).");
  return t;
}

Table compose_pareto_table(const std::vector<ComposePoint>& points, bool finetuned) {
  const double g0 = dense_gflops(points);
  Table t;
  t.name = finetuned ? "compose_pareto" : "compose_pareto_no_finetune";
  t.title = std::string("C2 - Pareto-optimal points ") +
            (finetuned ? "after the recovery fine-tune (the fair comparison)" : "right after pruning (no fine-tune)");
  t.columns = {"Front", "Pipeline", "Family", "GFLOPs", "GFLOPs / dense", "Speed-up", "Top-1 (%) ± SE"};
  for (const bool speed : {false, true})
    for (size_t i : speed ? compose_front_speed(points, finetuned) : compose_front_gflops(points, finetuned)) {
      const ComposePoint& p = points[i];
      t.add_row({speed ? "speed" : "GFLOPs", p.pipeline.steps.empty() ? "(dense)" : p.pipeline.steps,
                 p.pipeline.family, fmt(p.gflops, 5), fmt(p.gflops / g0, 3), fmt(p.speedup(), 2) + "x", acc_cell(p)});
    }
  t.notes.push_back("A point is on a front when no other point of the same recovery state is at least as cheap (fewer "
                    "or equal GFLOPs; or at least as fast) and at least as accurate, one of them strictly.");
  return t;
}

std::vector<std::string> compose_answers(const std::vector<ComposePoint>& points, double budget, double budget_slack,
                                         double speed_tolerance, bool finetuned) {
  std::vector<std::string> out;
  const double g0 = dense_gflops(points);
  const double cap = (budget + budget_slack) * g0;
  const auto single = most_accurate_within(points, cap, false, finetuned);
  const auto stack = most_accurate_within(points, cap, true, finetuned);
  const std::string state = finetuned ? "after the recovery fine-tune" : "without fine-tune";
  out.push_back("**At about " + fmt(100 * budget, 0) + "% of the dense GFLOPs** (<= " + fmt(100 * (budget + budget_slack), 0) +
                "%, " + state + "):");
  auto describe = [&](const char* what, const std::optional<size_t>& i) {
    if (!i) return std::string("- most accurate ") + what + ": none within the budget";
    const ComposePoint& p = points[*i];
    return std::string("- most accurate ") + what + ": " + point_label(p) + " (" + p.pipeline.family + "), " +
           fmt(100 * p.gflops / g0, 1) + "% of the dense GFLOPs, " + fmt(p.speedup(), 2) + "x measured speed-up, top-1 " +
           acc_cell(p) + "%";
  };
  out.push_back(describe("single method", single));
  out.push_back(describe("stack", stack));
  if (single && stack) {
    const ComposePoint &a = points[*stack], &b = points[*single];
    const double se = std::sqrt(a.se() * a.se() + b.se() * b.se());
    const double d = a.top1 - b.top1;
    out.push_back("- stack − single: " + diff_cell(a, b) + (std::abs(d) > 2 * se ? " (beyond 2 SE)" : " (within 2 SE)"));
  }
  if (finetuned) {
    int64_t e = 0;
    for (const ComposePoint& p : points)
      if (p.finetuned && !p.pipeline.steps.empty()) e = e == 0 ? p.train_epochs : std::min(e, p.train_epochs);
    const auto ts = most_accurate_trained(points, cap, false, e), tk = most_accurate_trained(points, cap, true, e);
    out.push_back("");
    out.push_back("**Training-matched** (every point trained for exactly " + std::to_string(e) +
                  " epoch(s) after the dense model: the fine-tuned points of methods that do not train while "
                  "pruning, and P3B right after its pruning run), <= " + fmt(100 * (budget + budget_slack), 0) +
                  "% of the dense GFLOPs:");
    out.push_back(describe("single method", ts));
    out.push_back(describe("stack", tk));
  }
  out.push_back("");
  out.push_back("**Stacks against the single methods at least as fast** (measured speed-up >= " +
                fmt(100 * (1 - speed_tolerance), 0) + "% of the stack's, " + state + "):");
  int beats = 0, stacks = 0, fastest = 0;
  for (size_t i = 0; i < points.size(); ++i) {
    const ComposePoint& s = points[i];
    if (!s.pipeline.stack || s.finetuned != finetuned) continue;
    ++stacks;
    const auto rival = best_single_as_fast(points, i, speed_tolerance);
    std::string line = "- " + point_label(s) + " (" + fmt(s.speedup(), 2) + "x, " + acc_cell(s) + "%): ";
    if (!rival) {
      line += "no single method is that fast (the stack is faster than every single-method point; nothing to compare "
              "at its speed)";
      ++fastest;
    } else {
      const ComposePoint& r = points[*rival];
      const double se = std::sqrt(s.se() * s.se() + r.se() * r.se());
      const bool wins = s.top1 - r.top1 > 2 * se;
      beats += wins;
      line += "best single as fast = " + point_label(r) + " (" + fmt(r.speedup(), 2) + "x, " + acc_cell(r) +
              "%); stack − single " + diff_cell(s, r) +
              (wins ? ": the stack wins (beyond 2 SE)" : s.top1 - r.top1 < -2 * se ? ": the single method wins (beyond 2 SE)"
                                                                                      : ": within 2 SE");
    }
    out.push_back(line);
  }
  out.push_back("- " + std::to_string(beats) + " of " + std::to_string(stacks) +
                " stacks beat every single method that is at least as fast by more than 2 SE; " +
                std::to_string(fastest) + " are faster than every single-method point (no rival at their speed)");
  return out;
}

std::vector<std::string> compose_order_lines(const std::vector<ComposePoint>& points, bool finetuned) {
  auto sorted_steps = [](const std::string& steps) {
    std::vector<std::string> names;
    for (const auto& t : pruning::parse_steps(steps)) names.push_back(t->name());
    std::sort(names.begin(), names.end());
    return names;
  };
  std::vector<std::string> out;
  for (size_t i = 0; i < points.size(); ++i)
    for (size_t j = i + 1; j < points.size(); ++j) {
      const ComposePoint &a = points[i], &b = points[j];
      if (!a.pipeline.stack || !b.pipeline.stack || a.finetuned != finetuned || b.finetuned != finetuned ||
          a.pipeline.steps == b.pipeline.steps || sorted_steps(a.pipeline.steps) != sorted_steps(b.pipeline.steps))
        continue;
      const double se = std::sqrt(a.se() * a.se() + b.se() * b.se());
      out.push_back("- " + point_label(a) + " (" + fmt(a.gflops, 5) + " GFLOPs, " + acc_cell(a) + "%) vs " +
                    point_label(b) + " (" + fmt(b.gflops, 5) + " GFLOPs, " + acc_cell(b) + "%): " + diff_cell(a, b) +
                    (std::abs(a.top1 - b.top1) > 2 * se ? " — the order matters (beyond 2 SE)" : " — within 2 SE"));
    }
  return out;
}

void write_compose_json(const std::string& path, const std::vector<ComposePoint>& points, const std::string& header_json) {
  nlohmann::json j;
  j["study"] = nlohmann::json::parse(header_json);
  j["points"] = nlohmann::json::array();
  for (size_t i = 0; i < points.size(); ++i) {
    const ComposePoint& p = points[i];
    j["points"].push_back({{"pipeline", p.pipeline.steps},
                           {"family", p.pipeline.family},
                           {"stack", p.pipeline.stack},
                           {"finetuned", p.finetuned},
                           {"params", p.params},
                           {"gflops", p.gflops},
                           {"images_per_s", p.images_per_s},
                           {"dense_images_per_s", p.dense_images_per_s},
                           {"speedup", p.speedup()},
                           {"top1", p.top1},
                           {"top1_se", p.se()},
                           {"n_test", p.n_test},
                           {"seconds", p.seconds},
                           {"train_epochs", p.train_epochs},
                           {"checkpoint", p.checkpoint},
                           {"prune_log", nlohmann::json::parse(p.prune_log_json)}});
  }
  write_text_atomic(path, j.dump(1) + "\n");
}

std::vector<ComposePoint> read_compose_json(const std::string& path, int64_t recovery_epochs,
                                           std::string* model_name) {
  std::ifstream in(path);
  SHEARS_CHECK(in.good(), "shears_compose", "cannot read '", path, "'");
  std::vector<ComposePoint> out;
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    if (model_name) *model_name = j.at("study").at("model").get<std::string>();
    for (const auto& e : j.at("points")) {
      ComposePoint p;
      p.pipeline = make_pipeline(e.at("pipeline").get<std::string>());
      p.finetuned = e.at("finetuned").get<bool>();
      p.params = e.at("params").get<int64_t>();
      p.gflops = e.at("gflops").get<double>();
      p.images_per_s = e.at("images_per_s").get<double>();
      p.dense_images_per_s = e.at("dense_images_per_s").get<double>();
      p.top1 = e.at("top1").get<double>();
      p.n_test = e.at("n_test").get<int64_t>();
      p.seconds = e.at("seconds").get<double>();
      p.checkpoint = e.at("checkpoint").get<std::string>();
      p.prune_log_json = e.at("prune_log").dump();
      p.train_epochs = e.contains("train_epochs")
                           ? e.at("train_epochs").get<int64_t>()
                           : pruning_train_epochs(p.pipeline.steps) + (p.finetuned ? recovery_epochs : 0);
      SHEARS_CHECK(p.top1 >= 0 && p.top1 <= 1 && p.gflops > 0 && p.images_per_s > 0 && p.dense_images_per_s > 0 &&
                       p.n_test > 0,
                   "shears_compose", path, ": point '", p.pipeline.steps, "' has a value out of range");
      out.push_back(p);
    }
  } catch (const nlohmann::json::exception& e) {
    fail("shears_compose", path, ": not a compose_points.json file (", e.what(), ")");
  }
  SHEARS_CHECK(!out.empty(), "shears_compose", path, ": no points");
  return out;
}

std::vector<std::string> write_compose_plots(const std::string& out_dir, const std::vector<ComposePoint>& points,
                                             const std::string& model_name, std::string& note) {
  // Families in order of first appearance; one data block per (family, recovery state) that has points.
  std::vector<std::string> families;
  for (const ComposePoint& p : points)
    if (std::find(families.begin(), families.end(), p.pipeline.family) == families.end())
      families.push_back(p.pipeline.family);
  const double dense_ips = median_dense_images_per_s(points);
  std::ostringstream dat;
  struct Block { int index; std::string family; bool finetuned; size_t family_no; };
  std::vector<Block> blocks;
  int index = 0;
  auto row = [&](size_t i) {
    const ComposePoint& p = points[i];
    dat << p.gflops << " " << normalized_images_per_s(points, i) << " " << 100 * p.top1 << "\n";
  };
  for (size_t f = 0; f < families.size(); ++f)
    for (bool ft : {true, false}) {
      std::vector<size_t> in;
      for (size_t i = 0; i < points.size(); ++i)
        if (points[i].pipeline.family == families[f] && points[i].finetuned == ft) in.push_back(i);
      if (in.empty()) continue;
      dat << "# " << families[f] << (ft ? " (fine-tuned)" : " (no fine-tune)") << "\n";
      for (size_t i : in) row(i);
      dat << "\n\n";
      blocks.push_back({index++, families[f], ft, f});
    }
  std::map<std::string, int> front_index;  // "gflops1" = the fine-tuned GFLOPs front, ...
  for (bool ft : {true, false})
    for (bool speed : {false, true}) {
      const auto front = speed ? compose_front_speed(points, ft) : compose_front_gflops(points, ft);
      if (front.empty()) continue;
      dat << "# Pareto front, " << (speed ? "speed" : "GFLOPs") << (ft ? ", fine-tuned" : ", no fine-tune") << "\n";
      for (size_t i : front) row(i);
      dat << "\n\n";
      front_index[std::string(speed ? "speed" : "gflops") + (ft ? "1" : "0")] = index++;
    }
  const std::string dat_path = out_dir + "/compose_plot.dat";
  write_text_atomic(dat_path, dat.str());

  static const char* kColors[] = {"#000000", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                                  "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#843c39"};
  static const int kFilled[] = {7, 5, 9, 11, 13, 15};  // circle, square, triangles, diamond, pentagon
  std::vector<std::string> pngs;
  note.clear();
  for (bool speed : {false, true}) {
    const std::string stem = out_dir + (speed ? "/compose_speed" : "/compose_gflops");
    std::ostringstream gp;
    gp << "set terminal pngcairo noenhanced size 1200,760 font 'Sans,10'\nset output " << gnuplot_quote(stem + ".png") << "\n"
       << "set title " << gnuplot_quote("shears_compose, " + model_name + ": top-1 vs " +
                                        (speed ? std::string("measured images/s") : std::string("GFLOPs")) +
                                        " (filled: after the recovery fine-tune; hollow: right after pruning)")
       << "\nset xlabel "
       << gnuplot_quote(speed ? "images/s (speed-up over the dense model, interleaved pairs, x its median " +
                                    fmt(dense_ips, 0) + " img/s)"
                              : std::string("GFLOPs per image (fvcore: 1 multiply-add = 1 flop)"))
       << "\nset ylabel 'test top-1 (%)'\nset grid\nset key outside right top vertical Left reverse\n"
       << "set datafile commentschars '#'\n";
    const int xcol = speed ? 2 : 1;
    gp << "plot ";
    bool first = true;
    for (const Block& b : blocks) {
      const std::string color = kColors[b.family_no % (sizeof kColors / sizeof *kColors)];
      const int pt = kFilled[b.family_no % (sizeof kFilled / sizeof *kFilled)] - (b.finetuned ? 0 : 1);
      gp << (first ? "" : ", \\\n     ") << gnuplot_quote(dat_path) << " index " << b.index << " using " << xcol
         << ":3 with points pt " << pt << " ps 1.6 lc rgb '" << color << "' "
         << (b.finetuned || std::none_of(blocks.begin(), blocks.end(),
                                         [&](const Block& o) { return o.family_no == b.family_no && o.finetuned; })
                 ? "title " + gnuplot_quote(b.family)
                 : std::string("notitle"));
      first = false;
    }
    for (bool ft : {true, false}) {
      auto it = front_index.find(std::string(speed ? "speed" : "gflops") + (ft ? "1" : "0"));
      if (it == front_index.end()) continue;
      gp << ", \\\n     " << gnuplot_quote(dat_path) << " index " << it->second << " using " << xcol
         << ":3 with steps lw 2 dt " << (ft ? 1 : 2) << " lc rgb '" << (ft ? "#000000" : "#999999") << "' title "
         << gnuplot_quote(std::string("Pareto front") + (ft ? " (fine-tuned)" : " (no fine-tune)"));
    }
    gp << "\n";
    std::string why;
    const std::string png = render_gnuplot(stem + ".gp", gp.str(), stem + ".png", why);
    if (!png.empty()) pngs.push_back(png);
    else note = why;
  }
  return pngs;
}

}  // namespace shears::recipes
