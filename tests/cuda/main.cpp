// Entry point of the CUDA suite: every test needs a GPU. On a machine without one (no driver
// or no device), each test prints why and exits with 77, which CTest reports as "Skipped"
// (SKIP_RETURN_CODE, tests/CMakeLists.txt). Listing the tests (test discovery) always works.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>

#include "tensor/backend.h"

int main(int argc, char** argv) {
  bool listing = false;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--list", 6) == 0) listing = true;
  if (!listing && shears::device_count(shears::DeviceType::CUDA) == 0) {
    std::printf("SKIPPED: no CUDA device on this machine (the CUDA module is built; its tests need a GPU)\n");
    return 77;
  }
  if (!listing)
    std::printf("CUDA device: %s\n", shears::backend_for(shears::Device::cuda(0)).describe(0).c_str());
  return Catch::Session().run(argc, argv);
}
