// cuda/entropy.cu (Backend::row_entropy) through the public functions of pruning/entropy.h: the
// Shannon/Rényi entropies of attention rows computed on the GPU against the host code, for orders
// 0, 0.5, 0.9, 1, 1.1, 2, 3.7 and inf (every branch of the host: Hartley, the series band around
// 1, the log-sum-exp with half-integer and general powers, the min-entropy), f32 and f64, rows of
// 5 and 197 keys with exact zeros, an all-zero row and a one-hot row, the CLS key kept or excluded,
// both head aggregations and strided inputs; the host's errors on negative, NaN and infinite values
// (same message); and the closed form of a uniform row (every order gives ln n).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "cuda/cuda_test_util.h"
#include "pruning/entropy.h"
#include "tensor/backend.h"
#include "tensor/creation.h"
#include "tensor/error.h"
#include "tensor/kernels.h"

using namespace shears;
using shears::test::gpu;
using shears::test::host_randn;
using shears::test::require_close;

namespace {

const double kOrders[] = {0.0, 0.5, 0.9, 1.0, 1.1, 2.0, 3.7, pruning::kMinEntropyOrder};

// Attention-like probabilities (B, H, N, N) on the host: softmax rows of scaled normal logits, with
// exact zeros in every third row (every third key, the CLS key among them), row 1 all zeros, row 2
// one-hot on key 2, and every fifth row scaled by 3.7 (unnormalised: the entropy renormalises).
Tensor host_attention(int64_t B, int64_t H, int64_t N, uint64_t seed, DType dtype) {
  std::vector<double> v = host_randn({B, H, N, N}, seed, DType::F64).to_vector<double>();
  const int64_t rows = B * H * N;
  for (int64_t r = 0; r < rows; ++r) {
    double* p = v.data() + r * N;
    double mx = -1e300, s = 0.0;
    for (int64_t j = 0; j < N; ++j) mx = std::max(mx, 2.5 * p[j]);
    for (int64_t j = 0; j < N; ++j) s += (p[j] = std::exp(2.5 * p[j] - mx));
    for (int64_t j = 0; j < N; ++j) p[j] /= s;
    if (r % 3 == 0)
      for (int64_t j = 0; j < N; j += 3) p[j] = 0.0;
    if (r % 5 == 4)
      for (int64_t j = 0; j < N; ++j) p[j] *= 3.7;
    if (r == 1)
      for (int64_t j = 0; j < N; ++j) p[j] = 0.0;
    if (r == 2)
      for (int64_t j = 0; j < N; ++j) p[j] = j == 2 ? 0.75 : 0.0;
  }
  Tensor t = from_vector(v, {B, H, N, N});
  return dtype == DType::F64 ? t : kernels::to_dtype(t, dtype);
}

// f64 results agree with the host to 1e-12 relative; f32 results to their own rounding.
void check_same(const Tensor& got, const Tensor& expect, DType dtype, const std::string& what) {
  INFO(what);
  CHECK(got.device() == gpu());
  const bool f64 = dtype == DType::F64;
  require_close(got, expect, f64 ? 1e-12 : 1e-6, f64 ? 1e-13 : 1e-7, what);
}

std::string order_str(double alpha) { return std::isinf(alpha) ? "inf" : std::to_string(alpha); }

// The message of the error `f` throws ("" when it does not throw).
template <typename F> std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// probs with value `bad` written at (b, h, i, j).
Tensor with_value(const Tensor& probs, int64_t b, int64_t h, int64_t i, int64_t j, double bad) {
  const int64_t H = probs.size(1), N = probs.size(2), K = probs.size(3);
  std::vector<double> v = probs.to_vector<double>();
  v[size_t(((b * H + h) * N + i) * K + j)] = bad;
  Tensor t = from_vector(v, probs.shape());
  return kernels::to_dtype(t, probs.dtype());
}

}  // namespace

TEST_CASE("attention entropies on the GPU equal the host's, every order, dtype and aggregation", "[cuda]") {
  for (DType dtype : {DType::F64, DType::F32}) {
    for (int64_t N : {int64_t(5), int64_t(197)}) {
      const int64_t B = 2, H = 3;
      Tensor probs = host_attention(B, H, N, 40 + uint64_t(N), dtype);
      Tensor dprobs = probs.to(gpu());
      for (double alpha : kOrders) {
        for (bool exclude : {false, true}) {
          const std::string what = std::string(dtype_name(dtype)) + " N=" + std::to_string(N) +
                                   " alpha=" + order_str(alpha) + (exclude ? " exclude_cls_key" : "");
          pruning::AttentionEntropyOptions opts{alpha, exclude};
          Tensor rows_h = pruning::attention_row_entropy(probs, opts);
          Tensor rows_d = pruning::attention_row_entropy(dprobs, opts);
          check_same(rows_d, rows_h, dtype, what + " attention_row_entropy");
          check_same(pruning::head_mean_attention_entropy(dprobs, opts),
                     pruning::head_mean_attention_entropy(probs, opts), dtype, what + " head_mean_attention_entropy");
          check_same(pruning::entropy_of_head_mean_attention(dprobs, opts),
                     pruning::entropy_of_head_mean_attention(probs, opts), dtype,
                     what + " entropy_of_head_mean_attention");
          // The special rows: all zeros -> 0; one-hot -> 0 for every order.
          std::vector<double> h = rows_d.to_vector<double>();
          CHECK(h[1] == 0.0);
          CHECK(h[2] == 0.0);
        }
        // Per-row entropy of any shape, also of a strided view (the last dim transposed in).
        check_same(pruning::renyi_entropy(dprobs, alpha), pruning::renyi_entropy(probs, alpha), dtype,
                   "renyi_entropy " + order_str(alpha));
        Tensor tv = kernels::transpose(probs, 2, 3), dtv = kernels::transpose(dprobs, 2, 3);
        check_same(pruning::renyi_entropy(dtv, alpha), pruning::renyi_entropy(tv, alpha), dtype,
                   "renyi_entropy of a strided view " + order_str(alpha));
      }
    }
  }
}

TEST_CASE("entropies on the GPU: shapes, empty rows and the closed form of a uniform row", "[cuda]") {
  for (DType dtype : {DType::F64, DType::F32}) {
    // A uniform row of n (any scale) has entropy ln n for every order.
    for (int64_t n : {int64_t(1), int64_t(5), int64_t(197), int64_t(1000)}) {
      Tensor u = full({3, n}, 0.25, dtype, gpu());
      for (double alpha : kOrders) {
        INFO(dtype_name(dtype) << " n=" << n << " alpha=" << order_str(alpha));
        Tensor h = pruning::renyi_entropy(u, alpha);
        CHECK(h.device() == gpu());
        CHECK(h.dtype() == dtype);
        REQUIRE(h.shape() == Shape{3});
        const double tol = dtype == DType::F64 ? 1e-12 : 1e-6;
        for (double v : h.to_vector<double>())
          CHECK(std::abs(v - std::log(double(n))) <= tol * (1 + std::log(double(n))));
      }
    }
    // 1-d input -> 0-d result; rows of 0 entries -> 0; (B, 0, N, N) heads -> (B, N) zeros.
    Tensor one = pruning::renyi_entropy(full({4}, 1.0, dtype, gpu()), 2.0);
    CHECK(one.dim() == 0);
    CHECK(std::abs(one.to_vector<double>()[0] - std::log(4.0)) <= 1e-6);
    Tensor empty_rows = pruning::renyi_entropy(Tensor::empty({2, 3, 0}, dtype, gpu()), 1.0);
    REQUIRE(empty_rows.shape() == (Shape{2, 3}));
    CHECK(empty_rows.to_vector<double>() == std::vector<double>(6, 0.0));
    Tensor no_heads = Tensor::empty({2, 0, 4, 4}, dtype, gpu());
    Tensor hm = pruning::head_mean_attention_entropy(no_heads);
    REQUIRE(hm.shape() == (Shape{2, 4}));
    CHECK(hm.to_vector<double>() == pruning::head_mean_attention_entropy(no_heads.cpu()).to_vector<double>());
  }
}

TEST_CASE("entropies on the GPU reject negative, NaN and infinite probabilities as the host does", "[cuda]") {
  const double nan = std::nan("");
  for (DType dtype : {DType::F64, DType::F32}) {
    Tensor probs = host_attention(2, 3, 5, 77, dtype);
    struct Bad {
      double value;
      int64_t b, h, i, j;
    };
    for (const Bad& bad : {Bad{-0.5, 1, 2, 3, 3}, Bad{nan, 0, 1, 4, 2}, Bad{-nan, 1, 0, 0, 4},
                           Bad{std::numeric_limits<double>::infinity(), 0, 2, 1, 1}, Bad{-1e-30, 1, 1, 2, 1}}) {
      Tensor p = with_value(probs, bad.b, bad.h, bad.i, bad.j, bad.value);
      if (bad.b == 1) p = with_value(p, 1, 2, 4, 1, -7.0);  // a later row is bad too: the first is reported
      Tensor dp = p.to(gpu());
      for (bool exclude : {false, true}) {
        pruning::AttentionEntropyOptions opts{2.0, exclude};
        INFO(dtype_name(dtype) << " value " << bad.value << (exclude ? " exclude_cls_key" : ""));
        const std::string host = error_of([&] { pruning::attention_row_entropy(p, opts); });
        REQUIRE(!host.empty());
        CHECK(error_of([&] { pruning::attention_row_entropy(dp, opts); }) == host);
        const std::string host_mean = error_of([&] { pruning::head_mean_attention_entropy(p, opts); });
        CHECK(host_mean.find("head_mean_attention_entropy") != std::string::npos);
        CHECK(error_of([&] { pruning::head_mean_attention_entropy(dp, opts); }) == host_mean);
      }
      CHECK(error_of([&] { pruning::renyi_entropy(dp, 0.5); }) == error_of([&] { pruning::renyi_entropy(p, 0.5); }));
      CHECK(error_of([&] { pruning::renyi_entropy(dp, 0.5); }).find("renyi_entropy") != std::string::npos);
    }
    // The head mean of a very negative value is negative too.
    Tensor p = with_value(probs, 0, 0, 2, 3, -50.0);
    const std::string host = error_of([&] { pruning::entropy_of_head_mean_attention(p, {}); });
    REQUIRE(host.find("must be non-negative") != std::string::npos);
    CHECK(error_of([&] { pruning::entropy_of_head_mean_attention(p.to(gpu()), {}); }) == host);
    // A negative CLS key is not read when the CLS key is excluded (as on the host).
    Tensor cls = with_value(probs, 1, 1, 1, 0, -0.25);
    pruning::AttentionEntropyOptions excl{1.0, true};
    check_same(pruning::attention_row_entropy(cls.to(gpu()), excl), pruning::attention_row_entropy(cls, excl), dtype,
               "negative CLS key excluded");
    CHECK(!error_of([&] { pruning::attention_row_entropy(cls.to(gpu()), {}); }).empty());
    // A bad order is refused before any kernel runs.
    CHECK(error_of([&] { pruning::renyi_entropy(probs.to(gpu()), -1.0); }).find("alpha must be >= 0") !=
          std::string::npos);
  }
  // The backend kernel itself: contiguous (rows, n) only, skip within the row.
  Backend& be = backend_for(gpu());
  CHECK(be.supports("row_entropy"));
  Tensor x = full({4, 6}, 0.5, DType::F64, gpu());
  CHECK(!error_of([&] { be.row_entropy(kernels::transpose(x, 0, 1), 1.0, 0, "t"); }).empty());
  CHECK(!error_of([&] { be.row_entropy(x, 1.0, 7, "t"); }).empty());
  Tensor h = be.row_entropy(x, 1.0, 2, "t");
  CHECK(h.dtype() == DType::F64);
  for (double v : h.to_vector<double>()) CHECK(std::abs(v - std::log(4.0)) <= 1e-14);
}
