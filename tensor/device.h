// Device: where a tensor's storage lives — the host (cpu) or one GPU of a backend module
// (cuda:N). The core knows devices only by name and index; the code that runs on a device is
// a Backend (tensor/backend.h) that an optional module registers.
#pragma once
#include <cstdint>
#include <string>

namespace shears {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static const Device CPU;   // the host
  static const Device CUDA;  // cuda:0
  static Device cpu() { return Device{DeviceType::CPU, 0}; }
  static Device cuda(int index = 0) { return Device{DeviceType::CUDA, index}; }

  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device& o) const { return type == o.type && (is_cpu() || index == o.index); }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;  // "cpu", "cuda:0"
};

inline const char* device_type_name(DeviceType t) { return t == DeviceType::CPU ? "cpu" : "cuda"; }
inline std::string device_name(Device d) { return d.str(); }

// Parses "cpu", "cuda" (= cuda:0) or "cuda:N"; anything else is an error naming `what` (a flag
// or file) and the accepted forms. Whether the device exists is checked when it is first used.
Device parse_device(const std::string& text, const std::string& what = "device");

}  // namespace shears
