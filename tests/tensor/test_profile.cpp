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

TEST_CASE("profile: the side-by-side table gives per-step times, speedups and shares", "[tensor][profile]") {
  P::Report dense, pruned;
  dense.seconds[size_t(P::Category::Gemm)] = 3.0;  // 2 steps: 1500 ms per step
  dense.seconds[size_t(P::Category::Norm)] = 0.2;
  dense.wall_seconds = 4.0;
  pruned.seconds[size_t(P::Category::Gemm)] = 1.0;  // 4 steps: 250 ms per step
  pruned.seconds[size_t(P::Category::Norm)] = 0.4;
  pruned.seconds[size_t(P::Category::Indexing)] = 0.2;
  pruned.wall_seconds = 2.0;  // 500 ms per step
  const std::string t = P::format_comparison(dense, 2, pruned, 4, "dense", "pr70");
  CHECK(t.find("| category | dense ms per step | pr70 ms per step | speedup | share of pr70 |") == 0);
  CHECK(t.find("| GEMM (linear, matmul) | 1500.00 | 250.00 | 6.00x | 50.0% |") != std::string::npos);
  CHECK(t.find("| layer norm | 100.00 | 100.00 | 1.00x | 20.0% |") != std::string::npos);
  CHECK(t.find("| indexing (gather/scatter) | 0.00 | 50.00 | - | 10.0% |") != std::string::npos);
  CHECK(t.find("| wall | 2000.00 | 500.00 | 4.00x | 100.0% |") != std::string::npos);
  CHECK(t.find("| other (autograd, allocation, model code) | 400.00 | 100.00 | 4.00x | 20.0% |") != std::string::npos);
  CHECK(t.find("attention") == std::string::npos);  // no time in either run: left out
  CHECK_THROWS_WITH(P::format_comparison(dense, 0, pruned, 4, "a", "b"), Catch::Contains("steps must be >= 1"));
}
