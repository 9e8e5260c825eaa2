// Tests for tensor/profile: outermost scopes only, only the recording thread, nothing when off,
// kernels report their categories, and the table adds up to the wall time.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

#include "tensor/creation.h"
#include "tensor/kernels.h"
#include "tensor/profile.h"

using namespace shears;
namespace P = shears::profile;

namespace {
void busy_ms(int ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
  }
}
}  // namespace

TEST_CASE("profile: nested scopes count once, in the outermost category", "[tensor][profile]") {
  P::start();
  {
    P::Scope outer(P::Category::Attention);
    busy_ms(20);
    P::Scope inner(P::Category::Gemm);  // e.g. attention's own GEMMs
    busy_ms(20);
  }
  {
    P::Scope gemm(P::Category::Gemm);
    busy_ms(10);
  }
  const P::Report r = P::stop();
  CHECK(r.calls[size_t(P::Category::Attention)] == 1);
  CHECK(r.calls[size_t(P::Category::Gemm)] == 1);
  CHECK(r.seconds[size_t(P::Category::Attention)] >= 0.039);
  CHECK(r.seconds[size_t(P::Category::Gemm)] >= 0.009);
  CHECK(r.seconds[size_t(P::Category::Gemm)] < r.seconds[size_t(P::Category::Attention)]);
  double covered = 0;
  for (double s : r.seconds) covered += s;
  CHECK(covered <= r.wall_seconds);
}

TEST_CASE("profile: other threads and inactive profiling record nothing", "[tensor][profile]") {
  {
    P::Scope off(P::Category::Gemm);  // before start(): ignored
  }
  P::start();
  std::thread other([] {
    P::Scope s(P::Category::Norm);
    busy_ms(5);
  });
  other.join();
  const P::Report r = P::stop();
  CHECK(r.calls[size_t(P::Category::Norm)] == 0);
  CHECK(r.calls[size_t(P::Category::Gemm)] == 0);
  {
    P::Scope after(P::Category::Gemm);  // after stop(): ignored, and the depth stays balanced
  }
  P::start();
  { P::Scope again(P::Category::Gemm); }
  CHECK(P::stop().calls[size_t(P::Category::Gemm)] == 1);
}

TEST_CASE("profile: kernels report their categories; the table lists every category", "[tensor][profile]") {
  Tensor x = ones({64, 32}, DType::F32), w = ones({16, 32}, DType::F32);
  P::start();
  Tensor y = kernels::linear(x, w, Tensor());
  Tensor z = kernels::unary(kernels::UnaryOp::Exp, y);
  Tensor s = kernels::reduce(kernels::ReduceOp::Sum, z, {}, false);
  const P::Report r = P::stop();
  CHECK(r.calls[size_t(P::Category::Gemm)] == 1);  // linear's inner contiguous() is nested in it
  CHECK(r.calls[size_t(P::Category::Elementwise)] == 1);
  CHECK(r.calls[size_t(P::Category::Reduce)] == 1);
  const std::string table = P::format(r, 2);
  for (int i = 0; i < P::kCategories; ++i) CHECK(table.find(P::category_name(P::Category(i))) != std::string::npos);
  CHECK(table.find("| other") != std::string::npos);
  CHECK(table.find("ms per step") != std::string::npos);
}
