// Thread control and the parallel loop every CPU kernel uses. oneTBB owns the cores;
// BLAS is called single-threaded inside TBB tasks (see gemm.cpp), so the two never
// oversubscribe. Work is split into chunks whose boundaries do not depend on the
// thread count, so kernels give the same bits on 1 or many threads.
#pragma once
#include <cstdint>
#include <functional>

namespace shears {

// Caps the number of worker threads (default: hardware concurrency, or the
// SHEARS_NUM_THREADS environment variable when set).
void set_num_threads(int n);
int get_num_threads();

// Calls fn(begin, end) over [0, n) in chunks of at most `grain` items (chunk
// boundaries are multiples of grain, independent of the thread count). Runs inline
// when n <= grain or with one thread; nesting is allowed (oneTBB composes).
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// Number of items per chunk so that each chunk carries about `target_work` units
// when each item costs `work_per_item`.
inline int64_t grain_for(int64_t work_per_item, int64_t target_work = 32768) {
  int64_t g = target_work / (work_per_item > 0 ? work_per_item : 1);
  return g > 0 ? g : 1;
}

}  // namespace shears
