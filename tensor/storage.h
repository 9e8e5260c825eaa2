// Storage: a reference-counted buffer on a device (64-byte aligned on the host; on another
// device it comes from that device's Backend). Tensors share a Storage through views; the
// buffer is freed when the last Tensor lets go of it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "tensor/device.h"

namespace shears {

class Storage {
 public:
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() { return data_; }
  const void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_ = Device::cpu();
  class Backend* backend_ = nullptr;  // owner of a non-host buffer
};

// Bytes currently held by all CPU storages, and the high-water mark since the last reset.
size_t cpu_bytes_in_use();
size_t cpu_bytes_peak();
void reset_cpu_bytes_peak();
// Large freed blocks kept for reuse (see storage.cpp), and a way to give them back.
size_t cpu_bytes_cached();
void release_cached_blocks();

}  // namespace shears
