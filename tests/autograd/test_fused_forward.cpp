// Forward tests of the fused transformer ops (linear, attention) against naive loops,
// in f32 and f64, with strided inputs, and the attention probabilities they expose; the fused
// float no-grad attention kernel on every tail shape of its blocking.
#include <catch2/catch.hpp>

#include <cmath>

#include "autograd/ops.h"
#include "tensor/parallel.h"
#include "test_util.h"

using namespace shears;
using namespace shears::test;

TEST_CASE("forward: linear matches x W^T + b on strided inputs", "[forward][fused]") {
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor x = noncontig_tensor({2, 3, 5}, dt, 1);
    Tensor w = transposed_tensor({4, 5}, dt, 2);
    Tensor b = random_tensor({4}, dt, 3);
    std::vector<double> xv = ref_values(x), wv = ref_values(w), bv = ref_values(b);
    for (bool with_bias : {true, false}) {
      Tensor y = linear(x, w, with_bias ? b : Tensor());
      Ref want({2, 3, 4});
      for (int64_t r = 0; r < 6; ++r)
        for (int64_t o = 0; o < 4; ++o) {
          double acc = with_bias ? bv[o] : 0.0;
          for (int64_t i = 0; i < 5; ++i) acc += xv[r * 5 + i] * wv[o * 5 + i];
          want.v[r * 4 + o] = acc;
        }
      require_close(y, want, default_tol(dt));
    }
  }
  REQUIRE_THROWS_WITH(linear(zeros({2, 3}), zeros({4, 5}), Tensor()), Catch::Contains("[linear]"));
}

TEST_CASE("forward: linear_gelu gives the bits of gelu(linear) and records them under autograd", "[forward][fused]") {
  // shapes: one GEMM call (2 x 3 x 5), a row split with the GELU in each block's epilogue (1100 rows), a column
  // split (a few rows, many outputs); inputs wide enough that GELU's tails (large |x|, -inf limit) are reached
  struct Case {
    Shape x;
    int64_t out;
  };
  const Case cases[] = {{{2, 3, 5}, 4}, {{1100, 40}, 33}, {{3, 300}, 2100}};
  for (DType dt : {DType::F32, DType::F64})
    for (const Case& c : cases)
      for (bool with_bias : {true, false}) {
        INFO(dtype_name(dt) << " x " << shape_str(c.x) << " out " << c.out << " bias " << with_bias);
        Tensor x = random_tensor(c.x, dt, 11, -3.0, 3.0);
        Tensor w = random_tensor({c.out, c.x.back()}, dt, 12, -1.0, 1.0);
        Tensor b = with_bias ? random_tensor({c.out}, dt, 13, -2.0, 2.0) : Tensor();
        const std::vector<double> want = ref_values(gelu(linear(x, w, b)));
        {
          NoGradGuard no_grad;
          REQUIRE(ref_values(linear_gelu(x, w, b)) == want);  // the fused kernel
        }
        // with a gradient to record: the two differentiable ops, the same values and a gradient for x
        Tensor xg = detach(x);
        xg.set_requires_grad(true);
        Tensor y = linear_gelu(xg, w, b);
        REQUIRE(ref_values(y) == want);
        backward(sum(y));
        REQUIRE(xg.grad().defined());
      }
  NoGradGuard no_grad;
  REQUIRE_THROWS_WITH(linear_gelu(zeros({2, 3}), zeros({4, 5}), Tensor()), Catch::Contains("[linear_gelu]"));
}

TEST_CASE("forward: attention matches per-head softmax(q k^T s) v and exposes the probabilities",
          "[forward][fused]") {
  // a short (N = 5) and a longer (N = 70) sequence
  for (int64_t N : {5, 70}) {
  const int64_t B = 2, H = 3, D = 2, C = H * D;
  const double scale = 0.7;
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor qkv = noncontig_tensor({B, N, 3 * C}, dt, 11, -2, 2);
    std::vector<double> v = ref_values(qkv);
    auto at = [&](int64_t b, int64_t n, int64_t c) { return v[(b * N + n) * 3 * C + c]; };
    Tensor probs;
    Tensor out = attention(qkv, H, scale, &probs);
    Ref want_out({B, N, C}), want_p({B, H, N, N});
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < N; ++i) {
          std::vector<double> s(N);
          double m = -INFINITY, z = 0;
          for (int64_t j = 0; j < N; ++j) {
            double acc = 0;
            for (int64_t d = 0; d < D; ++d) acc += at(b, i, h * D + d) * at(b, j, C + h * D + d);
            s[j] = acc * scale;
            m = std::max(m, s[j]);
          }
          for (int64_t j = 0; j < N; ++j) z += (s[j] = std::exp(s[j] - m));
          for (int64_t j = 0; j < N; ++j) want_p.v[((b * H + h) * N + i) * N + j] = s[j] / z;
          for (int64_t d = 0; d < D; ++d) {
            double acc = 0;
            for (int64_t j = 0; j < N; ++j) acc += s[j] / z * at(b, j, 2 * C + h * D + d);
            want_out.v[(b * N + i) * C + h * D + d] = acc;
          }
        }
    require_close(out, want_out, default_tol(dt));
    require_close(probs, want_p, default_tol(dt));
    // no-grad without probs: the (B, H, N, N) tensor is never made; float runs the fused kernel
    // (tensor/attention_nograd.cpp, its own summation order), double the same per-head path
    NoGradGuard no_grad;
    const Tensor lean = attention(qkv, H, scale);
    require_close(lean, want_out, default_tol(dt));
    if (dt == DType::F64) REQUIRE(ref_values(lean) == ref_values(out));
  }
  }
  REQUIRE_THROWS_WITH(attention(zeros({2, 4, 10}), 2, 1.0), Catch::Contains("(B, N, 3C)"));
  REQUIRE_THROWS_WITH(attention(zeros({2, 4, 12}), 3, 1.0), Catch::Contains("not divisible by 3 heads"));
}

// Reference for the fused float kernel: out (B, N, C) in double from qkv values v; score_max gets
// the largest |score|.
static std::vector<double> attention_reference(const std::vector<double>& v, int64_t B, int64_t N, int64_t H,
                                               int64_t D, double scale, double& score_max) {
  score_max = 0;
  const int64_t C = H * D;
  auto at = [&](int64_t b, int64_t n, int64_t c) { return v[size_t((b * N + n) * 3 * C + c)]; };
  std::vector<double> out(size_t(B * N * C));
  std::vector<double> s(static_cast<size_t>(N));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < N; ++i) {
        double m = -INFINITY, z = 0;
        for (int64_t j = 0; j < N; ++j) {
          double acc = 0;
          for (int64_t d = 0; d < D; ++d) acc += at(b, i, h * D + d) * at(b, j, C + h * D + d);
          s[size_t(j)] = acc * scale;
          m = std::max(m, s[size_t(j)]);
          score_max = std::max(score_max, std::abs(s[size_t(j)]));
        }
        for (int64_t j = 0; j < N; ++j) z += (s[size_t(j)] = std::exp(s[size_t(j)] - m));
        for (int64_t d = 0; d < D; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < N; ++j) acc += s[size_t(j)] / z * at(b, j, 2 * C + h * D + d);
          out[size_t((b * N + i) * C + h * D + d)] = acc;
        }
      }
  return out;
}

TEST_CASE("forward: the fused float no-grad attention matches a double reference on every tail shape",
          "[forward][fused]") {
  // Query blocks of 2 SIMD vectors (16 or 32), key and value-dim register blocks of 12 (AVX-512), 6 (AVX2)
  // or 4 with every tail in one pass: sequence lengths and head dims around those sizes, 1-4 heads;
  // scores up to ~|40| test the max subtraction.
  struct Case {
    int64_t B, N, H, D;
    double lo, hi, scale;
  };
  const Case cases[] = {{1, 1, 1, 1, -1, 1, 1.0},      {2, 5, 3, 2, -2, 2, 0.7},    {1, 17, 4, 32, -1, 1, 0.18},
                        {2, 33, 2, 17, -2, 2, 0.24},   {1, 70, 3, 13, -3, 3, 0.3},  {1, 197, 2, 64, -1, 1, 0.125},
                        {3, 9, 1, 7, -6, 6, 1.0},      {1, 40, 1, 5, -10, 10, 0.9},  {2, 13, 2, 11, -2, 2, 0.3},
                        {1, 25, 4, 23, -2, 2, 0.2},    {1, 37, 1, 25, -3, 3, 0.2},  {1, 50, 2, 54, -1, 1, 0.14},
                        {2, 12, 1, 12, -2, 2, 0.3},    {1, 6, 3, 6, -2, 2, 0.4}};
  for (const Case& c : cases) {
    INFO("B " << c.B << " N " << c.N << " heads " << c.H << " head_dim " << c.D);
    const int64_t C = c.H * c.D;
    Tensor qkv = random_tensor({c.B, c.N, 3 * C}, DType::F32, 5 + uint64_t(c.N * 7 + c.D), c.lo, c.hi);
    NoGradGuard no_grad;
    const Tensor out = attention(qkv, c.H, c.scale);
    Ref want({c.B, c.N, C});
    double score_max = 0;
    want.v = attention_reference(ref_values(qkv), c.B, c.N, c.H, c.D, c.scale, score_max);
    // float scores carry a rounding error of a few ulps of their size, which exp turns into a
    // relative error of the probabilities: 4 ulps (2^-22) of the largest score on top of 1e-5
    require_close(out, want, 1e-5 + std::ldexp(score_max, -22));
    // the same bits for 1 and 2 threads
    const int saved = get_num_threads();
    set_num_threads(1);
    const std::vector<double> one = ref_values(attention(qkv, c.H, c.scale));
    set_num_threads(2);
    const std::vector<double> two = ref_values(attention(qkv, c.H, c.scale));
    set_num_threads(saved);
    REQUIRE(one == two);
    REQUIRE(one == ref_values(out));
  }
}

TEST_CASE("forward: cross_entropy matches -mean log softmax at the label, with smoothing", "[forward][fused]") {
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor z = noncontig_tensor({3, 4}, dt, 21, -3, 3);
    std::vector<double> v = ref_values(z);
    std::vector<int64_t> labels = {1, 3, 0};
    for (double eps : {0.0, 0.1}) {
      double want = 0;
      for (int64_t b = 0; b < 3; ++b) {
        double m = -INFINITY, s = 0;
        for (int64_t c = 0; c < 4; ++c) m = std::max(m, v[b * 4 + c]);
        for (int64_t c = 0; c < 4; ++c) s += std::exp(v[b * 4 + c] - m);
        for (int64_t c = 0; c < 4; ++c) {
          double t = eps / 4 + (c == labels[b] ? 1 - eps : 0.0);
          want -= t * (v[b * 4 + c] - m - std::log(s));
        }
      }
      want /= 3;
      Tensor loss = cross_entropy(z, from_vector(labels), eps);
      CHECK(loss.item<double>() == Approx(want).epsilon(dt == DType::F32 ? 1e-5 : 1e-12));
    }
  }
  REQUIRE_THROWS_WITH(cross_entropy(zeros({2, 3}), from_vector(std::vector<int64_t>{0, 3})),
                      Catch::Contains("label 3 of sample 1 out of range for 3 classes"));
}
