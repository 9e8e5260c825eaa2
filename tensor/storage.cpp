// CPU storage allocation with a live/peak byte counter (used by benchmarks to report
// peak memory) and a cache of large blocks: a freed block of 64 KiB or more is kept and
// handed to the next request of the same rounded size (64 KiB steps below 1 MiB, 2 MiB
// steps above), because first-touch page faults on fresh blocks cost as much as the GEMM
// that fills them (measured on this VM). Below 1 MiB glibc would hand out mmap'ed or
// freshly trimmed heap pages, so the faults came back on every forward of a sliced model.
// The cache holds at most kCacheLimit bytes; `release_cached_blocks` empties it, and so does
// process exit (LeakSanitizer sees no cached block). Asking for a storage on another
// device asks that device's Backend (tensor/backend.h); without the CUDA module that throws.
#include "tensor/storage.h"

#include <sys/mman.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>

#include "tensor/backend.h"
#include "tensor/error.h"

namespace shears {
namespace {
std::atomic<size_t> g_in_use{0};
std::atomic<size_t> g_peak{0};

constexpr size_t kCachedBlock = size_t(64) << 10;  // blocks >= 64 KiB are cached
constexpr size_t kMidStep = size_t(64) << 10;      // ... rounded to 64 KiB below 1 MiB
constexpr size_t kLargeBlock = size_t(1) << 20;    // blocks >= 1 MiB are rounded to 2 MiB
constexpr size_t kHugePage = size_t(2) << 20;
constexpr size_t kCacheLimit = size_t(4) << 30;   // bytes kept in the cache at most
// Under AddressSanitizer nothing is cached, so a use after free of any block is reported.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCacheEnabled = false;
#else
constexpr bool kCacheEnabled = true;
#endif

// The cache's state is never destroyed (the map lives on the heap behind a function-local
// static), so a Storage freed by another static's destructor during exit stays valid whatever
// the destruction order; the exit releaser below empties it and closes it instead.
std::mutex g_cache_mutex;  // constant-initialized, trivially destructible
size_t g_cached_bytes = 0;
bool g_cache_closed = false;  // set at exit: blocks freed afterwards go straight to free()

std::multimap<size_t, void*>& g_cache() {  // rounded size -> free block
  static auto* blocks = new std::multimap<size_t, void*>();
  return *blocks;
}

// Frees every cached block at exit and closes the cache. Statics destroyed after this one
// (constructed before it) that still own storage free their blocks directly.
struct CacheReleaseAtExit {
  CacheReleaseAtExit() { g_cache(); }  // the map exists before this destructor is registered
  ~CacheReleaseAtExit() {
    release_cached_blocks();
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    g_cache_closed = true;
  }
};
CacheReleaseAtExit g_cache_release_at_exit;

size_t round_up(size_t n, size_t step) { return ((n + step - 1) / step) * step; }

// Every size >= kLargeBlock returned here is a multiple of kHugePage (its alignment: aligned_alloc
// requires the size to be a multiple of the alignment).
size_t rounded_size(size_t nbytes) {
  if (nbytes >= kCachedBlock) {
    const size_t mid = round_up(nbytes, kMidStep);
    return mid >= kLargeBlock ? round_up(nbytes, kHugePage) : mid;
  }
  size_t r = ((nbytes + 63) / 64) * 64;
  return r == 0 ? 64 : r;
}

void* allocate(size_t rounded) {
  if (kCacheEnabled && rounded >= kCachedBlock) {
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    auto it = g_cache().find(rounded);
    if (it != g_cache().end()) {
      void* p = it->second;
      g_cache().erase(it);
      g_cached_bytes -= rounded;
      return p;
    }
  }
  void* p = std::aligned_alloc(rounded >= kLargeBlock ? kHugePage : 64, rounded);
  if (p && rounded >= kLargeBlock) madvise(p, rounded, MADV_HUGEPAGE);  // fewer, cheaper faults
  return p;
}

void deallocate(void* p, size_t rounded) {
  if (kCacheEnabled && rounded >= kCachedBlock) {
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    if (!g_cache_closed && g_cached_bytes + rounded <= kCacheLimit) {
      g_cache().emplace(rounded, p);
      g_cached_bytes += rounded;
      return;
    }
  }
  std::free(p);
}
}  // namespace

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (!device.is_cpu()) {
    backend_ = &backend_for(device);  // throws "built without CUDA ..." without the module
    data_ = backend_->allocate(nbytes, device.index);
    return;
  }
  data_ = allocate(rounded_size(nbytes));
  if (!data_) fail("storage", "out of memory allocating ", nbytes, " bytes");
  size_t now = g_in_use.fetch_add(nbytes) + nbytes;
  size_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
}

Storage::~Storage() {
  if (backend_) {
    backend_->deallocate(data_, nbytes_, device_.index);
    return;
  }
  deallocate(data_, rounded_size(nbytes_));
  g_in_use.fetch_sub(nbytes_);
}

size_t cpu_bytes_in_use() { return g_in_use.load(); }
size_t cpu_bytes_peak() { return g_peak.load(); }
void reset_cpu_bytes_peak() { g_peak.store(g_in_use.load()); }

void release_cached_blocks() {
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  for (auto& kv : g_cache()) std::free(kv.second);
  g_cache().clear();
  g_cached_bytes = 0;
}

size_t cpu_bytes_cached() {
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  return g_cached_bytes;
}

}  // namespace shears
