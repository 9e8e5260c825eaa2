// Forward values and errors of index_add, layer_norm_select and add_layer_norm (autograd/ops_channel_subset.cpp):
// index_add against a naive loop on its one-pass and general paths; layer_norm_select bit for bit
// equal to layer_norm with zero-padded parameters followed by index_select (the form P3B's sliced
// blocks used before); add_layer_norm's one-pass kernel bit for bit equal to the ops it fuses (f32, f64,
// every index path); f32 gradients. Float64 gradient checks are in test_gradcheck.cpp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/parallel.h"
#include "test_util.h"

using namespace shears;
using shears::test::random_tensor;
using shears::test::Ref;
using shears::test::ref_of;
using shears::test::ref_values;
using shears::test::require_close;
using shears::test::transposed_tensor;
using shears::test::with_grad;

namespace {

Tensor idx(const std::vector<int64_t>& v) { return from_vector(v); }

// base with src added at index along dim (naive, in index order)
Ref naive_index_add(const Tensor& base, int64_t dim, const std::vector<int64_t>& index, const Tensor& src) {
  const int64_t d = dim < 0 ? dim + base.dim() : dim;
  Ref want = ref_of(base), rs = ref_of(src);
  shears::test::for_each_index(src.shape(), [&](const Shape& i) {
    Shape dst = i;
    dst[size_t(d)] = index[size_t(i[size_t(d)])];
    want[dst] += rs.at(i);
  });
  return want;
}

// (k,) -> (C,): values at index, zeros elsewhere
Tensor spread(const Tensor& v, const std::vector<int64_t>& index, int64_t C) {
  Tensor out = zeros({C}, v.dtype());
  kernels::index_add_(out, 0, idx(index), v);
  return out;
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor ac = contiguous(a), bc = contiguous(b);
  return std::memcmp(ac.raw_data(), bc.raw_data(), size_t(ac.numel()) * dtype_size(ac.dtype())) == 0;
}

const DType kFloatTypes[] = {DType::F32, DType::F64};

}  // namespace

TEST_CASE("index_add: values on the one-pass and general paths", "[index_add]") {
  for (DType dt : kFloatTypes) {
    INFO(dtype_name(dt));
    const double tol = shears::test::default_tol(dt);
    // dim last, contiguous: the one-pass path (a repeated index adds twice, in order)
    Tensor base = random_tensor({2, 3, 7}, dt, 1), src = random_tensor({2, 3, 4}, dt, 2);
    std::vector<int64_t> i1 = {6, 0, 3, 0};
    require_close(index_add(base, -1, idx(i1), src), naive_index_add(base, -1, i1, src), tol);
    // many rows (parallel chunks)
    Tensor big = random_tensor({40, 50, 9}, dt, 3), bsrc = random_tensor({40, 50, 5}, dt, 4);
    std::vector<int64_t> i2 = {1, 2, 4, 7, 8};
    require_close(index_add(big, 2, idx(i2), bsrc), naive_index_add(big, 2, i2, bsrc), tol);
    // general path: another dim, a non-contiguous base, an expanded src
    Tensor tb = transposed_tensor({4, 5}, dt, 5);
    std::vector<int64_t> i3 = {3, 1, 3};
    Tensor s3 = random_tensor({3, 5}, dt, 6);
    require_close(index_add(tb, 0, idx(i3), s3), naive_index_add(tb, 0, i3, s3), tol);
    Tensor ex = expand(random_tensor({1, 2}, dt, 7), {4, 2});
    std::vector<int64_t> i4 = {4, 0};
    require_close(index_add(tb, 1, idx(i4), ex), naive_index_add(tb, 1, i4, ex), tol);
    // empty index: a copy of base
    require_close(index_add(base, -1, from_vector(std::vector<int64_t>{}), zeros({2, 3, 0}, dt)), ref_of(base), 0.0);
  }
}

TEST_CASE("index_add: equal bit for bit to adding the zero-padded src", "[index_add]") {
  // the P3B branch output x + spread(a): unkept channels add 0, kept ones add a
  Tensor x = random_tensor({3, 5, 11}, DType::F32, 8), a = random_tensor({3, 5, 4}, DType::F32, 9);
  const std::vector<int64_t> channels = {0, 2, 7, 10};
  Tensor padded = zeros({3, 5, 11}, DType::F32);
  kernels::index_add_(padded, -1, idx(channels), a);
  CHECK(bitwise_equal(index_add(x, -1, idx(channels), a), x + padded));
}

TEST_CASE("index_add: unique channels (one pass on AVX-512 and AVX2) equal the in-order adds bit for bit",
          "[index_add]") {
  // 37 channels: two full 16-lane chunks (four of 8 on AVX2) and a tail; unkept channels holding -0.0 stay -0.0
  Tensor base = random_tensor({3, 7, 37}, DType::F32, 13), src = random_tensor({3, 7, 20}, DType::F32, 14);
  float* bp = base.data<float>();
  for (int64_t r = 0; r < 21; ++r) bp[r * 37 + 5] = -0.0f, bp[r * 37 + 36] = -0.0f;
  // ascending (loaded and expanded), ascending with the chunk of channels 16-31 all unkept, shuffled (gathered)
  for (int variant = 0; variant < 3; ++variant) {
    INFO("variant " << variant);
    std::vector<int64_t> channels;
    for (int64_t c = 0; c < 37; ++c)
      if (c % 9 != 5 && c != 36 && (variant != 1 || c < 16 || c >= 32) && channels.size() < 20) channels.push_back(c);
    const Tensor part = variant == 1 ? kernels::slice(src, -1, 0, int64_t(channels.size()), 1) : src;
    if (variant != 1) REQUIRE(channels.size() == 20);
    if (variant == 2) std::swap(channels[0], channels[13]);  // not sorted
    Tensor want = kernels::clone(base);
    kernels::index_add_(want, -1, idx(channels), part);  // the general in-place kernel, adds in index order
    const Tensor got = index_add(base, -1, idx(channels), kernels::contiguous(part));
    CHECK(bitwise_equal(got, want));
    for (int64_t r = 0; r < 21; ++r) CHECK(std::signbit(got.data<float>()[r * 37 + 36]));
  }
}

TEST_CASE("index_add: f32 gradients", "[index_add]") {
  Tensor base = with_grad(random_tensor({2, 6}, DType::F32, 10));
  Tensor src = with_grad(random_tensor({2, 3}, DType::F32, 11));
  Tensor g = random_tensor({2, 6}, DType::F32, 12);
  backward(sum(index_add(base, 1, idx({5, 1, 2}), src) * g));
  require_close(base.grad(), ref_of(g), 0.0);
  require_close(src.grad(), ref_of(index_select(g, 1, idx({5, 1, 2}))), 0.0);
}

TEST_CASE("index_add: bad inputs name the op", "[index_add]") {
  Tensor base = zeros({2, 4}), src = zeros({2, 2});
  auto throws = [](auto&& f, const char* what) {
    CHECK_THROWS_WITH(f(), Catch::Contains("index_add") && Catch::Contains(what));
  };
  throws([&] { index_add(base, 1, from_vector(std::vector<double>{0, 1}), src); }, "i64");
  throws([&] { index_add(base, 1, from_vector(std::vector<int64_t>{0, 1}, {1, 2}), src); }, "1-d");
  throws([&] { index_add(base, 1, idx({0, 4}), src); }, "out of range");
  throws([&] { index_add(base, 1, idx({-1, 0}), src); }, "out of range");
  throws([&] { index_add(base, 1, idx({0, 1, 2}), src); }, "src shape");
  throws([&] { index_add(base, 0, idx({0, 1}), zeros({2, 3})); }, "src shape");
  throws([&] { index_add(base, 2, idx({0, 1}), src); }, "dim");
  throws([&] { index_add(base, 1, idx({0, 1}), zeros({2, 2}, DType::F64)); }, "dtype");
}

TEST_CASE("layer_norm_select: equal bit for bit to layer_norm with zero-padded parameters, then index_select",
          "[layer_norm_select]") {
  for (DType dt : kFloatTypes) {
    INFO(dtype_name(dt));
    // ascending channels, ascending with one 16-channel chunk of none kept, a reversed order (all gathered on
    // AVX-512: 16 kept channels span more than 32), and 4 of every 5 channels with a gap at 100-139 (AVX-512:
    // vectors within 32 channels permuted from two loads, the one across the gap gathered; AVX2 the same with 8
    // outputs within 16 channels), and every other channel
    for (int variant = 0; variant < 5; ++variant)
    for (int64_t C : {7, 300}) {
      INFO("C " << C << " variant " << variant);
      std::vector<int64_t> channels;
      for (int64_t c = 1; c < C; c += 3)
        if (variant != 1 || c < 16 || c >= 32) channels.push_back(c);
      if (variant == 2) std::reverse(channels.begin(), channels.end());
      if (variant == 3) {
        channels.clear();
        for (int64_t c = 0; c < C; ++c)
          if (c % 5 != 0 && (c < 100 || c >= 140)) channels.push_back(c);
      }
      if (variant == 4) {  // every other channel: 8 outputs span 15 channels (AVX2: two loads, permuted)
        channels.clear();
        for (int64_t c = 0; c < C; c += 2) channels.push_back(c);
      }
      const int64_t k = int64_t(channels.size());
      Tensor w = random_tensor({k}, dt, 20, 0.5, 1.5), b = random_tensor({k}, dt, 21);
      for (const Tensor& x : {random_tensor({2, 5, C}, dt, 22, -2, 2), transposed_tensor({C, 6}, dt, 23)}) {
        Tensor xt = x.size(-1) == C ? x : kernels::transpose(x, 0, 1);
        INFO("x " << shape_str(xt.shape()));
        Tensor padded = layer_norm(xt, spread(w, channels, C), spread(b, channels, C), 1e-6);
        Tensor want = index_select(padded, -1, idx(channels));
        CHECK(bitwise_equal(layer_norm_select(xt, idx(channels), w, b, 1e-6), want));
        Tensor plain = index_select(layer_norm(xt, Tensor(), Tensor(), 1e-6), -1, idx(channels));
        CHECK(bitwise_equal(layer_norm_select(xt, idx(channels), Tensor(), Tensor(), 1e-6), plain));
        require_close(layer_norm_select(xt, idx(channels), w, Tensor(), 1e-6), ref_of(plain * w),
                      shears::test::default_tol(dt));
      }
    }
  }
  // no channel kept: (..., 0)
  Tensor none = layer_norm_select(random_tensor({3, 4}, DType::F32, 24), from_vector(std::vector<int64_t>{}),
                                  zeros({0}), zeros({0}), 1e-6);
  CHECK(none.shape() == Shape{3, 0});
}

TEST_CASE("layer_norm_select: the same bits on 1 and 2 threads", "[layer_norm_select]") {
  Tensor x = random_tensor({64, 50, 40}, DType::F32, 30, -2, 2);
  Tensor w = random_tensor({3}, DType::F32, 31), b = random_tensor({3}, DType::F32, 32);
  const int prev = get_num_threads();
  set_num_threads(1);
  Tensor one = layer_norm_select(x, idx({39, 0, 17}), w, b, 1e-6);
  set_num_threads(2);
  Tensor two = layer_norm_select(x, idx({39, 0, 17}), w, b, 1e-6);
  set_num_threads(prev);
  CHECK(bitwise_equal(one, two));
}

TEST_CASE("layer_norm_select: f32 gradients equal those of the padded form", "[layer_norm_select]") {
  const std::vector<int64_t> channels = {4, 0, 2};
  Tensor g = random_tensor({3, 2, 3}, DType::F32, 40);
  Tensor x1 = with_grad(random_tensor({3, 2, 6}, DType::F32, 41, -2, 2)), x2 = with_grad(kernels::clone(detach(x1)));
  Tensor w1 = with_grad(random_tensor({3}, DType::F32, 42)), w2 = with_grad(kernels::clone(detach(w1)));
  Tensor b1 = with_grad(random_tensor({3}, DType::F32, 43)), b2 = with_grad(kernels::clone(detach(b1)));
  backward(sum(layer_norm_select(x1, idx(channels), w1, b1, 1e-6) * g));
  // padded form: zero-padded parameters through concat + index_select (differentiable)
  std::vector<int64_t> from(6, 3);
  for (size_t j = 0; j < channels.size(); ++j) from[size_t(channels[j])] = int64_t(j);
  auto pad = [&](const Tensor& v) { return index_select(concat({v, zeros({1})}, 0), 0, idx(from)); };
  backward(sum(index_select(layer_norm(x2, pad(w2), pad(b2), 1e-6), -1, idx(channels)) * g));
  CHECK(bitwise_equal(x1.grad(), x2.grad()));
  CHECK(bitwise_equal(w1.grad(), w2.grad()));
  CHECK(bitwise_equal(b1.grad(), b2.grad()));
}

TEST_CASE("layer_norm_select: bad inputs name the op", "[layer_norm_select]") {
  Tensor x = zeros({2, 5}), w = zeros({2}), b = zeros({2});
  auto throws = [](auto&& f, const char* what) {
    CHECK_THROWS_WITH(f(), Catch::Contains("layer_norm_select") && Catch::Contains(what));
  };
  throws([&] { layer_norm_select(x, idx({1, 1}), w, b, 1e-6); }, "twice");
  throws([&] { layer_norm_select(x, idx({1, 5}), w, b, 1e-6); }, "out of range");
  throws([&] { layer_norm_select(x, idx({-1, 2}), w, b, 1e-6); }, "out of range");
  throws([&] { layer_norm_select(x, from_vector(std::vector<double>{0, 1}), w, b, 1e-6); }, "i64");
  throws([&] { layer_norm_select(x, idx({0, 1, 2}), w, b, 1e-6); }, "weight");
  throws([&] { layer_norm_select(x, idx({0, 1}), w, zeros({3}), 1e-6); }, "bias");
  throws([&] { layer_norm_select(zeros({2, 5}, DType::I64), idx({0, 1}), Tensor(), Tensor(), 1e-6); }, "floating");
  throws([&] { layer_norm_select(zeros({2, 5}, DType::F64), idx({0, 1}), w, b, 1e-6); }, "dtype");
}

// ---- add_layer_norm: the residual add and the next layer norm in one pass ----

TEST_CASE("add_layer_norm: one pass equal bit for bit to add / index_add, then layer_norm / layer_norm_select",
          "[add_layer_norm]") {
  // 37 channels (two 16-lane chunks and a tail); -0.0 in unkept channels must stay -0.0
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor x = random_tensor({3, 7, 37}, dt, 40, -2, 2);
    if (dt == DType::F32)
      for (int64_t r = 0; r < 21; ++r) x.data<float>()[r * 37 + 36] = -0.0f;
    std::vector<int64_t> out_asc, norm_asc, norm_wide;
    for (int64_t c = 0; c < 37; ++c) {
      if (c % 9 != 5 && c != 36 && out_asc.size() < 20) out_asc.push_back(c);
      if (c % 3 != 1) norm_asc.push_back(c);  // 16 of them within 32 channels: the permute path
      if (c % 5 == 0) norm_wide.push_back(c);  // spread out: the gather path
    }
    std::vector<int64_t> out_shuffled = out_asc, norm_shuffled = norm_asc;
    std::swap(out_shuffled[0], out_shuffled[13]);
    std::swap(norm_shuffled[2], norm_shuffled[20]);
    struct Variant {
      const char* name;
      std::vector<int64_t> out, norm;  // empty: all channels
      bool weight, bias;
    };
    const std::vector<Variant> variants = {
        {"dense", {}, {}, true, true},          {"add at ascending channels", out_asc, {}, true, true},
        {"norm at ascending", {}, norm_asc, true, true}, {"both subsets", out_asc, norm_wide, true, true},
        {"shuffled", out_shuffled, norm_shuffled, true, true}, {"no weight", out_asc, norm_asc, false, true},
        {"no bias", {}, norm_wide, true, false}, {"no affine", out_shuffled, {}, false, false}};
    for (const Variant& v : variants) {
      INFO(dtype_name(dt) << " " << v.name);
      const int64_t ks = v.out.empty() ? 37 : int64_t(v.out.size()), kn = v.norm.empty() ? 37 : int64_t(v.norm.size());
      const Tensor src = random_tensor({3, 7, ks}, dt, 41, -1, 1);
      const Tensor w = v.weight ? random_tensor({kn}, dt, 42) : Tensor(), b = v.bias ? random_tensor({kn}, dt, 43) : Tensor();
      const Tensor oi = v.out.empty() ? Tensor() : idx(v.out), ni = v.norm.empty() ? Tensor() : idx(v.norm);
      const Tensor sum = v.out.empty() ? x + src : index_add(x, -1, oi, src);
      const Tensor normed = v.norm.empty() ? layer_norm(sum, w, b, 1e-6) : layer_norm_select(sum, ni, w, b, 1e-6);
      const kernels::AddLayerNormResult got = kernels::add_layer_norm(x, src, oi, ni, w, b, 1e-6);
      CHECK(bitwise_equal(got.y, sum));
      CHECK(bitwise_equal(got.h, normed));
      const AddLayerNorm op = add_layer_norm(x, src, oi, ni, w, b, 1e-6);  // no grad wanted: the same kernel
      CHECK(bitwise_equal(op.sum, sum));
      CHECK(bitwise_equal(op.normed, normed));
      if (dt == DType::F32 && !v.out.empty())
        for (int64_t r = 0; r < 21; ++r) CHECK(std::signbit(got.y.data<float>()[r * 37 + 36]));
    }
  }
}

TEST_CASE("add_layer_norm: the same bits on 1 and 2 threads", "[add_layer_norm]") {
  Tensor x = random_tensor({64, 50, 40}, DType::F32, 44, -2, 2), src = random_tensor({64, 50, 3}, DType::F32, 45);
  Tensor w = random_tensor({5}, DType::F32, 46), b = random_tensor({5}, DType::F32, 47);
  const int prev = get_num_threads();
  set_num_threads(1);
  kernels::AddLayerNormResult one = kernels::add_layer_norm(x, src, idx({1, 30, 7}), idx({39, 0, 17, 2, 3}), w, b, 1e-6);
  set_num_threads(2);
  kernels::AddLayerNormResult two = kernels::add_layer_norm(x, src, idx({1, 30, 7}), idx({39, 0, 17, 2, 3}), w, b, 1e-6);
  set_num_threads(prev);
  CHECK(bitwise_equal(one.y, two.y));
  CHECK(bitwise_equal(one.h, two.h));
}

TEST_CASE("add_layer_norm: with a gradient to record, the differentiable ops and their gradients", "[add_layer_norm]") {
  Tensor x1 = with_grad(random_tensor({2, 3, 9}, DType::F32, 48)), x2 = with_grad(kernels::clone(detach(x1)));
  Tensor s1 = with_grad(random_tensor({2, 3, 4}, DType::F32, 49)), s2 = with_grad(kernels::clone(detach(s1)));
  Tensor w1 = with_grad(random_tensor({5}, DType::F32, 50)), w2 = with_grad(kernels::clone(detach(w1)));
  Tensor b1 = with_grad(random_tensor({5}, DType::F32, 51)), b2 = with_grad(kernels::clone(detach(b1)));
  const Tensor oi = idx({0, 3, 4, 8}), ni = idx({8, 1, 2, 3, 6});
  const AddLayerNorm fused = add_layer_norm(x1, s1, oi, ni, w1, b1, 1e-6);
  REQUIRE(fused.normed.requires_grad());
  REQUIRE(fused.sum.requires_grad());
  backward(sum(fused.normed * fused.normed) + sum(fused.sum * fused.sum));
  const Tensor total = index_add(x2, -1, oi, s2);
  const Tensor normed = layer_norm_select(total, ni, w2, b2, 1e-6);
  CHECK(bitwise_equal(detach(fused.normed), detach(normed)));
  backward(sum(normed * normed) + sum(total * total));
  CHECK(bitwise_equal(x1.grad(), x2.grad()));
  CHECK(bitwise_equal(s1.grad(), s2.grad()));
  CHECK(bitwise_equal(w1.grad(), w2.grad()));
  CHECK(bitwise_equal(b1.grad(), b2.grad()));
}

TEST_CASE("add_layer_norm: bad inputs name the op", "[add_layer_norm]") {
  Tensor x = zeros({2, 5}), src = zeros({2, 2}), w = zeros({2}), b = zeros({2});
  auto throws = [](auto&& f, const char* what) {
    CHECK_THROWS_WITH(f(), Catch::Contains("add_layer_norm") && Catch::Contains(what));
  };
  throws([&] { kernels::add_layer_norm(x, src, idx({1, 1}), idx({0, 1}), w, b, 1e-6); }, "twice");
  throws([&] { kernels::add_layer_norm(x, src, idx({1, 5}), idx({0, 1}), w, b, 1e-6); }, "out of range");
  throws([&] { kernels::add_layer_norm(x, src, idx({1, 2}), idx({0, -1}), w, b, 1e-6); }, "out of range");
  throws([&] { kernels::add_layer_norm(x, zeros({2, 3}), idx({1, 2}), idx({0, 1}), w, b, 1e-6); }, "src must be");
  throws([&] { kernels::add_layer_norm(x, src, Tensor(), idx({0, 1}), w, b, 1e-6); }, "src must be");
  throws([&] { kernels::add_layer_norm(x, src, idx({1, 2}), idx({0, 1, 2}), w, b, 1e-6); }, "weight");
  throws([&] { kernels::add_layer_norm(x, zeros({2, 2}, DType::F64), idx({1, 2}), idx({0, 1}), w, b, 1e-6); }, "src must be");
  throws([&] { kernels::add_layer_norm(zeros({2, 5}, DType::I64), src, idx({1, 2}), idx({0, 1}), w, b, 1e-6); }, "floating");
}
