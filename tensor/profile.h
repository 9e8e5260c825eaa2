// Per-category time breakdown of a run (`--profile` of bench_models and the main job): where the
// wall time of a training step or a forward goes — GEMM, attention, elementwise, norms, ... —
// so the next bottleneck is visible without a profiler.
//
// Accounting: only the thread that called `start()` records, and only its outermost scope, so
// nothing is counted twice (attention's own GEMMs count as attention; a kernel that runs on
// worker threads is timed by the wall clock of its caller). What no scope covers (autograd
// bookkeeping, allocation, model code between kernels) is reported as "other". Off by default;
// a scope then costs one relaxed atomic load.
//
// GEMM shapes: the Linear kernels (kernels::linear, linear_gelu, linear_backward) also record their time per
// (op, M, N, K), so a table shows the rate (GFLOP/s) each layer shape reaches inside the model: where a pruned
// model's narrow layers lose against the FLOPs they save.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

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

// One GEMM shape of a Linear kernel: C (M, N) = A (M, K) B (K, N), with A the rows of x, N the layer's outputs
// and K its inputs (linear_backward: the same M, N, K, and the flops of the gradients it computed).
struct GemmShape {
  std::string op;  // "linear", "linear_gelu", "linear_backward"
  int64_t m = 0, n = 0, k = 0;
  double seconds = 0;
  int64_t calls = 0;
  double flops = 0;  // in all calls
};

struct Report {
  std::array<double, kCategories> seconds{};
  std::array<int64_t, kCategories> calls{};
  double wall_seconds = 0;            // since start()
  std::vector<GemmShape> gemm_shapes;  // in the order of their first call
};

// Starts recording on the calling thread (clears earlier figures).
void start();
// Stops recording and returns the figures.
Report stop();
bool active();

// Adds `from` to `into`: seconds, calls and wall time, and its GEMM shapes (matched by op, M, N, K; new ones
// appended in their order). Several recordings of the same work (e.g. interleaved with another model's) become one.
void merge(Report& into, const Report& from);

// Adds `seconds` to a category directly (the data loader's wait, measured where it happens).
void add(Category c, double seconds);

// Times its lifetime into `c` when profiling is active on this thread and no scope is open.
class Scope {
 public:
  explicit Scope(Category c);
  // The same, and when it is the outermost scope its time also goes to the GEMM shape (op, m, n, k), with
  // `flops` floating-point operations (2 M N K per product computed). `op` must outlive the scope (a literal).
  Scope(Category c, const char* op, int64_t m, int64_t n, int64_t k, double flops);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  bool counted_ = false;  // opened on the recording thread (counts in the nesting depth)
  int category_ = -1;     // >= 0: the outermost scope, timing into this category
  int64_t start_ns_ = 0;
  const char* op_ = nullptr;  // a GEMM shape to record, when not null
  int64_t m_ = 0, n_ = 0, k_ = 0;
  double flops_ = 0;
};

// A Markdown table: category | seconds | share of wall | calls, plus "other" (wall minus the
// categories) and, with steps > 0, the time per step in ms.
std::string format(const Report& r, int64_t steps = 0);

// Two runs side by side per step (e.g. a dense model and its pruned version): category | base ms per step |
// other ms per step | base / other (that category's speedup; "-" when one run has none) | share of other's wall. Categories that took
// no time in either run are left out; "other" and "wall" close the table. steps must be >= 1 for both.
std::string format_comparison(const Report& base, int64_t base_steps, const Report& other, int64_t other_steps,
                              const std::string& base_label, const std::string& other_label);

// The GEMM shapes of a report, a Markdown table: op | M | N | K | calls per step | ms per step | GFLOP/s | share of
// the shapes' time, in the order of their first call, and a last row over all of them. steps must be >= 1.
std::string format_gemm_shapes(const Report& r, int64_t steps);

// The rate of all recorded GEMM shapes together: their flops over their seconds, in GFLOP/s (0 when none).
double gemm_shapes_gflops(const Report& r);

}  // namespace shears::profile

#define SHEARS_PROFILE_CONCAT2(a, b) a##b
#define SHEARS_PROFILE_CONCAT(a, b) SHEARS_PROFILE_CONCAT2(a, b)
// SHEARS_PROFILE(Gemm); at the top of a kernel: its time counts as GEMM when profiling.
#define SHEARS_PROFILE(cat) \
  ::shears::profile::Scope SHEARS_PROFILE_CONCAT(shears_profile_scope_, __LINE__)(::shears::profile::Category::cat)
