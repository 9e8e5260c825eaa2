// What shears_compose prints and writes: every point as a table (CSV/JSON with the prune logs), the
// Pareto-optimal points on accuracy vs GFLOPs and vs measured speed, the answers to the study's
// questions (most accurate single method and stack near a GFLOPs budget; stacks against the single
// methods that are at least as fast), and the two pictures through gnuplot (data and script beside).
#pragma once
#include <string>
#include <vector>

#include "common/compose_study.h"
#include "common/report.h"

namespace shears::recipes {

// Images/s on a common scale: the point's speed-up over the dense model (measured in interleaved pairs)
// times the median dense images/s over all pairs (so load changes between points cancel).
double normalized_images_per_s(const std::vector<ComposePoint>& points, size_t i);
double median_dense_images_per_s(const std::vector<ComposePoint>& points);

// Pareto fronts within one recovery state (finetuned or not), over every point of that state (dense
// included): on (GFLOPs, top-1) and on (measured speed-up, top-1). Indices into `points`.
std::vector<size_t> compose_front_gflops(const std::vector<ComposePoint>& points, bool finetuned);
std::vector<size_t> compose_front_speed(const std::vector<ComposePoint>& points, bool finetuned);

// Table "compose_points": every point.
Table compose_points_table(const std::vector<ComposePoint>& points);
// Table "compose_pareto": the Pareto-optimal points of `finetuned` state on both axes.
Table compose_pareto_table(const std::vector<ComposePoint>& points, bool finetuned);

// The study's answers as Markdown lines: at <= budget x dense GFLOPs (plus `budget_slack`), the most
// accurate single method and stack (difference ± its SE); for every stack, the most accurate single
// method at least (1 - speed_tolerance) x as fast, and whether the stack beats it by more than 2 SE.
std::vector<std::string> compose_answers(const std::vector<ComposePoint>& points, double budget, double budget_slack,
                                         double speed_tolerance, bool finetuned);

// The order ablation: every pair of stacks with the same steps in a different order, each with its
// GFLOPs and top-1 and the difference ± SE ("does the order matter?"). Empty when there is no such pair.
std::vector<std::string> compose_order_lines(const std::vector<ComposePoint>& points, bool finetuned);

// <out>/compose_points.json: every point with its pipeline, family, measurements, checkpoint and prune log.
void write_compose_json(const std::string& path, const std::vector<ComposePoint>& points, const std::string& header_json);

// Reads write_compose_json's file back (to print the tables and draw the plots again without re-running:
// shears_compose --report-from). Files written before train_epochs was recorded get it from the pipeline
// (P3B pruning epochs) plus `recovery_epochs` for fine-tuned points. Errors name the file and the field.
// `model_name` (optional) receives the study header's model name.
std::vector<ComposePoint> read_compose_json(const std::string& path, int64_t recovery_epochs,
                                           std::string* model_name = nullptr);

// compose_plot.dat (+ .gp scripts) and, with gnuplot, compose_gflops.png and compose_speed.png:
// top-1 vs GFLOPs and vs normalized images/s, one marker per family (filled: fine-tuned, hollow:
// right after pruning), the Pareto fronts drawn. Returns the PNGs written; `note` says why not.
std::vector<std::string> write_compose_plots(const std::string& out_dir, const std::vector<ComposePoint>& points,
                                             const std::string& model_name, std::string& note);

}  // namespace shears::recipes
