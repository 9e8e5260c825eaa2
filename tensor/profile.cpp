// The per-category time breakdown (see profile.h): outermost scopes of the recording thread.
#include "tensor/profile.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include "tensor/error.h"

namespace shears::profile {
namespace {

std::atomic<bool> g_active{false};
std::thread::id g_owner;
std::mutex g_mutex;  // guards g_report (add() may come from another thread)
Report g_report;
int64_t g_start_ns = 0;
thread_local int t_depth = 0;  // open scopes on this thread

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The entry of (op, m, n, k) in `shapes`, appended with no time when there is none (a few dozen shapes per model:
// a linear search).
GemmShape& shape_entry(std::vector<GemmShape>& shapes, const std::string& op, int64_t m, int64_t n, int64_t k) {
  auto it = std::find_if(shapes.begin(), shapes.end(),
                         [&](const GemmShape& g) { return g.m == m && g.n == n && g.k == k && g.op == op; });
  return it != shapes.end() ? *it : shapes.emplace_back(GemmShape{op, m, n, k});
}

}  // namespace

const char* category_name(Category c) {
  static const char* names[kCategories] = {"GEMM (linear, matmul)", "attention core", "layer norm", "softmax / loss",
                                          "elementwise + copies", "reductions", "indexing (gather/scatter)",
                                          "optimizer", "data (waiting for batches)"};
  const int i = int(c);
  return i >= 0 && i < kCategories ? names[i] : "?";
}

void start() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_report = Report{};
  g_owner = std::this_thread::get_id();
  g_start_ns = now_ns();
  t_depth = 0;
  g_active.store(true, std::memory_order_release);
}

Report stop() {
  g_active.store(false, std::memory_order_release);
  std::lock_guard<std::mutex> lock(g_mutex);
  g_report.wall_seconds = double(now_ns() - g_start_ns) * 1e-9;
  return g_report;
}

bool active() { return g_active.load(std::memory_order_relaxed); }

void add(Category c, double seconds) {
  if (!active()) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  g_report.seconds[size_t(c)] += seconds;
  g_report.calls[size_t(c)] += 1;
}

Scope::Scope(Category c) {
  if (!g_active.load(std::memory_order_relaxed) || std::this_thread::get_id() != g_owner) return;
  counted_ = true;
  if (t_depth++ > 0) return;  // nested: the outermost scope has the time
  category_ = int(c);
  start_ns_ = now_ns();
}

Scope::Scope(Category c, const char* op, int64_t m, int64_t n, int64_t k, double flops) : Scope(c) {
  if (category_ < 0) return;  // not recording, or nested: the outermost scope has the time
  op_ = op, m_ = m, n_ = n, k_ = k, flops_ = flops;
}

Scope::~Scope() {
  if (!counted_) return;
  --t_depth;
  if (category_ < 0 || !active()) return;
  const double s = double(now_ns() - start_ns_) * 1e-9;
  std::lock_guard<std::mutex> lock(g_mutex);
  g_report.seconds[size_t(category_)] += s;
  g_report.calls[size_t(category_)] += 1;
  if (!op_) return;
  GemmShape& e = shape_entry(g_report.gemm_shapes, op_, m_, n_, k_);
  e.seconds += s;
  e.calls += 1;
  e.flops += flops_;
}

std::string format(const Report& r, int64_t steps) {
  std::string out = "| category | seconds | share of wall | calls |";
  if (steps > 0) out += " ms per step |";
  out += steps > 0 ? "\n|---|---|---|---|---|\n" : "\n|---|---|---|---|\n";
  double covered = 0;
  char line[256];
  auto row = [&](const char* name, double s, int64_t calls) {
    const double share = r.wall_seconds > 0 ? 100.0 * s / r.wall_seconds : 0.0;
    int n = std::snprintf(line, sizeof line, "| %s | %.3f | %.1f%% | %s |", name, s, share,
                          calls >= 0 ? std::to_string(calls).c_str() : "-");
    if (steps > 0) std::snprintf(line + n, sizeof line - size_t(n), " %.2f |", 1e3 * s / double(steps));
    out += line;
    out += "\n";
  };
  for (int i = 0; i < kCategories; ++i) {
    covered += r.seconds[size_t(i)];
    row(category_name(Category(i)), r.seconds[size_t(i)], r.calls[size_t(i)]);
  }
  row("other (autograd, allocation, model code)", r.wall_seconds - covered, -1);
  row("wall", r.wall_seconds, -1);
  return out;
}

std::string format_comparison(const Report& base, int64_t base_steps, const Report& other, int64_t other_steps,
                              const std::string& base_label, const std::string& other_label) {
  SHEARS_CHECK(base_steps >= 1 && other_steps >= 1, "profile::format_comparison", "steps must be >= 1, got ",
               base_steps, " and ", other_steps);
  std::string out = "| category | " + base_label + " ms per step | " + other_label + " ms per step | speedup | share of " +
                    other_label + " |\n|---|---:|---:|---:|---:|\n";
  char line[256];
  auto row = [&](const char* name, double b, double o) {  // seconds in total
    const double bms = 1e3 * b / double(base_steps), oms = 1e3 * o / double(other_steps);
    const double wall_ms = 1e3 * other.wall_seconds / double(other_steps);
    char speedup[32] = "-";
    if (bms > 0 && oms > 0) std::snprintf(speedup, sizeof speedup, "%.2fx", bms / oms);  // "-": only in one run
    std::snprintf(line, sizeof line, "| %s | %.2f | %.2f | %s | %.1f%% |\n", name, bms, oms, speedup,
                  wall_ms > 0 ? 100.0 * oms / wall_ms : 0.0);
    out += line;
  };
  double base_covered = 0, other_covered = 0;
  for (int i = 0; i < kCategories; ++i) {
    const double b = base.seconds[size_t(i)], o = other.seconds[size_t(i)];
    base_covered += b;
    other_covered += o;
    if (b > 0 || o > 0) row(category_name(Category(i)), b, o);
  }
  row("other (autograd, allocation, model code)", base.wall_seconds - base_covered, other.wall_seconds - other_covered);
  row("wall", base.wall_seconds, other.wall_seconds);
  return out;
}

void merge(Report& into, const Report& from) {
  for (int i = 0; i < kCategories; ++i) {
    into.seconds[size_t(i)] += from.seconds[size_t(i)];
    into.calls[size_t(i)] += from.calls[size_t(i)];
  }
  into.wall_seconds += from.wall_seconds;
  for (const GemmShape& g : from.gemm_shapes) {
    GemmShape& e = shape_entry(into.gemm_shapes, g.op, g.m, g.n, g.k);
    e.seconds += g.seconds;
    e.calls += g.calls;
    e.flops += g.flops;
  }
}

double gemm_shapes_gflops(const Report& r) {
  double flops = 0, seconds = 0;
  for (const GemmShape& g : r.gemm_shapes) flops += g.flops, seconds += g.seconds;
  return seconds > 0 ? flops / seconds * 1e-9 : 0.0;
}

std::string format_gemm_shapes(const Report& r, int64_t steps) {
  SHEARS_CHECK(steps >= 1, "profile::format_gemm_shapes", "steps must be >= 1, got ", steps);
  std::string out =
      "| op | M | N | K | calls per step | ms per step | GFLOP/s | share of these |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|\n";
  double total_s = 0;
  int64_t total_calls = 0;
  for (const GemmShape& g : r.gemm_shapes) total_s += g.seconds, total_calls += g.calls;
  char line[256];
  auto row = [&](const std::string& op, const std::string& m, const std::string& n, const std::string& k,
                 int64_t calls, double s, double gflops) {
    std::snprintf(line, sizeof line, "| %s | %s | %s | %s | %.2f | %.2f | %.1f | %.1f%% |\n", op.c_str(), m.c_str(),
                  n.c_str(), k.c_str(), double(calls) / double(steps), 1e3 * s / double(steps), gflops,
                  total_s > 0 ? 100.0 * s / total_s : 0.0);
    out += line;
  };
  for (const GemmShape& g : r.gemm_shapes)
    row(g.op, std::to_string(g.m), std::to_string(g.n), std::to_string(g.k), g.calls, g.seconds,
        g.seconds > 0 ? g.flops / g.seconds * 1e-9 : 0.0);
  row("all shapes", "", "", "", total_calls, total_s, gemm_shapes_gflops(r));
  return out;
}

}  // namespace shears::profile
