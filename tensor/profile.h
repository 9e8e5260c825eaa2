// Per-category time breakdown of a run (`--profile` of bench_models and the main job): where the
// wall time of a training step or a forward goes — GEMM, attention, elementwise, norms, ... —
// so the next bottleneck is visible without a profiler.
//
// Accounting: only the thread that called `start()` records, and only its outermost scope, so
// nothing is counted twice (attention's own GEMMs count as attention; a kernel that runs on
// worker threads is timed by the wall clock of its caller). What no scope covers (autograd
// bookkeeping, allocation, model code between kernels) is reported as "other". Off by default;
// a scope then costs one relaxed atomic load.
#pragma once
#include <array>
#include <cstdint>
#include <string>

namespace shears::profile {

enum class Category : int {
  Gemm,         // linear (GEMM + bias), its backward, matmul
  Attention,    // the fused attention core and its backward (their GEMMs included)
  Norm,         // layer norm (and the gathered variant), its backward
  Softmax,      // softmax / log-softmax and their backwards (the loss's included)
  Elementwise,  // unary/binary maps (GELU, adds, ...), copies, fills, casts, concat
  Reduce,       // sums, means, variances, argmax, broadcast-gradient reductions
  Indexing,     // index_select / gather / scatter / index_add (token pruning, sliced models)
  Optimizer,    // AdamW / SGD steps
  Data,         // waiting for the next batch (loading, augmentation)
  Count
};
inline constexpr int kCategories = int(Category::Count);
const char* category_name(Category c);

struct Report {
  std::array<double, kCategories> seconds{};
  std::array<int64_t, kCategories> calls{};
  double wall_seconds = 0;  // since start()
};

// Starts recording on the calling thread (clears earlier figures).
void start();
// Stops recording and returns the figures.
Report stop();
bool active();

// Adds `seconds` to a category directly (the data loader's wait, measured where it happens).
void add(Category c, double seconds);

// Times its lifetime into `c` when profiling is active on this thread and no scope is open.
class Scope {
 public:
  explicit Scope(Category c);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  bool counted_ = false;  // opened on the recording thread (counts in the nesting depth)
  int category_ = -1;     // >= 0: the outermost scope, timing into this category
  int64_t start_ns_ = 0;
};

// A Markdown table: category | seconds | share of wall | calls, plus "other" (wall minus the
// categories) and, with steps > 0, the time per step in ms.
std::string format(const Report& r, int64_t steps = 0);

// Two runs side by side per step (e.g. a dense model and its pruned version): category | base ms per step |
// other ms per step | base / other (that category's speedup; "-" when one run has none) | share of other's wall. Categories that took
// no time in either run are left out; "other" and "wall" close the table. steps must be >= 1 for both.
std::string format_comparison(const Report& base, int64_t base_steps, const Report& other, int64_t other_steps,
                              const std::string& base_label, const std::string& other_label);

}  // namespace shears::profile

#define SHEARS_PROFILE_CONCAT2(a, b) a##b
#define SHEARS_PROFILE_CONCAT(a, b) SHEARS_PROFILE_CONCAT2(a, b)
// SHEARS_PROFILE(Gemm); at the top of a kernel: its time counts as GEMM when profiling.
#define SHEARS_PROFILE(cat) \
  ::shears::profile::Scope SHEARS_PROFILE_CONCAT(shears_profile_scope_, __LINE__)(::shears::profile::Category::cat)
