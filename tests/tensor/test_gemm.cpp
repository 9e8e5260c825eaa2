// Tests for tensor/gemm: every transpose combination, leading dimensions and alpha/beta against a
// float64 reference loop, the split paths (rows, columns, K), thread-count independence of the bits,
// the trans_b path that copies B transposed first (many rows, tile remainders, padded ldb),
// concurrent provider calls from TBB tasks equal to serial ones, the row epilogue of gemm_then_rows (each
// row once, after its GEMM, on every split path), and the provider's self-description.
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "tensor/gemm.h"
#include "tensor/parallel.h"

using namespace shears;

namespace {

struct ThreadGuard {
  int saved = get_num_threads();
  ~ThreadGuard() { set_num_threads(saved); }
};

std::vector<float> random_floats(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// The stored matrices of op(A) (M, K) and op(B) (K, N) with padded leading dimensions.
struct Problem {
  bool ta, tb;
  int64_t M, N, K, lda, ldb, ldc;
  std::vector<float> A, B, C0;
  Problem(bool ta_, bool tb_, int64_t M_, int64_t N_, int64_t K_, int64_t pad, unsigned seed)
      : ta(ta_), tb(tb_), M(M_), N(N_), K(K_) {
    lda = (ta ? M : K) + pad;
    ldb = (tb ? K : N) + pad;
    ldc = N + pad;
    A = random_floats(size_t((ta ? K : M) * lda), seed);
    B = random_floats(size_t((tb ? N : K) * ldb), seed + 1);
    C0 = random_floats(size_t(M * ldc), seed + 2);
  }
  float a(int64_t i, int64_t k) const { return ta ? A[k * lda + i] : A[i * lda + k]; }
  float b(int64_t k, int64_t j) const { return tb ? B[j * ldb + k] : B[k * ldb + j]; }
  std::vector<float> run(float alpha, float beta) const {
    std::vector<float> C = C0;
    gemm<float>(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
    return C;
  }
  // Largest |C - reference| relative to the largest |term| sum of the entry.
  double max_error(const std::vector<float>& C, float alpha, float beta) const {
    double worst = 0;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0, mag = 0;
        for (int64_t k = 0; k < K; ++k) {
          s += double(a(i, k)) * b(k, j);
          mag += std::fabs(double(a(i, k)) * b(k, j));
        }
        const double ref = alpha * s + beta * C0[size_t(i * ldc + j)];
        const double scale = std::fabs(alpha) * mag + std::fabs(beta * C0[size_t(i * ldc + j)]) + 1e-30;
        worst = std::max(worst, std::fabs(C[size_t(i * ldc + j)] - ref) / scale);
      }
    return worst;
  }
};

}  // namespace

TEST_CASE("gemm: every transpose combination, padded leading dimensions, alpha and beta", "[tensor][gemm]") {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      INFO("ta " << ta << " tb " << tb);
      const Problem p(ta, tb, 37, 53, 29, 3, 11);
      const std::vector<float> C = p.run(0.75f, -0.5f);
      CHECK(p.max_error(C, 0.75f, -0.5f) < 1e-5);
      // The padding columns of C are never written.
      for (int64_t i = 0; i < p.M; ++i)
        for (int64_t j = p.N; j < p.ldc; ++j) CHECK(C[size_t(i * p.ldc + j)] == p.C0[size_t(i * p.ldc + j)]);
    }
}

TEST_CASE("gemm: beta 0 ignores what C held (NaN included), K 0 scales C", "[tensor][gemm]") {
  Problem p(false, true, 8, 9, 10, 0, 5);
  std::vector<float> C(p.C0.size(), std::nanf(""));
  gemm<float>(false, true, p.M, p.N, p.K, 1.f, p.A.data(), p.lda, p.B.data(), p.ldb, 0.f, C.data(), p.ldc);
  for (float c : C) CHECK(std::isfinite(c));
  std::vector<float> D = p.C0;
  gemm<float>(false, false, p.M, p.N, 0, 1.f, p.A.data(), 1, p.B.data(), p.N, 2.f, D.data(), p.ldc);
  for (size_t k = 0; k < D.size(); ++k) CHECK(D[k] == 2.f * p.C0[k]);
}

TEST_CASE("gemm: the split paths (rows, columns, K) agree with the reference and with 1 thread bit for bit",
          "[tensor][gemm][parallel]") {
  ThreadGuard guard;
  struct Shape {
    bool ta, tb;
    int64_t M, N, K;
  };
  // rows (M >= 4 x 1024), columns (N >= 4 x 1024), K (small M, N, K >= 2 x 256), small-block rows
  const std::vector<Shape> shapes = {{false, true, 4200, 24, 40}, {true, false, 20, 4160, 36},
                                     {true, false, 96, 80, 1100}, {false, false, 700, 90, 70}};
  for (const Shape& s : shapes) {
    INFO("M " << s.M << " N " << s.N << " K " << s.K);
    const Problem p(s.ta, s.tb, s.M, s.N, s.K, 1, 21);
    set_num_threads(1);
    const std::vector<float> one = p.run(1.f, 0.5f);
    set_num_threads(2);
    const std::vector<float> two = p.run(1.f, 0.5f);
    CHECK(one == two);
    CHECK(p.max_error(two, 1.f, 0.5f) < 1e-5);
  }
}

TEST_CASE("gemm: trans_b with many rows (B transposed into a scratch copy first where the provider prefers it)",
          "[tensor][gemm][parallel]") {
  ThreadGuard guard;
  // M >= 1024 takes the transposed-copy path on oneDNN; N and K cross the 32-wide transpose tiles with
  // remainders, and the padded ldb must be honoured (a copy that read with stride K would fail here)
  struct Shape {
    bool ta;
    int64_t M, N, K;
  };
  for (const Shape& s : std::vector<Shape>{{false, 1100, 45, 70}, {true, 1030, 70, 33}, {false, 2100, 97, 101}}) {
    INFO("ta " << s.ta << " M " << s.M << " N " << s.N << " K " << s.K);
    const Problem p(s.ta, true, s.M, s.N, s.K, 5, 31);
    set_num_threads(1);
    const std::vector<float> one = p.run(0.75f, -0.5f);
    set_num_threads(2);
    const std::vector<float> two = p.run(0.75f, -0.5f);
    CHECK(one == two);
    CHECK(p.max_error(two, 0.75f, -0.5f) < 1e-5);
    for (int64_t i = 0; i < p.M; ++i)
      for (int64_t j = p.N; j < p.ldc; ++j) CHECK(two[size_t(i * p.ldc + j)] == p.C0[size_t(i * p.ldc + j)]);
  }
}

TEST_CASE("gemm_then_rows: every row of C reaches the epilogue once, finished, on every split path",
          "[tensor][gemm][parallel]") {
  ThreadGuard guard;
  struct Shape {
    bool ta, tb;
    int64_t M, N, K;
  };
  // no split, rows, columns, K, small-block rows, K == 0
  const std::vector<Shape> shapes = {{false, true, 9, 7, 5},       {false, true, 4200, 24, 40},
                                     {true, false, 20, 4160, 36},  {true, false, 96, 80, 1100},
                                     {false, false, 700, 90, 70},  {false, false, 33, 12, 0}};
  for (const Shape& s : shapes)
    for (int threads : {1, 2}) {
      INFO("M " << s.M << " N " << s.N << " K " << s.K << " threads " << threads);
      set_num_threads(threads);
      const Problem p(s.ta, s.tb, s.M, s.N, s.K, 1, 31);
      const std::vector<float> plain = p.run(1.f, 0.5f);
      std::vector<float> C = p.C0;
      std::vector<int> visits(size_t(s.M), 0);
      std::atomic<bool> finished{true};  // written from worker threads
      // the epilogue negates its rows: each must already hold the GEMM's final values
      gemm_then_rows<float>(s.ta, s.tb, s.M, s.N, s.K, 1.f, p.A.data(), p.lda, p.B.data(), p.ldb, 0.5f, C.data(),
                            p.ldc, [&](int64_t r0, int64_t r1) {
                              for (int64_t r = r0; r < r1; ++r) {
                                ++visits[size_t(r)];
                                for (int64_t j = 0; j < s.N; ++j) {
                                  float& c = C[size_t(r * p.ldc + j)];
                                  if (c != plain[size_t(r * p.ldc + j)]) finished = false;
                                  c = -c;
                                }
                              }
                            });
      CHECK(finished.load());
      for (int v : visits) REQUIRE(v == 1);
      for (int64_t r = 0; r < s.M; ++r)
        for (int64_t j = 0; j < s.N; ++j) REQUIRE(C[size_t(r * p.ldc + j)] == -plain[size_t(r * p.ldc + j)]);
    }
}

TEST_CASE("gemm: concurrent calls from parallel tasks give the bits of serial calls", "[tensor][gemm][parallel]") {
  ThreadGuard guard;
  set_num_threads(2);
  std::vector<Problem> problems;
  for (int i = 0; i < 8; ++i) problems.emplace_back(i % 2 == 1, i % 3 == 0, 64 + 7 * i, 48 + 5 * i, 40 + 3 * i, 0, 100 + i);
  std::vector<std::vector<float>> serial, concurrent(problems.size());
  for (const Problem& p : problems) serial.push_back(p.run(1.f, 0.f));
  for (int rep = 0; rep < 4; ++rep) {
    parallel_for(int64_t(problems.size()), 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) concurrent[size_t(i)] = problems[size_t(i)].run(1.f, 0.f);
    });
    for (size_t i = 0; i < problems.size(); ++i) CHECK(concurrent[i] == serial[i]);
  }
}

TEST_CASE("gemm: float64 matches the reference to double precision", "[tensor][gemm]") {
  const int64_t M = 17, N = 13, K = 11;
  std::vector<double> A(M * K), B(K * N), C(M * N, 0.0);
  for (size_t k = 0; k < A.size(); ++k) A[k] = std::sin(double(k));
  for (size_t k = 0; k < B.size(); ++k) B[k] = std::cos(double(k));
  gemm<double>(false, false, M, N, K, 1.0, A.data(), K, B.data(), N, 0.0, C.data(), N);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0, mag = 0;  // error bound relative to the sum of |terms| (entries may cancel)
      for (int64_t k = 0; k < K; ++k) {
        s += A[i * K + k] * B[k * N + j];
        mag += std::fabs(A[i * K + k] * B[k * N + j]);
      }
      CHECK(std::fabs(C[i * N + j] - s) <= 1e-14 * mag);
    }
}

TEST_CASE("gemm: the provider names itself and its kernels", "[tensor][gemm]") {
  const std::string info = gemm_backend_info();
  INFO(info);
  const bool onednn = info.rfind("GEMM oneDNN ", 0) == 0;
  CHECK((onednn || info.rfind("GEMM OpenBLAS ", 0) == 0));
  if (onednn) {
    CHECK(info.find("float64 GEMM OpenBLAS") != std::string::npos);
    CHECK(gemm_backend_warning().empty());  // oneDNN picks kernels by instruction set
  }
  CHECK(info.find("(kernels: ") != std::string::npos);
  CHECK(info.find("(kernels: )") == std::string::npos);
}
