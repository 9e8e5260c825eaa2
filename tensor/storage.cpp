// CPU storage allocation with a live/peak byte counter (used by benchmarks to report
// peak memory). Asking for a CUDA storage without the CUDA module throws.
#include "tensor/storage.h"

#include <atomic>
#include <cstdlib>
#include <new>

#include "tensor/error.h"

namespace shears {
namespace {
std::atomic<size_t> g_in_use{0};
std::atomic<size_t> g_peak{0};
}  // namespace

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (device != Device::CPU)
    fail("storage", "built without CUDA; configure with -DSHEARS_WITH_CUDA=ON");
  size_t rounded = ((nbytes + 63) / 64) * 64;
  if (rounded == 0) rounded = 64;
  data_ = std::aligned_alloc(64, rounded);
  if (!data_) fail("storage", "out of memory allocating ", nbytes, " bytes");
  size_t now = g_in_use.fetch_add(nbytes) + nbytes;
  size_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
}

Storage::~Storage() {
  std::free(data_);
  g_in_use.fetch_sub(nbytes_);
}

size_t cpu_bytes_in_use() { return g_in_use.load(); }
size_t cpu_bytes_peak() { return g_peak.load(); }
void reset_cpu_bytes_peak() { g_peak.store(g_in_use.load()); }

}  // namespace shears
