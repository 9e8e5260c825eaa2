// The per-category time breakdown (see profile.h): outermost scopes of the recording thread.
#include "tensor/profile.h"

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

Scope::~Scope() {
  if (!counted_) return;
  --t_depth;
  if (category_ < 0 || !active()) return;
  const double s = double(now_ns() - start_ns_) * 1e-9;
  std::lock_guard<std::mutex> lock(g_mutex);
  g_report.seconds[size_t(category_)] += s;
  g_report.calls[size_t(category_)] += 1;
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

}  // namespace shears::profile
