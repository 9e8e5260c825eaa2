// Shannon/Rényi entropy against closed forms (uniform, one-hot, two-point), monotonicity in the
// order, continuity across alpha = 1, robustness to zeros and near-one entries, and the attention
// entropy reductions (per head, head mean, CLS key excluded).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <vector>

#include "pruning/entropy.h"
#include "test_util.h"

using namespace shears;
using namespace shears::pruning;

namespace {

const double kInf = kMinEntropyOrder;

double H(const std::vector<double>& p, double alpha) { return renyi_entropy(p.data(), int64_t(p.size()), alpha); }

std::vector<double> random_row(int64_t n, uint64_t seed, double lo = 0.0, double hi = 1.0) {
  std::vector<double> v = test::random_values(n, seed, lo, hi);
  double s = 0;
  for (double x : v) s += x;
  for (double& x : v) x /= s;
  return v;
}

// Variance of ln q under q (the slope of H_alpha at alpha = 1 is -Var/2).
double log_variance(const std::vector<double>& q) {
  double m = 0, m2 = 0;
  for (double x : q)
    if (x > 0) {
      m += x * std::log(x);
      m2 += x * std::log(x) * std::log(x);
    }
  return m2 - m * m;
}

}  // namespace

TEST_CASE("uniform distribution over n has entropy ln n for every order", "[entropy]") {
  for (int64_t n : {1, 2, 7, 196}) {
    std::vector<double> p(size_t(n), 1.0 / double(n));
    for (double a : {0.5, 1.0 - 1e-6, 1.0, 1.0 + 1e-6, 2.0, 3.0, 5.0, 0.75, 1.25, kInf}) {
      INFO("n " << n << " alpha " << a);
      CHECK(H(p, a) == Approx(std::log(double(n))).margin(1e-13));
    }
  }
  // the tensor version, f32 and f64, rows of a (2, 3, n) tensor
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor t = full({2, 3, 8}, 1.0 / 8.0, dt);
    for (double a : {0.5, 1.0, 2.0, 3.0, kInf}) {
      Tensor h = renyi_entropy(t, a);
      REQUIRE(h.shape() == Shape{2, 3});
      REQUIRE(h.dtype() == dt);
      test::require_close(h, test::Ref({2, 3}, std::log(8.0)), dt == DType::F32 ? 1e-6 : 1e-13);
    }
  }
}

TEST_CASE("one-hot distribution has entropy 0 for every order", "[entropy]") {
  std::vector<double> p = {0.0, 0.0, 1.0, 0.0};
  for (double a : {0.5, 1.0, 1.0 + 1e-9, 2.0, 3.0, 100.0, kInf}) {
    INFO("alpha " << a);
    CHECK(H(p, a) == Approx(0.0).margin(1e-15));
  }
}

TEST_CASE("two-point distributions match the closed forms", "[entropy]") {
  for (double p : {0.01, 0.1, 0.3, 0.5, 0.77, 0.999}) {
    std::vector<double> row = {p, 1.0 - p};
    const double shannon = -p * std::log(p) - (1 - p) * std::log(1 - p);
    CHECK(H(row, 1.0) == Approx(shannon).epsilon(1e-13));
    CHECK(shannon_entropy(row.data(), 2) == Approx(shannon).epsilon(1e-13));
    for (double a : {0.5, 0.9, 1.1, 2.0, 3.0, 5.0}) {
      INFO("p " << p << " alpha " << a);
      const double want = std::log(std::pow(p, a) + std::pow(1 - p, a)) / (1 - a);
      CHECK(H(row, a) == Approx(want).epsilon(1e-12));
    }
    CHECK(H(row, kInf) == Approx(-std::log(std::max(p, 1 - p))).epsilon(1e-13));
  }
}

TEST_CASE("Rényi entropy is non-increasing in the order on random rows", "[entropy]") {
  const std::vector<double> orders = {0.1, 0.25, 0.5, 0.9, 0.99, 1.0 - 1e-6, 1.0, 1.0 + 1e-6, 1.01,
                                      1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 50.0, kInf};
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const int64_t n = 2 + int64_t(seed * 7 % 60);
    std::vector<double> q = random_row(n, seed);
    if (seed % 3 == 0) q = random_row(n, seed, 0.0, 1.0), q[0] *= 50.0;  // one dominant entry
    double prev = INFINITY;
    for (double a : orders) {
      const double h = H(q, a);
      INFO("seed " << seed << " n " << n << " alpha " << a << " H " << h << " previous " << prev);
      CHECK(std::isfinite(h));
      CHECK(h <= prev + 1e-13);
      prev = h;
    }
  }
}

TEST_CASE("Rényi entropy is continuous across alpha = 1 and across the series band", "[entropy]") {
  for (uint64_t seed : {3u, 11u, 29u}) {
    std::vector<double> q = random_row(50, seed, 0.2, 1.0);
    const double h1 = H(q, 1.0);
    const double var = log_variance(q);
    for (double d : {1e-6, -1e-6, 1e-9, -1e-12, 1e-3}) {
      INFO("seed " << seed << " alpha 1 + " << d);
      const double h = H(q, 1.0 + d);
      if (std::fabs(d) <= 1e-6) CHECK(std::fabs(h - h1) <= 1e-6);
      // first-order expansion H_a = H_1 - (a - 1) Var_q(ln q) / 2 + O((a-1)^2)
      CHECK(h == Approx(h1 - d * var / 2).margin(1e-12 + d * d * 10));
    }
    // the two numerical forms meet at |alpha - 1| = 1/4 without a jump
    for (double a : {0.75, 1.25}) {
      INFO("alpha " << a);
      CHECK(H(q, std::nextafter(a, 0.0)) == Approx(H(q, std::nextafter(a, 2.0))).epsilon(1e-13));
    }
  }
}

TEST_CASE("rows with zeros and with an entry near one stay finite", "[entropy]") {
  const double eps = 1e-7;
  std::vector<double> row = {1.0 - eps, eps, 0.0, 0.0};
  for (double a : {0.5, 1.0, 1.0 + 1e-6, 2.0, 3.0, kInf}) {
    INFO("alpha " << std::setprecision(10) << a);
    const double h = H(row, a);
    CHECK(std::isfinite(h));
    CHECK(h >= 0.0);
    // (the closed form itself cancels catastrophically at alpha = 1 + 1e-6: compare to Shannon's
    // first-order expansion there, H_1 - (a - 1) Var(ln q) / 2)
    const double shannon = -(1 - eps) * std::log1p(-eps) - eps * std::log(eps);
    const double want = std::fabs(a - 1.0) < 1e-3 ? shannon - (a - 1.0) * log_variance(row) / 2
                        : std::isinf(a)           ? -std::log1p(-eps)
                                                  : std::log(std::pow(1 - eps, a) + std::pow(eps, a)) / (1 - a);
    CHECK(h == Approx(want).epsilon(1e-6).margin(1e-15));
  }
  // an f32 attention map with exact zeros and a saturated row
  Tensor t = test::tensor_of({1.0 - 1e-7, 1e-7, 0.0, 0.0, 0.0, 0.5, 0.5, 0.0}, {2, 4}, DType::F32);
  for (double a : {0.5, 1.0, 2.0, kInf}) {
    std::vector<double> h = renyi_entropy(t, a).to_vector<double>();
    CHECK(std::isfinite(h[0]));
    CHECK(h[1] == Approx(std::log(2.0)).epsilon(1e-6));
  }
  CHECK(H({0.0, 0.0}, 2.0) == 0.0);  // an all-zero row is defined as entropy 0
}

TEST_CASE("attention entropy per head, head mean, and with the CLS key excluded", "[entropy]") {
  const int64_t B = 2, Hh = 3, N = 5;
  Tensor logits = test::random_tensor({B, Hh, N, N}, DType::F64, 41, -3, 3);
  Tensor probs = kernels::softmax(logits, -1);
  test::Ref p = test::ref_of(probs);
  for (double a : {0.5, 1.0, 2.0, kInf}) {
    for (bool exclude : {false, true}) {
      AttentionEntropyOptions opts{a, exclude};
      INFO("alpha " << a << " exclude_cls_key " << exclude);
      test::Ref want_heads({B, Hh, N}), want_mean({B, N}), want_of_mean({B, N});
      for (int64_t b = 0; b < B; ++b)
        for (int64_t i = 0; i < N; ++i) {
          std::vector<double> avg(size_t(N - exclude), 0.0);
          for (int64_t h = 0; h < Hh; ++h) {
            std::vector<double> row;
            double s = 0;
            for (int64_t j = exclude; j < N; ++j) s += p.at({b, h, i, j});
            for (int64_t j = exclude; j < N; ++j) row.push_back(p.at({b, h, i, j}) / s);
            for (size_t j = 0; j < row.size(); ++j) avg[j] += p.at({b, h, i, int64_t(j) + exclude}) / Hh;
            // direct closed form on the renormalised row
            double direct = 0;
            if (a == 1.0) {
              for (double q : row) direct -= q * std::log(q);
            } else if (std::isinf(a)) {
              direct = -std::log(*std::max_element(row.begin(), row.end()));
            } else {
              for (double q : row) direct += std::pow(q, a);
              direct = std::log(direct) / (1 - a);
            }
            want_heads[{b, h, i}] = direct;
            want_mean[{b, i}] += direct / Hh;
          }
          want_of_mean[{b, i}] = H(avg, a);
        }
      test::require_close(attention_row_entropy(probs, opts), want_heads, 1e-12);
      test::require_close(head_mean_attention_entropy(probs, opts), want_mean, 1e-12);
      test::require_close(entropy_of_head_mean_attention(probs, opts), want_of_mean, 1e-12);
      // f32 input gives the same values to f32 precision
      test::require_close(head_mean_attention_entropy(kernels::to_dtype(probs, DType::F32), opts), want_mean, 1e-5);
    }
  }
}

TEST_CASE("entropy functions reject bad inputs with errors naming the problem", "[entropy]") {
  CHECK_THROWS_WITH(H({0.5, -0.1}, 2.0), Catch::Contains("non-negative"));
  CHECK_THROWS_WITH(H({0.5, 0.5}, -1.0), Catch::Contains("alpha must be >= 0"));
  CHECK_THROWS_WITH(H({0.5, 0.5}, NAN), Catch::Contains("alpha"));
  CHECK_THROWS_WITH(attention_row_entropy(zeros({2, 3, 4})), Catch::Contains("(B, H, N, N)"));
  CHECK_THROWS_WITH(renyi_entropy(zeros({2, 3}, DType::I64), 1.0), Catch::Contains("f32 or f64"));
}
