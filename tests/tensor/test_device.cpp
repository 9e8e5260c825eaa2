// Devices without a GPU: parsing device names, the "built without CUDA" error of a build without
// the CUDA module (in a build with it, the module answers instead), and host tensors staying put.
#include <catch2/catch.hpp>

#include <string>

#include "tensor/backend.h"
#include "tensor/creation.h"

using namespace shears;

TEST_CASE("device names parse, bad ones are errors naming the flag", "[device]") {
  CHECK(parse_device("cpu") == Device::cpu());
  CHECK(parse_device("cuda") == Device::cuda(0));
  CHECK(parse_device("cuda:3") == Device::cuda(3));
  CHECK(parse_device("cuda:3").str() == "cuda:3");
  CHECK(Device::cpu().str() == "cpu");
  CHECK(Device::cuda(1) != Device::cuda(0));
  for (const char* bad : {"gpu", "cuda:", "cuda:-1", "cuda:x", "CPU", "", "cuda:123456"})
    CHECK_THROWS_WITH(parse_device(bad, "--device"), Catch::Contains("--device") && Catch::Contains("cpu, cuda"));
}

TEST_CASE("asking for CUDA without the module says how to build it, host tensors stay on the host", "[device]") {
  Tensor t = ones({2, 3});
  CHECK(t.device().is_cpu());
  CHECK(t.cpu().is_same(t));
  CHECK(zeros_like(t).device().is_cpu());
  if (find_backend(DeviceType::CUDA) == nullptr) {
    CHECK(device_count(DeviceType::CUDA) == 0);
    CHECK_THROWS_WITH(Tensor::empty({2}, DType::F32, Device::cuda(0)),
                      Catch::Contains("built without CUDA; configure with -DSHEARS_WITH_CUDA=ON"));
    CHECK_THROWS_WITH(t.to(Device::cuda(0)), Catch::Contains("built without CUDA"));
  } else if (device_count(DeviceType::CUDA) == 0) {  // module built, no GPU: a clear error, not a crash
    CHECK_THROWS_WITH(t.to(Device::cuda(0)), Catch::Contains("does not exist"));
  } else {
    CHECK(t.to(Device::cuda(0)).cpu().to_vector<float>() == t.to_vector<float>());
  }
}
