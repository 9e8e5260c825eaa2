// Tables and picture of the P3B study (see p3b_report.h).
#include "common/p3b_report.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "common/gnuplot.h"

namespace shears::recipes {

namespace {

std::string method_label(const std::string& m) {
  if (m == "dense") return "dense fine-tune (no pruning)";
  if (m == "p3b") return "P3B (block benefit, reactivation)";
  if (m == "uniform") return "uniform keep ratio (control)";
  if (m == "no-react") return "P3B, masks only shrink (control)";
  return m;
}

struct MeanSe {
  double mean = 0, se = 0;
  int64_t count = 0;
};

// Mean top-1 over the rows; SE = max(binomial SE of the mean, seed spread / sqrt(k)) in points.
MeanSe summarize(const std::vector<const P3bStudyRow*>& rows, bool pruned) {
  MeanSe r;
  if (rows.empty()) return r;
  double sum = 0, sum2 = 0, binom = 0;
  for (const P3bStudyRow* row : rows) {
    const double p = pruned ? row->pruned.top1 : row->finetuned.top1;
    sum += p;
    sum2 += p * p;
    binom += p * (1 - p) / double(std::max<int64_t>(1, row->test_samples));
  }
  const double k = double(rows.size());
  r.count = int64_t(rows.size());
  r.mean = sum / k;
  const double binom_se = std::sqrt(binom) / k;
  double spread_se = 0;
  if (rows.size() > 1) spread_se = std::sqrt(std::max(0.0, (sum2 - k * r.mean * r.mean) / (k - 1)) / k);
  r.se = std::max(binom_se, spread_se);
  return r;
}

std::string mean_se_cell(const MeanSe& m) {
  if (m.count == 0) return "-";
  return fmt(100 * m.mean, 2) + " ± " + fmt(100 * m.se, 2) + (m.count > 1 ? " (" + std::to_string(m.count) + " seeds)" : "");
}

std::string num(double v, int d) {
  if (!std::isfinite(v)) return "-";
  return fmt(v, d);
}

}  // namespace

double accuracy_se_points(double p, int64_t n) {
  return n > 0 ? 100.0 * std::sqrt(std::max(0.0, p * (1 - p)) / double(n)) : 0.0;
}

std::string accuracy_cell(double p, int64_t n) { return fmt(100 * p, 2) + " ± " + fmt(accuracy_se_points(p, n), 2); }

Table p3b_table_p1(const std::vector<P3bStudyRow>& rows, const std::vector<double>& ratios,
                   const std::vector<std::string>& methods, const std::string& setting) {
  Table t;
  t.name = "p3b_table_p1";
  t.title = "P1 - top-1 (%) after fine-tune, mean ± SE, per method and pruning ratio (" + setting + ")";
  t.columns = {"method"};
  for (double r : ratios) t.columns.push_back("pr=" + fmt(100 * r, 0) + "%");
  std::vector<const P3bStudyRow*> dense;
  for (const auto& row : rows)
    if (row.method == "dense") dense.push_back(&row);
  if (!dense.empty()) {
    std::vector<std::string> cells = {method_label("dense")};
    const std::string c = mean_se_cell(summarize(dense, false));
    for (size_t i = 0; i < ratios.size(); ++i) cells.push_back(c);
    t.add_row(cells);
  }
  for (const std::string& m : methods) {
    std::vector<std::string> cells = {method_label(m)};
    for (double r : ratios) {
      std::vector<const P3bStudyRow*> sel;
      for (const auto& row : rows)
        if (row.method == m && std::abs(row.ratio - r) < 1e-9) sel.push_back(&row);
      cells.push_back(mean_se_cell(summarize(sel, false)));
    }
    t.add_row(cells);
  }
  t.notes = {
      "Pruning ratio = fraction of ALL parameters removed (non-block parameters count and are never pruned), as the "
      "paper's --prune-ratio.",
      "Paper (METHODS.md §2.6, README, DeiT pre-trained on ImageNet, transferred): DeiT-Small unpruned 73.9 (IFOOD) / "
      "74.7 (INAT19); P3B 74.3 / 73.4 (IFOOD pr=50% / 75%), 75.5 / 73.1 (INAT19 pr=50% / 75%); SaViT 72.4 / 64.4 / "
      "71.3 / 68.0; WD-Prune 50.7 / 49.2 / 55.6 / 54.0.",
      "DeiT-Tiny unpruned 72.7 / 72.6; P3B 71.5 / 68.6 / 69.3 / 61.4; SaViT 65.7 / 59.5 / 64.1 / 45.3; WD-Prune 50.2 / "
      "44.7 / 54.8 / 46.7.",
      "Abstract: 'pruning 70% of parameters loses only 0.64% accuracy' (model and data set not recoverable).",
      "SE: binomial SE of the test-set accuracy (and, with several seeds, the seed spread, whichever is larger)."};
  return t;
}

LinePlot p3b_plot_p1(const std::vector<P3bStudyRow>& rows, const std::vector<double>& ratios,
                     const std::vector<std::string>& methods, const std::string& setting) {
  LinePlot plot;
  plot.title = "P3B P1: top-1 after fine-tune vs pruning ratio (fraction of all parameters removed)";
  plot.subtitle = setting + "; bars: ± SE";
  plot.xlabel = "pruning ratio (% of all parameters)";
  plot.ylabel = "test top-1 (%)";
  for (const std::string& m : methods) {
    PlotSeries s{method_label(m), {}, {}, {}, true, {}};
    for (double r : ratios) {
      std::vector<const P3bStudyRow*> sel;
      for (const auto& row : rows)
        if (row.method == m && std::abs(row.ratio - r) < 1e-9) sel.push_back(&row);
      if (sel.empty()) continue;
      const MeanSe ms = summarize(sel, false);
      s.x.push_back(100 * r), s.y.push_back(100 * ms.mean), s.err.push_back(100 * ms.se);
    }
    if (!s.x.empty()) plot.series.push_back(s);
  }
  std::vector<const P3bStudyRow*> dense;
  for (const auto& row : rows)
    if (row.method == "dense") dense.push_back(&row);
  if (!dense.empty()) {
    const MeanSe ms = summarize(dense, false);
    plot.series.push_back({method_label("dense"), {0.0}, {100 * ms.mean}, {100 * ms.se}, false, {}});
  }
  return plot;
}

Table p3b_table_p2(const P3bStudyRow& row) {
  Table t;
  t.name = "p3b_table_p2";
  t.title = "P2 - per sub-block at the final mask update (" + row.method + ", pr=" + fmt(100 * row.ratio, 0) +
            "%, seed " + std::to_string(row.seed) + ")";
  t.columns = {"sub-block", "ΔΨ cls", "ΔΨ patch", "importance", "goal keep ratio", "kept / unpruned params", "kept %"};
  SHEARS_CHECK(!row.run.updates.empty(), "p3b_table_p2", "the run of '", row.method, "' has no mask update");
  const pruning::P3bUpdate& u = row.run.updates.back();
  for (size_t j = 0; j < u.keep_ratio.size(); ++j) {
    const double kept = double(u.kept_params[j]), all = double(u.unpruned_params[j]);
    t.add_row({row.run.sub_block_names.at(j), num(u.benefit_cls[j], 4), num(u.benefit_patch[j], 4),
               u.importance.empty() ? "-" : num(u.importance[j], 3), num(u.goal_keep_ratio[j], 3),
               std::to_string(u.kept_params[j]) + " / " + std::to_string(u.unpruned_params[j]),
               fmt(all > 0 ? 100 * kept / all : 0, 1)});
  }
  t.notes = {"ΔΨ = CE(head on the sub-block's input) - CE(head on its output), mean over the last window "
             "(the finalize update adds the previous window, METHODS.md §2.7); positive = the sub-block helps.",
             "Kept params count weights + biases + LayerNorm entries of the branch (§2.3's W_b).",
             std::to_string(row.run.updates.size()) + " mask updates; " + std::to_string(row.reactivated) +
                 " elements reactivated over the run."};
  return t;
}

Table p3b_table_p3(const std::vector<P3bStudyRow>& rows, double dense_gflops) {
  Table t;
  t.name = "p3b_table_p3";
  t.title = "P3 - cost and accuracy of every run";
  t.columns = {"method", "pr", "seed", "params (M)", "GFLOPs", "FLOP ratio", "img/s", "dense img/s", "speedup",
               "top-1 after pruning run", "top-1 after fine-tune", "reactivated", "pruning s (heads s)", "fine-tune s"};
  for (const auto& r : rows) {
    const double flop_ratio = r.gflops > 0 ? dense_gflops / r.gflops : 0;
    const double speedup = r.dense_images_per_second > 0 ? r.images_per_second / r.dense_images_per_second : 0;
    t.add_row({r.method, r.method == "dense" ? "0%" : fmt(100 * r.ratio, 0) + "%", std::to_string(r.seed),
               fmt(double(r.params) / 1e6, 3), fmt(r.gflops, 4), fmt(flop_ratio, 2), fmt(r.images_per_second, 0),
               fmt(r.dense_images_per_second, 0), fmt(speedup, 2),
               r.has_pruned ? accuracy_cell(r.pruned.top1, r.test_samples) : "-",
               accuracy_cell(r.finetuned.top1, r.test_samples), r.method == "dense" ? "-" : std::to_string(r.reactivated),
               r.method == "dense" ? "-" : fmt(r.prune_seconds, 0) + " (" + fmt(r.heads_seconds, 0) + ")",
               fmt(r.finetune_seconds, 0)});
  }
  t.notes = {"GFLOPs: fvcore convention (METHODS.md §8) counted from the saved model's real shapes; FLOP ratio = "
             "dense / pruned. img/s: no-grad inference, interleaved medians against the dense model in the same run.",
             "Params are the saved model's tensors (sliced Linear/LayerNorm weights; non-block parameters unpruned)."};
  return t;
}

std::string write_benefit_heatmap(const P3bStudyRow& row, const std::string& stem, std::string& note) {
  std::ostringstream csv;
  csv << "iteration,sub_block_index,sub_block,delta_psi_cls,delta_psi_patch,keep_ratio\n";
  std::ostringstream cls_m, patch_m;  // gnuplot matrices: rows = sub-blocks, columns = updates
  const auto& ups = row.run.updates;
  SHEARS_CHECK(!ups.empty(), "p3b heatmap", "the run has no mask update");
  const size_t n = ups.front().keep_ratio.size();
  for (const auto& u : ups)
    for (size_t j = 0; j < n; ++j)
      csv << u.iteration << "," << j << "," << row.run.sub_block_names.at(j) << "," << u.benefit_cls[j] << ","
          << u.benefit_patch[j] << "," << u.keep_ratio[j] << "\n";
  for (size_t j = 0; j < n; ++j) {
    for (size_t k = 0; k < ups.size(); ++k) {
      const double c = std::isfinite(ups[k].benefit_cls[j]) ? ups[k].benefit_cls[j] : 0.0;
      const double p = std::isfinite(ups[k].benefit_patch[j]) ? ups[k].benefit_patch[j] : 0.0;
      cls_m << (k ? " " : "") << c;
      patch_m << (k ? " " : "") << p;
    }
    cls_m << "\n";
    patch_m << "\n";
  }
  write_text_atomic(stem + ".csv", csv.str());
  write_text_atomic(stem + "_cls.dat", cls_m.str());
  write_text_atomic(stem + "_patch.dat", patch_m.str());
  std::ostringstream gp;
  const std::string png = stem + ".png";
  gp << "set terminal pngcairo size 1300,560 font 'Sans,10'\n"
     << "set output '" << png << "'\n"
     << "set multiplot layout 1,2 title 'P3B block benefit ΔΨ per sub-block over the mask updates (" << row.method
     << ", pr=" << fmt(100 * row.ratio, 0) << "%)'\n"
     << "set xlabel 'mask update (loader iterations " << ups.front().iteration << " .. " << ups.back().iteration
     << ")'\nset ylabel 'sub-block (0 = attn 0, 1 = mlp 0, 2 = attn 1, ...)'\n"
     << "set cblabel 'ΔΨ = CE(input) - CE(output)'\nset palette defined (-1 'blue', 0 'white', 1 'red')\n"
     << "set xrange [-0.5:" << ups.size() - 0.5 << "]\nset yrange [-0.5:" << n - 0.5 << "]\n"
     << "set xtics 1\nset ytics 1\n";
  auto panel = [&](const std::string& file, const std::string& title) {
    double lim = 1e-6;
    for (const auto& u : ups)
      for (size_t j = 0; j < n; ++j) {
        const double v = title == "cls" ? u.benefit_cls[j] : u.benefit_patch[j];
        if (std::isfinite(v)) lim = std::max(lim, std::abs(v));
      }
    gp << "set title 'ΔΨ " << title << " head'\nset cbrange [" << -lim << ":" << lim << "]\n"
       << "plot '" << file << "' matrix with image notitle\n";
  };
  panel(stem + "_cls.dat", "cls");
  panel(stem + "_patch.dat", "patch");
  gp << "unset multiplot\n";
  return render_gnuplot(stem + ".gp", gp.str(), png, note);
}

}  // namespace shears::recipes
