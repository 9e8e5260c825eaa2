// The device check at the front door of every raw kernel (tensor/*.cpp): after validating its
// arguments, a kernel asks `device_backend` whether its tensors live off the host and, if so,
// hands them to that device's Backend (tensor/backend.h) instead of running the host loops.
#pragma once
#include <initializer_list>

#include "tensor/backend.h"

namespace shears {

// Null when every defined tensor is on the host; the device's backend when they share a
// non-host device; an error naming `op` and both devices when they are on two devices.
inline Backend* device_backend(const char* op, std::initializer_list<const Tensor*> tensors) {
  const Device d = common_device(op, tensors);
  return d.is_cpu() ? nullptr : &backend_for(d);
}

}  // namespace shears
