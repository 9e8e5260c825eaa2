// oneTBB-backed thread control and parallel_for (see parallel.h).
#include "tensor/parallel.h"

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <cstdlib>
#include <memory>
#include <mutex>

#include "tensor/error.h"

namespace shears {
namespace {
std::mutex g_mutex;
std::unique_ptr<tbb::global_control> g_control;
int g_threads = 0;

int default_threads() {
  if (const char* env = std::getenv("SHEARS_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  return tbb::info::default_concurrency();
}

void ensure_init() {
  if (g_threads > 0) return;
  g_threads = default_threads();
  g_control = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                    static_cast<size_t>(g_threads));
}
}  // namespace

void set_num_threads(int n) {
  SHEARS_CHECK(n >= 1, "set_num_threads", "thread count must be >= 1, got ", n);
  std::lock_guard<std::mutex> lock(g_mutex);
  g_control.reset();
  g_threads = n;
  g_control = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                    static_cast<size_t>(n));
}

int get_num_threads() {
  std::lock_guard<std::mutex> lock(g_mutex);
  ensure_init();
  return g_threads;
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int threads = get_num_threads();
  if (n <= grain || threads == 1) {
    // Same chunk boundaries as the parallel path, run in order on this thread.
    for (int64_t b = 0; b < n; b += grain) fn(b, std::min(n, b + grain));
    return;
  }
  int64_t chunks = (n + grain - 1) / grain;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, chunks, 1),
                    [&](const tbb::blocked_range<int64_t>& r) {
                      for (int64_t c = r.begin(); c < r.end(); ++c)
                        fn(c * grain, std::min(n, (c + 1) * grain));
                    },
                    tbb::simple_partitioner());
}

}  // namespace shears
