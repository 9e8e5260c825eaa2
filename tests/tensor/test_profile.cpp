// Tests for tensor/profile: outermost scopes only, only the recording thread, nothing when off,
// kernels report their categories, and the table adds up to the wall time; the Linear kernels record their GEMM
// shapes (outermost scopes only) and the shape table gives per-step times and rates.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
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

TEST_CASE("profile: kernels report their categories, the table lists every category", "[tensor][profile]") {
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

TEST_CASE("profile: the Linear kernels record their GEMM shapes, outermost scopes only", "[tensor][profile]") {
  Tensor x = ones({2, 3, 32}, DType::F32), w = ones({16, 32}, DType::F32), b = ones({16}, DType::F32);
  Tensor w2 = ones({8, 16}, DType::F32), dy = ones({2, 3, 16}, DType::F32);
  P::start();
  Tensor y = kernels::linear(x, w, b);        // M 6 = 2 x 3 rows, N 16, K 32
  Tensor g = kernels::linear_gelu(x, w, b);   // the same shape, another op
  Tensor z = kernels::linear(y, w2, Tensor());  // M 6, N 8, K 16
  kernels::linear(x, w, Tensor());              // the first shape again
  kernels::linear_backward(dy, x, w, true, true, false);  // dx and dW: two GEMMs of 6 x 16 x 32
  kernels::linear_backward(dy, x, w, false, true, true);  // dW only
  {
    P::Scope outer(P::Category::Attention);  // a Linear kernel inside another scope: its time is the outer one's
    kernels::linear(x, w, Tensor());  // the first shape: were it recorded, that shape would have 3 calls
  }
  const P::Report r = P::stop();
  REQUIRE(r.gemm_shapes.size() == 4);
  const double mnk = 6.0 * 16 * 32;
  const P::GemmShape& a = r.gemm_shapes[0];
  CHECK((a.op == "linear" && a.m == 6 && a.n == 16 && a.k == 32 && a.calls == 2));
  CHECK(a.flops == 2 * 2 * mnk);
  CHECK((r.gemm_shapes[1].op == "linear_gelu" && r.gemm_shapes[1].m == 6 && r.gemm_shapes[1].calls == 1));
  CHECK((r.gemm_shapes[2].op == "linear" && r.gemm_shapes[2].n == 8 && r.gemm_shapes[2].k == 16));
  CHECK(r.gemm_shapes[2].flops == 2.0 * 6 * 8 * 16);
  const P::GemmShape& bw = r.gemm_shapes[3];
  CHECK((bw.op == "linear_backward" && bw.m == 6 && bw.n == 16 && bw.k == 32 && bw.calls == 2));
  CHECK(bw.flops == 2 * mnk * 2 + 2 * mnk);  // dx + dW, then dW alone
  double seconds = 0, flops = 0;
  for (const P::GemmShape& s : r.gemm_shapes) {
    CHECK(s.seconds > 0);
    seconds += s.seconds, flops += s.flops;
  }
  CHECK(seconds <= r.seconds[size_t(P::Category::Gemm)] + 1e-12);  // the same scopes' time, nothing more
  CHECK(P::gemm_shapes_gflops(r) == Approx(flops / seconds * 1e-9));
  CHECK(r.calls[size_t(P::Category::Gemm)] == 6);
  CHECK(r.calls[size_t(P::Category::Attention)] == 1);
}

TEST_CASE("profile: the GEMM shape table gives per-step calls, times and rates", "[tensor][profile]") {
  P::Report r;
  r.gemm_shapes.push_back({"linear", 6304, 1152, 384, 0.5, 24, 24 * 2.0 * 6304 * 1152 * 384});  // 2 steps
  r.gemm_shapes.push_back({"linear_gelu", 6304, 181, 130, 0.02, 2, 2 * 2.0 * 6304 * 181 * 130});
  const std::string t = P::format_gemm_shapes(r, 2);
  char want[256];
  // 24 calls of 5.58 GFLOP in 0.5 s: 267.9 GFLOP/s; 2 of 0.297 GFLOP in 0.02 s: 29.7 GFLOP/s
  std::snprintf(want, sizeof want, "| linear | 6304 | 1152 | 384 | 12.00 | 250.00 | %.1f | 96.2%% |",
                24 * 2.0 * 6304 * 1152 * 384 / 0.5 * 1e-9);
  CHECK_THAT(t, Catch::Contains(want));
  std::snprintf(want, sizeof want, "| linear_gelu | 6304 | 181 | 130 | 1.00 | 10.00 | %.1f | 3.8%% |",
                2 * 2.0 * 6304 * 181 * 130 / 0.02 * 1e-9);
  CHECK_THAT(t, Catch::Contains(want));
  std::snprintf(want, sizeof want, "| all shapes |  |  |  | 13.00 | 260.00 | %.1f | 100.0%% |",
                (24 * 2.0 * 6304 * 1152 * 384 + 2 * 2.0 * 6304 * 181 * 130) / 0.52 * 1e-9);
  CHECK_THAT(t, Catch::Contains(want));
  CHECK(t.find("| linear |") < t.find("| linear_gelu |"));  // in the order of their first call
  CHECK(P::gemm_shapes_gflops(P::Report{}) == 0.0);
  CHECK_THROWS_WITH(P::format_gemm_shapes(r, 0), Catch::Contains("steps must be >= 1"));
}

TEST_CASE("profile: merge adds two recordings, GEMM shapes matched by op and shape", "[tensor][profile]") {
  P::Report a, b;
  a.seconds[size_t(P::Category::Gemm)] = 1.0, a.calls[size_t(P::Category::Gemm)] = 3, a.wall_seconds = 2.0;
  a.gemm_shapes.push_back({"linear", 6, 16, 32, 0.5, 2, 100});
  a.gemm_shapes.push_back({"linear", 6, 8, 16, 0.25, 1, 10});
  b.seconds[size_t(P::Category::Gemm)] = 0.5, b.calls[size_t(P::Category::Gemm)] = 2, b.wall_seconds = 1.0;
  b.seconds[size_t(P::Category::Norm)] = 0.125, b.calls[size_t(P::Category::Norm)] = 1;
  b.gemm_shapes.push_back({"linear_gelu", 6, 16, 32, 0.125, 1, 50});  // same shape, another op: a row of its own
  b.gemm_shapes.push_back({"linear", 6, 16, 32, 0.25, 1, 50});
  P::merge(a, b);
  CHECK(a.seconds[size_t(P::Category::Gemm)] == 1.5);
  CHECK(a.calls[size_t(P::Category::Gemm)] == 5);
  CHECK(a.seconds[size_t(P::Category::Norm)] == 0.125);
  CHECK(a.calls[size_t(P::Category::Norm)] == 1);
  CHECK(a.wall_seconds == 3.0);
  REQUIRE(a.gemm_shapes.size() == 3);
  CHECK((a.gemm_shapes[0].seconds == 0.75 && a.gemm_shapes[0].calls == 3 && a.gemm_shapes[0].flops == 150));
  CHECK((a.gemm_shapes[1].n == 8 && a.gemm_shapes[1].calls == 1 && a.gemm_shapes[1].flops == 10));
  CHECK((a.gemm_shapes[2].op == "linear_gelu" && a.gemm_shapes[2].seconds == 0.125 && a.gemm_shapes[2].calls == 1));
}
