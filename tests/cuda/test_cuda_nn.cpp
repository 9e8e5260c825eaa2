// The CUDA backend's GEMM and neural-network kernels (cuda/gemm.cpp, cuda/nn_kernels.cu,
// cuda/layer_norm.cu) against
// the host: matmul, linear (+ backward), softmax / log_softmax (+ backward), layer norm (plain,
// select, backward) and attention (+ backward), each called through the kernels:: front doors on
// inputs moved to the GPU and compared element by element with the same call on the host.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cuda_test_util.h"
#include "tensor/creation.h"
#include "tensor/kernels.h"

using namespace shears;
using shears::test::gpu;
using shears::test::host_randn;
using shears::test::require_close;
using shears::test::require_equal;
namespace k = shears::kernels;

namespace {

double rtol_of(DType t) { return t == DType::F64 ? 1e-12 : 1e-5; }

double rms(const Tensor& t) {
  double s = 0;
  int64_t n = 0;
  for (double v : t.to_vector<double>())
    if (!std::isnan(v)) s += v * v, ++n;
  return n ? std::sqrt(s / double(n)) : 0.0;
}

// got (GPU) against expect (host) within rtol (1e-5 f32, 1e-12 f64) of each entry or of the
// result's typical magnitude: atol = rtol * rms(expect). Every result checked here is a sum (a
// GEMM entry, a row or column sum, a normalization): its rounding error scales with the size of its
// terms, not with the entry itself, which can cancel to ~0. For a GEMM of unit-normal inputs the
// rms of the result is sqrt(K), so this is the "atol scaled by sqrt(K)"; rounding (host and GPU sum
// in different orders) is about eps * sqrt(K) * |term|, far below it (eps = 6e-8 for f32), while a
// wrong element, row or layout gives errors of order rms itself, and a 1e-4 relative error in one
// term of a row sum already fails.
void close_to(const Tensor& got, const Tensor& expect, const std::string& what) {
  const double rtol = rtol_of(expect.dtype());
  require_close(got, expect, rtol, std::max(rtol * rms(expect), 1e-30), what);
}

// The same, for a result that must live on the GPU.
void check(const Tensor& got, const Tensor& expect, const std::string& what) {
  REQUIRE(got.defined());
  CHECK(got.device() == gpu());
  close_to(got, expect, what);
}

Tensor scaled(const Tensor& x, double mul, double add) {
  return k::binary_scalar(k::BinaryOp::Add, k::binary_scalar(k::BinaryOp::Mul, x, mul), add);
}

std::string dname(DType t) { return t == DType::F64 ? " f64" : " f32"; }

// host a @ b against the GPU's, with views applied to the host tensors and to their GPU copies alike.
template <typename VA, typename VB>
void matmul_case(const Shape& sa, const Shape& sb, DType dt, VA va, VB vb, const std::string& what) {
  const Tensor a = host_randn(sa, 11, dt), b = host_randn(sb, 12, dt);
  const Tensor expect = k::matmul(va(a), vb(b));
  const Tensor got = k::matmul(va(a.to(gpu())), vb(b.to(gpu())));
  check(got, expect, what + dname(dt));
}

void matmul_case(const Shape& sa, const Shape& sb, DType dt, const std::string& what) {
  auto id = [](const Tensor& t) { return t; };
  matmul_case(sa, sb, dt, id, id, what);
}

}  // namespace

TEST_CASE("cuda matmul: 2-d, batched, broadcast batch, 1-d promotion, empty sums", "[cuda][gemm]") {
  for (DType dt : {DType::F32, DType::F64}) {
    matmul_case({37, 64}, {64, 45}, dt, "2-d");
    matmul_case({3, 17, 32}, {3, 32, 19}, dt, "batched");
    matmul_case({2, 1, 7, 16}, {3, 16, 5}, dt, "both batches broadcast");
    matmul_case({4, 7, 16}, {16, 5}, dt, "2-d right operand (batch folded into M)");
    matmul_case({7, 16}, {4, 16, 5}, dt, "2-d left operand (stride-0 batch)");
    matmul_case({2, 3, 7, 16}, {2, 1, 16, 5}, dt, "right batch broadcast on an inner dim");
    matmul_case({16}, {16, 5}, dt, "1-d @ 2-d");
    matmul_case({7, 16}, {16}, dt, "2-d @ 1-d");
    matmul_case({16}, {16}, dt, "1-d @ 1-d (0-d result)");
    matmul_case({16}, {3, 16, 5}, dt, "1-d @ batched");
    matmul_case({3, 7, 16}, {16}, dt, "batched @ 1-d");
    matmul_case({1, 200}, {200, 1}, dt, "long K");
  }
  // K = 0: every entry is an empty sum
  const Tensor a = Tensor::empty({3, 0}, DType::F32), b = Tensor::empty({0, 4}, DType::F32);
  const Tensor got = k::matmul(a.to(gpu()), b.to(gpu()));
  require_equal(got.cpu(), k::matmul(a, b), "K = 0");
  CHECK(rms(got) == 0.0);
  CHECK(k::matmul(Tensor::empty({0, 5}).to(gpu()), host_randn({5, 3}, 1).to(gpu())).numel() == 0);
}

TEST_CASE("cuda matmul: strided operands (transposed, permuted, sliced, expanded)", "[cuda][gemm]") {
  for (DType dt : {DType::F32, DType::F64}) {
    auto id = [](const Tensor& t) { return t; };
    auto t01 = [](const Tensor& t) { return k::transpose(t, 0, 1); };
    auto t12 = [](const Tensor& t) { return k::transpose(t, 1, 2); };
    // a: stored (K, M) -> BLAS transposed; b: stored (N, K)
    matmul_case({32, 17}, {19, 32}, dt, t01, t01, "both transposed");
    matmul_case({3, 32, 17}, {3, 32, 19}, dt, t12, id, "batched, left transposed");
    matmul_case({3, 17, 32}, {3, 19, 32}, dt, id, t12, "batched, right transposed");
    // batch dim with a stride unlike the matrix's (ld 96, batch stride 32)
    matmul_case({17, 3, 32}, {3, 32, 19}, dt, [](const Tensor& t) { return k::permute(t, {1, 0, 2}); }, id,
                "permuted batch");
    // two batch dims that do not merge: a loop over one, strided-batched over the other
    matmul_case({5, 2, 7, 16}, {2, 5, 16, 3}, dt, [](const Tensor& t) { return k::permute(t, {1, 0, 2, 3}); }, id,
                "unmergeable batch dims");
    // column stride 2: no BLAS layout, packed first
    matmul_case({7, 64}, {32, 9}, dt, [](const Tensor& t) { return k::slice(t, 1, 0, 64, 2); }, id, "sliced columns");
    // expanded (stride-0) batch of the right operand
    matmul_case({3, 7, 32}, {1, 32, 19}, dt, id, [](const Tensor& t) { return k::expand(t, {3, 32, 19}); },
                "expanded batch");
  }
}

TEST_CASE("cuda linear: with and without bias, strided input, f32 and f64", "[cuda][gemm]") {
  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor x = host_randn({2, 5, 48}, 21, dt), w = host_randn({24, 48}, 22, dt), b = host_randn({24}, 23, dt);
    const Tensor xg = x.to(gpu()), wg = w.to(gpu()), bg = b.to(gpu());
    check(k::linear(xg, wg, bg), k::linear(x, w, b), "with bias" + dname(dt));
    check(k::linear(xg, wg, Tensor()), k::linear(x, w, Tensor()), "without bias" + dname(dt));
    const Tensor xt = host_randn({2, 48, 5}, 24, dt);  // (2, 5, 48) as a transposed view
    check(k::linear(k::transpose(xt.to(gpu()), 1, 2), wg, bg), k::linear(k::transpose(xt, 1, 2), w, b),
          "strided x" + dname(dt));
    const Tensor x1 = host_randn({48}, 25, dt);
    check(k::linear(x1.to(gpu()), wg, bg), k::linear(x1, w, b), "1-d x" + dname(dt));
    const Tensor wt = host_randn({48, 24}, 26, dt);  // weight as a transposed view
    check(k::linear(xg, k::transpose(wt.to(gpu()), 0, 1), bg), k::linear(x, k::transpose(wt, 0, 1), b),
          "strided weight" + dname(dt));
  }
}

TEST_CASE("cuda linear_backward: every combination of requested gradients", "[cuda][gemm]") {
  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor dy = host_randn({2, 5, 24}, 31, dt), x = host_randn({2, 5, 48}, 32, dt);
    const Tensor w = host_randn({24, 48}, 33, dt);
    const Tensor dyg = dy.to(gpu()), xg = x.to(gpu()), wg = w.to(gpu());
    for (int mask = 0; mask < 8; ++mask) {
      const bool ndx = mask & 1, ndw = mask & 2, ndb = mask & 4;
      const std::string what = "mask " + std::to_string(mask) + dname(dt);
      const k::LinearGrads e = k::linear_backward(dy, x, w, ndx, ndw, ndb);
      const k::LinearGrads g = k::linear_backward(dyg, xg, wg, ndx, ndw, ndb);
      CHECK(g.dx.defined() == ndx);
      CHECK(g.dweight.defined() == ndw);
      CHECK(g.dbias.defined() == ndb);
      if (ndx) check(g.dx, e.dx, "dx " + what);
      if (ndw) check(g.dweight, e.dweight, "dweight " + what);
      if (ndb) check(g.dbias, e.dbias, "dbias " + what);
    }
    // strided dy (a transposed view)
    const Tensor dyt = host_randn({2, 24, 5}, 34, dt);
    const k::LinearGrads e = k::linear_backward(k::transpose(dyt, 1, 2), x, w, true, true, true);
    const k::LinearGrads g = k::linear_backward(k::transpose(dyt.to(gpu()), 1, 2), xg, wg, true, true, true);
    check(g.dx, e.dx, "dx, strided dy" + dname(dt));
    check(g.dweight, e.dweight, "dweight, strided dy" + dname(dt));
    check(g.dbias, e.dbias, "dbias, strided dy" + dname(dt));
  }
}

TEST_CASE("cuda softmax and log_softmax over any dim, and their backward", "[cuda][nn]") {
  for (DType dt : {DType::F32, DType::F64}) {
    struct Case {
      Shape shape;
      int64_t dim;
    };
    for (const Case& c : {Case{{4, 7, 33}, -1}, Case{{4, 7, 33}, 1}, Case{{4, 7, 33}, 0}, Case{{3, 1000}, -1},
                          Case{{5, 3}, -1}, Case{{6}, 0}}) {
      const Tensor x = scaled(host_randn(c.shape, 41, dt), 3.0, 0.5), dy = host_randn(c.shape, 42, dt);
      const Tensor xg = x.to(gpu()), dyg = dy.to(gpu());
      const std::string what = shape_str(c.shape) + " dim " + std::to_string(c.dim) + dname(dt);
      const Tensor y = k::softmax(x, c.dim), ly = k::log_softmax(x, c.dim);
      check(k::softmax(xg, c.dim), y, "softmax " + what);
      check(k::log_softmax(xg, c.dim), ly, "log_softmax " + what);
      // the backward from the host's forward output, so that it is checked on its own
      check(k::softmax_backward(y.to(gpu()), dyg, c.dim), k::softmax_backward(y, dy, c.dim),
            "softmax_backward " + what);
      check(k::log_softmax_backward(ly.to(gpu()), dyg, c.dim), k::log_softmax_backward(ly, dy, c.dim),
            "log_softmax_backward " + what);
    }
    // a strided input (transposed view), softmax over its last dim
    const Tensor xt = host_randn({33, 7}, 43, dt);
    check(k::softmax(k::transpose(xt.to(gpu()), 0, 1), -1), k::softmax(k::transpose(xt, 0, 1), -1),
          "softmax of a transposed view" + dname(dt));
    check(k::log_softmax(k::transpose(xt.to(gpu()), 0, 1), 0), k::log_softmax(k::transpose(xt, 0, 1), 0),
          "log_softmax of a transposed view, dim 0" + dname(dt));
  }
}

TEST_CASE("cuda softmax of rows with -inf entries", "[cuda][nn]") {
  const Tensor x = from_vector(std::vector<float>{0.f, -INFINITY, 1.f, -INFINITY, -INFINITY, -INFINITY}, {2, 3});
  const Tensor got = k::softmax(x.to(gpu()), -1), expect = k::softmax(x, -1);
  require_close(got, expect, 1e-6, 1e-7, "masked row, then a fully -inf row (NaN, as the host)");
}

TEST_CASE("cuda layer_norm with and without weight and bias, and its backward", "[cuda][nn]") {
  for (DType dt : {DType::F32, DType::F64}) {
    for (int64_t C : {96, 7}) {
      const Tensor x = scaled(host_randn({2, 9, C}, 51, dt), 2.0, 0.5);
      const Tensor w = scaled(host_randn({C}, 52, dt), 0.5, 1.0), b = host_randn({C}, 53, dt);
      const Tensor dy = host_randn({2, 9, C}, 54, dt);
      const Tensor xg = x.to(gpu()), wg = w.to(gpu()), bg = b.to(gpu()), dyg = dy.to(gpu());
      for (int mask = 0; mask < 4; ++mask) {
        const bool hw = mask & 1, hb = mask & 2;
        const std::string what = "C " + std::to_string(C) + (hw ? " weight" : "") + (hb ? " bias" : "") + dname(dt);
        const k::LayerNormResult e = k::layer_norm(x, hw ? w : Tensor(), hb ? b : Tensor(), 1e-5);
        const k::LayerNormResult g = k::layer_norm(xg, hw ? wg : Tensor(), hb ? bg : Tensor(), 1e-5);
        check(g.y, e.y, "y " + what);
        check(g.mean, e.mean, "mean " + what);
        check(g.rstd, e.rstd, "rstd " + what);
        // backward from the host's statistics, so that it is checked on its own
        const k::LayerNormGrads eg = k::layer_norm_backward(dy, x, e.mean, e.rstd, hw ? w : Tensor(), hb);
        const k::LayerNormGrads gg =
            k::layer_norm_backward(dyg, xg, e.mean.to(gpu()), e.rstd.to(gpu()), hw ? wg : Tensor(), hb);
        check(gg.dx, eg.dx, "dx " + what);
        CHECK(gg.dweight.defined() == hw);
        CHECK(gg.dbias.defined() == hb);
        if (hw) check(gg.dweight, eg.dweight, "dweight " + what);
        if (hb) check(gg.dbias, eg.dbias, "dbias " + what);
      }
    }
  }
  // the parameter gradients over many rows (several row chunks), bitwise the same on a rerun
  const Tensor x = host_randn({700, 40}, 55), dy = host_randn({700, 40}, 56), w = host_randn({40}, 57);
  const k::LayerNormResult e = k::layer_norm(x, w, Tensor(), 1e-6);
  const k::LayerNormGrads eg = k::layer_norm_backward(dy, x, e.mean, e.rstd, w, true);
  const Tensor xg = x.to(gpu()), dyg = dy.to(gpu()), wg = w.to(gpu()), mg = e.mean.to(gpu()), rg = e.rstd.to(gpu());
  const k::LayerNormGrads g1 = k::layer_norm_backward(dyg, xg, mg, rg, wg, true);
  const k::LayerNormGrads g2 = k::layer_norm_backward(dyg, xg, mg, rg, wg, true);
  check(g1.dx, eg.dx, "dx, 700 rows");
  check(g1.dweight, eg.dweight, "dweight, 700 rows");
  check(g1.dbias, eg.dbias, "dbias, 700 rows");
  require_equal(g2.dweight.cpu(), g1.dweight.cpu(), "dweight deterministic");
  require_equal(g2.dbias.cpu(), g1.dbias.cpu(), "dbias deterministic");
  // a strided x (transposed view) in the forward
  const Tensor xt = host_randn({40, 6}, 58);
  check(k::layer_norm(k::transpose(xt.to(gpu()), 0, 1), wg, Tensor(), 1e-5).y,
        k::layer_norm(k::transpose(xt, 0, 1), w, Tensor(), 1e-5).y, "strided x");
}

TEST_CASE("cuda layer_norm_select: a subset of channels, statistics over all", "[cuda][nn]") {
  for (DType dt : {DType::F32, DType::F64}) {
    const int64_t C = 96, kk = 40;
    std::vector<int64_t> idx;
    for (int64_t j = 0; j < kk; ++j) idx.push_back((j * 37 + 5) % C);
    idx[7] = idx[3];  // a repeated channel is allowed
    const Tensor index = from_vector(idx);
    const Tensor x = scaled(host_randn({2, 9, C}, 61, dt), 2.0, -0.3);
    const Tensor w = host_randn({kk}, 62, dt), b = host_randn({kk}, 63, dt);
    const Tensor xg = x.to(gpu()), ig = index.to(gpu()), wg = w.to(gpu()), bg = b.to(gpu());
    for (int mask = 0; mask < 4; ++mask) {
      const bool hw = mask & 1, hb = mask & 2;
      const std::string what = std::string(hw ? " weight" : "") + (hb ? " bias" : "") + dname(dt);
      const k::LayerNormResult e = k::layer_norm_select(x, index, hw ? w : Tensor(), hb ? b : Tensor(), 1e-5);
      const k::LayerNormResult g = k::layer_norm_select(xg, ig, hw ? wg : Tensor(), hb ? bg : Tensor(), 1e-5);
      check(g.y, e.y, "y" + what);
      check(g.mean, e.mean, "mean" + what);
      check(g.rstd, e.rstd, "rstd" + what);
    }
  }
  const Tensor bad = from_vector(std::vector<int64_t>{0, 96}).to(gpu());
  CHECK_THROWS_WITH(k::layer_norm_select(host_randn({3, 96}, 64).to(gpu()), bad, Tensor(), Tensor(), 1e-5),
                    Catch::Contains("index 96 out of range for 96 channels"));
}

TEST_CASE("cuda attention and attention_backward against the host", "[cuda][nn]") {
  struct Case {
    int64_t B, N, heads, head_dim;
  };
  for (DType dt : {DType::F32, DType::F64}) {
    // B = 2: the GEMMs batch over the heads, one call per item; B = 5 > heads: over the items, one per head
    for (const Case& c : {Case{2, 197, 3, 64}, Case{2, 197, 6, 8}, Case{2, 5, 3, 64}, Case{2, 5, 6, 8},
                          Case{5, 9, 2, 8}}) {
      const int64_t B = c.B, C = c.heads * c.head_dim;
      const double scale = 1.0 / std::sqrt(double(c.head_dim));
      const std::string what = "B " + std::to_string(B) + " N " + std::to_string(c.N) + " heads " +
                               std::to_string(c.heads) + " head_dim " + std::to_string(c.head_dim) + dname(dt);
      const Tensor qkv = host_randn({B, c.N, 3 * C}, 71, dt), dout = host_randn({B, c.N, C}, 72, dt);
      const Tensor qg = qkv.to(gpu());
      const k::AttentionResult e = k::attention(qkv, c.heads, scale, true);
      const k::AttentionResult g = k::attention(qg, c.heads, scale, true);
      check(g.out, e.out, "out " + what);
      check(g.probs, e.probs, "probs " + what);
      const k::AttentionResult g2 = k::attention(qg, c.heads, scale, false);
      CHECK_FALSE(g2.probs.defined());
      require_equal(g2.out.cpu(), g.out.cpu(), "out without kept probs, bitwise " + what);
      // backward from the host's probabilities, so that it is checked on its own; dq, dk and dv
      // separately (their magnitudes differ, and so does the scale of their tolerance)
      const Tensor gd = k::attention_backward(dout.to(gpu()), qg, e.probs.to(gpu()), c.heads, scale);
      const Tensor ed = k::attention_backward(dout, qkv, e.probs, c.heads, scale);
      CHECK(gd.device() == gpu());
      REQUIRE(shape_str(gd.shape()) == shape_str(ed.shape()));
      const Tensor gh = gd.cpu();
      const char* const part[] = {"dq ", "dk ", "dv "};
      for (int64_t p = 0; p < 3; ++p) close_to(k::narrow(gh, 2, p * C, C), k::narrow(ed, 2, p * C, C), part[p] + what);
    }
  }
  // a strided qkv (transposed view)
  const Tensor qt = host_randn({2, 48, 7}, 73);
  const Tensor qkv = k::transpose(qt, 1, 2), qg = k::transpose(qt.to(gpu()), 1, 2);
  const k::AttentionResult e = k::attention(qkv, 2, 0.25, true), g = k::attention(qg, 2, 0.25, true);
  check(g.out, e.out, "out, strided qkv");
  const Tensor dout = host_randn({2, 7, 16}, 74);
  check(k::attention_backward(dout.to(gpu()), qg, e.probs.to(gpu()), 2, 0.25),
        k::attention_backward(dout, qkv, e.probs, 2, 0.25), "dqkv, strided qkv");
}
