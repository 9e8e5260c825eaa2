// Float64 gradient checks on the GPU: every registered op's cases of tests/autograd (shared through
// tests/autograd/gradcheck_cases.h), with the inputs, the index tensors and the perturbations on the
// device, so forward and backward both run the CUDA kernels. The ops without CUDA kernels (the P3B
// patch heads' conv2d and batch_norm) are listed, and must fail with an error naming the device.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "autograd/gradcheck.h"
#include "autograd/gradcheck_cases.h"
#include "autograd/op_registry.h"
#include "cuda_test_util.h"

using namespace shears;
using shears::test::gpu;

namespace {
const std::set<std::string> kHostOnly = {"conv2d", "batch_norm"};

struct OnDevice {  // the cases build their index tensors on the GPU while this lives
  OnDevice() { test::case_device() = gpu(); }
  ~OnDevice() { test::case_device() = Device::cpu(); }
};
}  // namespace

TEST_CASE("float64 gradcheck of every op with CUDA kernels, run on the GPU", "[cuda][gradcheck]") {
  OnDevice on_device;
  auto cases = test::gradcheck_cases();
  int checked = 0;
  for (const std::string& op : registered_ops()) {
    INFO("op: " << op);
    REQUIRE(cases.count(op) == 1);
    if (kHostOnly.count(op)) continue;
    const auto& list = cases.at(op);
    for (size_t i = 0; i < list.size(); ++i) {
      TensorList inputs;
      for (const Tensor& x : list[i].inputs) inputs.push_back(x.defined() ? x.to(gpu()) : x);
      GradcheckResult r = gradcheck(list[i].f, inputs, list[i].opts);
      INFO("case " << i << ": " << r.report << " (max rel error " << r.max_rel_error << ")");
      CHECK(r.ok);
      ++checked;
    }
  }
  CHECK(checked >= 60);
}

TEST_CASE("the ops without CUDA kernels fail on the GPU naming the device", "[cuda][gradcheck]") {
  OnDevice on_device;
  auto cases = test::gradcheck_cases();
  for (const std::string& op : kHostOnly) {
    INFO("op: " << op);
    const auto& c = cases.at(op).front();
    TensorList inputs;
    for (const Tensor& x : c.inputs) inputs.push_back(x.defined() ? x.to(gpu()) : x);
    CHECK_THROWS_WITH(c.f(inputs), Catch::Contains("cuda:0"));
  }
}
