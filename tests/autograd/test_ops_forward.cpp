// Forward tests of every differentiable op (autograd/ops.h) against naive double loops
// over strided reads (tests/test_util.h), in f32 and f64, with contiguous, non-contiguous
// (sliced/transposed/expanded) and broadcast inputs; plus dropout statistics.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "autograd/op_registry.h"
#include "autograd/ops.h"
#include "test_util.h"

using namespace shears;
using namespace shears::test;

namespace {

const DType kFloatTypes[] = {DType::F32, DType::F64};

// f64 inputs require grad (so the op is recorded through autograd); f32 inputs do not.
Tensor leaf(Tensor t) {
  const bool f64 = t.dtype() == DType::F64;
  return with_grad(std::move(t), f64);
}

Tensor rnd(const Shape& s, DType dt, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return leaf(random_tensor(s, dt, seed, lo, hi));
}
Tensor strided(const Shape& s, DType dt, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return leaf(noncontig_tensor(s, dt, seed, lo, hi));
}
Tensor transposed(const Shape& s, DType dt, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return leaf(transposed_tensor(s, dt, seed, lo, hi));
}

// Random i64 indices in [0, hi) of the given shape.
Tensor rand_index(const Shape& shape, int64_t hi, uint64_t seed) {
  std::vector<double> v = random_values(numel_of(shape), seed, 0.0, double(hi));
  for (auto& x : v) x = std::min(std::floor(x), double(hi - 1));
  return tensor_of(v, shape, DType::I64);
}

int64_t norm_dim(int64_t d, int64_t nd) { return d < 0 ? d + nd : d; }

// ---------------- naive references ----------------

enum class Red { Sum, Mean, Max, Min, Var };

Ref ref_reduce(const Ref& x, const Shape& dims, bool keepdim, Red op, int64_t correction = 1) {
  const int64_t nd = int64_t(x.shape.size());
  std::vector<bool> red(nd, dims.empty());
  for (int64_t d : dims) red[norm_dim(d, nd)] = true;
  Shape keep = x.shape, out_shape;
  for (int64_t d = 0; d < nd; ++d) {
    if (red[d]) {
      keep[d] = 1;
      if (keepdim) out_shape.push_back(1);
    } else {
      out_shape.push_back(x.shape[d]);
    }
  }
  const double count = double(numel_of(x.shape)) / double(numel_of(keep));
  auto key = [&](const Shape& idx) {
    Shape k = idx;
    for (int64_t d = 0; d < nd; ++d)
      if (red[d]) k[d] = 0;
    return k;
  };
  double init = op == Red::Max ? -INFINITY : (op == Red::Min ? INFINITY : 0.0);
  Ref acc(keep, init);
  for_each_index(x.shape, [&](const Shape& idx) {
    double& a = acc[key(idx)];
    const double v = x.at(idx);
    if (op == Red::Max) a = std::max(a, v);
    else if (op == Red::Min) a = std::min(a, v);
    else a += v;
  });
  if (op == Red::Mean || op == Red::Var)
    for (auto& a : acc.v) a /= count;
  if (op == Red::Var) {
    Ref sq(keep, 0.0);
    for_each_index(x.shape, [&](const Shape& idx) {
      const double dv = x.at(idx) - acc.at(key(idx));
      sq[key(idx)] += dv * dv;
    });
    for (auto& a : sq.v) a /= (count - double(correction));
    acc = sq;
  }
  return Ref(out_shape, acc.v);
}

Ref ref_softmax(const Ref& x, int64_t dim, bool log) {
  const int64_t d = norm_dim(dim, int64_t(x.shape.size()));
  Shape outer = x.shape;
  outer[d] = 1;
  Ref out(x.shape);
  for_each_index(outer, [&](const Shape& idx) {
    Shape j = idx;
    double m = -INFINITY, s = 0.0;
    for (j[d] = 0; j[d] < x.shape[d]; ++j[d]) m = std::max(m, x.at(j));
    for (j[d] = 0; j[d] < x.shape[d]; ++j[d]) s += std::exp(x.at(j) - m);
    for (j[d] = 0; j[d] < x.shape[d]; ++j[d])
      out[j] = log ? x.at(j) - m - std::log(s) : std::exp(x.at(j) - m) / s;
  });
  return out;
}

Ref ref_layer_norm(const Ref& x, const Ref* w, const Ref* b, double eps) {
  const int64_t C = x.shape.back();
  const int64_t rows = numel_of(x.shape) / C;
  Ref out(x.shape);
  for (int64_t r = 0; r < rows; ++r) {
    const double* p = x.v.data() + r * C;
    double mu = 0, var = 0;
    for (int64_t c = 0; c < C; ++c) mu += p[c];
    mu /= double(C);
    for (int64_t c = 0; c < C; ++c) var += (p[c] - mu) * (p[c] - mu);
    var /= double(C);
    const double rstd = 1.0 / std::sqrt(var + eps);
    for (int64_t c = 0; c < C; ++c) {
      double y = (p[c] - mu) * rstd;
      if (w) y *= w->v[c];
      if (b) y += b->v[c];
      out.v[r * C + c] = y;
    }
  }
  return out;
}

// numpy matmul semantics, including 1-d promotion and batch broadcasting
Ref ref_matmul(Ref a, Ref b) {
  const bool a1 = a.shape.size() == 1, b1 = b.shape.size() == 1;
  if (a1) a.shape.insert(a.shape.begin(), 1);
  if (b1) b.shape.push_back(1);
  const int64_t M = a.shape[a.shape.size() - 2], K = a.shape.back(), N = b.shape.back();
  REQUIRE(b.shape[b.shape.size() - 2] == K);
  Shape ab(a.shape.begin(), a.shape.end() - 2), bb(b.shape.begin(), b.shape.end() - 2);
  Shape batch = broadcast_shape(ab, bb);
  Shape full = batch;
  full.push_back(M);
  full.push_back(N);
  Ref out(full);
  for_each_index(full, [&](const Shape& idx) {
    Shape ia = idx, ib = idx;
    const size_t nb = batch.size();
    double s = 0;
    for (int64_t k = 0; k < K; ++k) {
      ia[nb + 1] = k;   // (.., m, k)
      ib[nb] = k;       // (.., k, n)
      s += a.at_broadcast(ia) * b.at_broadcast(ib);
    }
    out[idx] = s;
  });
  Shape final_shape = batch;
  if (!a1) final_shape.push_back(M);
  if (!b1) final_shape.push_back(N);
  return Ref(final_shape, out.v);
}

Ref ref_permute(const Ref& x, const Shape& dims) {
  const int64_t nd = int64_t(x.shape.size());
  Shape shape(nd);
  for (int64_t i = 0; i < nd; ++i) shape[i] = x.shape[norm_dim(dims[i], nd)];
  Ref out(shape);
  for_each_index(shape, [&](const Shape& idx) {
    Shape src(nd);
    for (int64_t i = 0; i < nd; ++i) src[norm_dim(dims[i], nd)] = idx[i];
    out[idx] = x.at(src);
  });
  return out;
}

Ref ref_concat(const std::vector<Ref>& xs, int64_t dim) {
  const int64_t d = norm_dim(dim, int64_t(xs[0].shape.size()));
  Shape shape = xs[0].shape;
  shape[d] = 0;
  for (const Ref& x : xs) shape[d] += x.shape[d];
  Ref out(shape);
  int64_t start = 0;
  for (const Ref& x : xs) {
    for_each_index(x.shape, [&](const Shape& idx) {
      Shape o = idx;
      o[d] += start;
      out[o] = x.at(idx);
    });
    start += x.shape[d];
  }
  return out;
}

Ref ref_stack(const std::vector<Ref>& xs, int64_t dim) {
  const int64_t nd = int64_t(xs[0].shape.size());
  const int64_t d = dim < 0 ? dim + nd + 1 : dim;
  Shape shape = xs[0].shape;
  shape.insert(shape.begin() + d, int64_t(xs.size()));
  Ref out(shape);
  for_each_index(shape, [&](const Shape& idx) {
    Shape src = idx;
    src.erase(src.begin() + d);
    out[idx] = xs[size_t(idx[d])].at(src);
  });
  return out;
}

std::vector<Ref> refs(const TensorList& xs) {
  std::vector<Ref> r;
  for (const Tensor& x : xs) r.push_back(ref_of(x));
  return r;
}

}  // namespace

// ===================================================================================
// coverage: every registered op appears in this file
// ===================================================================================

TEST_CASE("forward: every registered op has a forward test in this file", "[forward]") {
  static const std::set<std::string> tested = {
      "reshape", "permute", "slice", "expand", "squeeze", "unsqueeze", "contiguous", "concat", "stack",
      "to_dtype", "index_select", "gather", "scatter_add", "add", "sub", "mul", "div", "add_scalar",
      "mul_scalar", "neg", "exp", "log", "sqrt", "rsqrt", "pow", "abs", "tanh", "sigmoid", "relu", "gelu",
      "where", "clamp", "sum", "mean", "amax", "amin", "var", "matmul", "softmax", "log_softmax",
      "layer_norm", "dropout",
      "linear", "attention", "attention_probs",  // fused ops (attention_probs = the probabilities attention
      "cross_entropy",                           // exposes): tested in test_fused_forward.cpp
      "conv2d", "batch_norm",                    // tested in test_conv_batchnorm.cpp
      "index_add", "layer_norm_select"};         // tested in test_channel_subset_ops.cpp
  for (const std::string& op : registered_ops()) {
    INFO("registered op without a forward test in test_ops_forward.cpp: " << op);
    CHECK(tested.count(op) == 1);
  }
}

// ===================================================================================
// views and shape ops
// ===================================================================================

TEST_CASE("forward: reshape of contiguous, transposed and sliced inputs", "[forward]") {
  for (DType dt : kFloatTypes) {
    INFO(dtype_name(dt));
    Tensor x = rnd({2, 3, 4}, dt, 1);
    Ref rx = ref_of(x);
    require_equal(reshape(x, {6, 4}), Ref({6, 4}, rx.v));
    require_equal(reshape(x, {4, -1}), Ref({4, 6}, rx.v));
    require_equal(reshape(x, {24}), Ref({24}, rx.v));
    require_equal(reshape(x, {2, 1, 12, 1}), Ref({2, 1, 12, 1}, rx.v));
    require_equal(flatten(x, 1), Ref({2, 12}, rx.v));

    Tensor t = transposed({3, 4}, dt, 2);  // logical order differs from memory order
    Ref rt = ref_of(t);
    require_equal(reshape(t, {12}), Ref({12}, rt.v));
    require_equal(reshape(t, {2, 6}), Ref({2, 6}, rt.v));
    require_equal(reshape(t, {4, 3}), Ref({4, 3}, rt.v));

    Tensor s = strided({3, 4}, dt, 3);
    Ref rs = ref_of(s);
    require_equal(reshape(s, {6, 2}), Ref({6, 2}, rs.v));
    require_equal(reshape(s, {3, 2, 2}), Ref({3, 2, 2}, rs.v));

    Tensor z = rnd({}, dt, 4);  // 0-d
    require_equal(reshape(z, {1, 1}), Ref({1, 1}, ref_of(z).v));
  }
}

TEST_CASE("forward: permute and transpose", "[forward]") {
  for (DType dt : kFloatTypes) {
    INFO(dtype_name(dt));
    Tensor x = rnd({2, 3, 4}, dt, 5);
    Ref rx = ref_of(x);
    for (const Shape& dims : std::vector<Shape>{{2, 0, 1}, {0, 1, 2}, {1, 2, 0}, {-1, -3, -2}, {2, 1, 0}}) {
      INFO("dims " << shape_str(dims));
      require_equal(permute(x, dims), ref_permute(rx, dims));
    }
    Tensor s = strided({3, 2, 5}, dt, 6);
    require_equal(permute(s, {1, 2, 0}), ref_permute(ref_of(s), {1, 2, 0}));
    require_equal(transpose(s, 0, -1), ref_permute(ref_of(s), {2, 1, 0}));
    require_equal(transpose(x, 1, 2), ref_permute(rx, {0, 2, 1}));
  }
}

TEST_CASE("forward: slice and narrow", "[forward]") {
  for (DType dt : kFloatTypes) {
    INFO(dtype_name(dt));
    Tensor x = strided({6, 7}, dt, 7);
    Ref rx = ref_of(x);
    auto ref_slice = [&](int64_t dim, int64_t start, int64_t end, int64_t step) {
      const int64_t n = rx.shape[dim];
      if (start < 0) start += n;
      if (end < 0) end += n;
      start = std::clamp<int64_t>(start, 0, n);
      end = std::clamp<int64_t>(end, start, n);
      Shape shape = rx.shape;
      shape[dim] = (end - start + step - 1) / step;
      Ref out(shape);
      for_each_index(shape, [&](const Shape& idx) {
        Shape src = idx;
        src[dim] = start + idx[dim] * step;
        out[idx] = rx.at(src);
      });
      return out;
    };
    require_equal(slice(x, 1, 1, 6, 2), ref_slice(1, 1, 6, 2));
    require_equal(slice(x, 0, 0, 6, 3), ref_slice(0, 0, 6, 3));
    require_equal(slice(x, -1, 2, 7), ref_slice(1, 2, 7, 1));
    require_equal(slice(x, 0, -4, -1), ref_slice(0, -4, -1, 1));
    require_equal(slice(x, 1, 1, 100, 3), ref_slice(1, 1, 100, 3));  // end clamps
    require_equal(slice(x, 1, 3, 3), ref_slice(1, 3, 3, 1));          // empty
    require_equal(narrow(x, 0, 2, 3), ref_slice(0, 2, 5, 1));
    require_equal(narrow(x, -1, 0, 7), ref_slice(1, 0, 7, 1));
    // a slice of a slice
    require_equal(slice(slice(x, 1, 1, 7, 2), 0, 1, 6, 2), [&] {
      Ref a = ref_slice(1, 1, 7, 2);
      Ref out({3, a.shape[1]});
      for_each_index(out.shape, [&](const Shape& idx) { out[idx] = a.at({1 + 2 * idx[0], idx[1]}); });
      return out;
    }());
  }
}

TEST_CASE("forward: expand, squeeze, unsqueeze", "[forward]") {
  for (DType dt : kFloatTypes) {
    INFO(dtype_name(dt));
    Tensor x = rnd({3, 1}, dt, 8);
    Ref rx = ref_of(x);
    Ref want({2, 3, 4});
    for_each_index(want.shape, [&](const Shape& idx) { want[idx] = rx.at({idx[1], 0}); });
    Tensor e = expand(x, {2, 3, 4});
    require_equal(e, want);
    CHECK(e.strides()[0] == 0);
    CHECK(e.strides()[2] == 0);
    require_equal(expand(x, {2, -1, 4}), want);
    // expanding a non-contiguous tensor along a size-1 dim
    Tensor s = strided({1, 5}, dt, 9);
    Ref rs = ref_of(s);
    Ref ws({3, 5});
    for_each_index(ws.shape, [&](const Shape& idx) { ws[idx] = rs.at({0, idx[1]}); });
    require_equal(expand(s, {3, 5}), ws);

    Tensor y = strided({3, 1, 4}, dt, 10);
    Ref ry = ref_of(y);
    require_equal(squeeze(y, 1), Ref({3, 4}, ry.v));
    require_equal(squeeze(y, -2), Ref({3, 4}, ry.v));
    require_equal(unsqueeze(y, 0), Ref({1, 3, 1, 4}, ry.v));
    require_equal(unsqueeze(y, 3), Ref({3, 1, 4, 1}, ry.v));
    require_equal(unsqueeze(y, -1), Ref({3, 1, 4, 1}, ry.v));
    require_equal(unsqueeze(y, 2), Ref({3, 1, 1, 4}, ry.v));
    Tensor z = rnd({}, dt, 11);
    require_equal(unsqueeze(z, 0), Ref({1}, ref_of(z).v));
    require_equal(unsqueeze(z, -1), Ref({1}, ref_of(z).v));
  }
}

TEST_CASE("forward: contiguous", "[forward]") {
  for (DType dt : kFloatTypes) {
    INFO(dtype_name(dt));
    Tensor t = transposed({4, 3}, dt, 12);
    Tensor c = contiguous(t);
    CHECK(c.is_contiguous());
    CHECK(c.strides() == Shape{3, 1});
    require_equal(c, ref_of(t));
    Tensor s = strided({2, 3, 4}, dt, 13);
    require_equal(contiguous(s), ref_of(s));
    Tensor x = rnd({2, 3}, dt, 14);
    require_equal(contiguous(x), ref_of(x));
    CHECK(contiguous(x).storage() == x.storage());  // already contiguous: no copy
  }
}

TEST_CASE("forward: concat and stack with mixed contiguity", "[forward]") {
  for (DType dt : kFloatTypes) {
    INFO(dtype_name(dt));
    TensorList a = {rnd({2, 3}, dt, 15), transposed({4, 3}, dt, 16), strided({1, 3}, dt, 17)};
    require_equal(concat(a, 0), ref_concat(refs(a), 0));
    require_equal(concat(a, -2), ref_concat(refs(a), 0));
    TensorList b = {strided({2, 1}, dt, 18), rnd({2, 4}, dt, 19), transposed({2, 2}, dt, 20)};
    require_equal(concat(b, 1), ref_concat(refs(b), 1));
    require_equal(concat(b, -1), ref_concat(refs(b), 1));
    TensorList c = {rnd({2, 3, 4}, dt, 21), strided({2, 1, 4}, dt, 22), transposed({2, 2, 4}, dt, 23)};
    require_equal(concat(c, 1), ref_concat(refs(c), 1));
    TensorList one = {strided({3, 2}, dt, 24)};
    require_equal(concat(one, 0), ref_of(one[0]));

    TensorList s = {rnd({2, 3}, dt, 25), transposed({2, 3}, dt, 26), strided({2, 3}, dt, 27)};
    for (int64_t d : {0, 1, 2, -1, -3}) {
      INFO("stack dim " << d);
      require_equal(stack(s, d), ref_stack(refs(s), d));
    }
    TensorList z = {rnd({}, dt, 28), rnd({}, dt, 29)};  // 0-d inputs
    require_equal(stack(z, 0), ref_stack(refs(z), 0));
    // an empty part, and large parts (slabs copied in parallel pieces)
    TensorList e = {rnd({0, 3}, dt, 34), rnd({2, 3}, dt, 35)};
    require_equal(concat(e, 0), ref_concat(refs(e), 0));
    TensorList big = {rnd({300000}, dt, 36), strided({70000}, dt, 37), rnd({5}, dt, 38)};
    require_equal(concat(big, 0), ref_concat(refs(big), 0));
    TensorList rows = {rnd({400, 300}, dt, 39), transposed({400, 200}, dt, 40)};
    require_equal(concat(rows, 1), ref_concat(refs(rows), 1));
    require_equal(stack({rows[0], rows[0]}, 1), ref_stack({ref_of(rows[0]), ref_of(rows[0])}, 1));
  }
}

TEST_CASE("forward: to_dtype", "[forward]") {
  Tensor x64 = strided({3, 4}, DType::F64, 30, -3.0, 3.0);
  Ref r64 = ref_of(x64);
  Tensor x32 = to_dtype(x64, DType::F32);
  CHECK(x32.dtype() == DType::F32);
  CHECK(x32.requires_grad());  // recorded: a float -> float conversion is differentiable
  require_equal(x32, ref_map(r64, [](double v) { return double(float(v)); }));
  Tensor back = to_dtype(x32, DType::F64);
  CHECK(back.dtype() == DType::F64);
  require_equal(back, ref_of(x32));
  require_equal(to_dtype(x64, DType::I64), ref_map(r64, [](double v) { return double(int64_t(v)); }));
  Tensor i = from_vector(std::vector<int64_t>{-3, 0, 7, 1 << 20});
  require_equal(to_dtype(i, DType::F32), Ref({4}, {-3, 0, 7, double(1 << 20)}));
  Tensor t32 = transposed({2, 3}, DType::F32, 31);
  require_equal(to_dtype(t32, DType::F64), ref_of(t32));
  CHECK(to_dtype(x64, DType::F64).is_same(x64));  // same dtype: the input itself
}

// ===================================================================================
// indexing
// ===================================================================================

TEST_CASE("forward: index_select", "[forward]") {
  for (DType dt : kFloatTypes) {
    INFO(dtype_name(dt));
    Tensor x = strided({4, 5, 3}, dt, 32);
    Ref rx = ref_of(x);
    auto check = [&](int64_t dim, const std::vector<int64_t>& iv) {
      INFO("dim " << dim);
      const int64_t d = norm_dim(dim, 3);
      Tensor index = from_vector(iv);
      Shape shape = rx.shape;
      shape[d] = int64_t(iv.size());
      Ref want(shape);
      for_each_index(shape, [&](const Shape& idx) {
        Shape src = idx;
        src[d] = iv[size_t(idx[d])];
        want[idx] = rx.at(src);
      });
      require_equal(index_select(x, dim, index), want);
    };
    check(0, {3, 0, 0, 2});
    check(1, {4, 1, 1, 0, 2, 3});
    check(2, {2});
    check(-1, {1, 0, 2, 2});
    check(-2, {0, 4});
    // a non-contiguous index
    Tensor t = transposed({2, 3}, dt, 33);
    Tensor idx = kernels::slice(from_vector(std::vector<int64_t>{9, 1, 9, 0, 9, 1}), 0, 1, 6, 2);
    Ref rt = ref_of(t);
    Ref want({2, 3});
    for_each_index(want.shape, [&](const Shape& i) { want[i] = rt.at({i[0], std::vector<int64_t>{1, 0, 1}[i[1]]}); });
    require_equal(index_select(t, 1, idx), want);
  }
}

TEST_CASE("forward: gather", "[forward]") {
  for (DType dt : kFloatTypes) {
    INFO(dtype_name(dt));
    auto check = [&](const Tensor& x, int64_t dim, const Tensor& index) {
      INFO("x " << shape_str(x.shape()) << " dim " << dim << " index " << shape_str(index.shape()));
      const int64_t d = norm_dim(dim, x.dim());
      Ref rx = ref_of(x), ri = ref_of(index);
      Ref want(index.shape());
      for_each_index(index.shape(), [&](const Shape& idx) {
        Shape src = idx;
        src[d] = int64_t(ri.at(idx));
        want[idx] = rx.at(src);
      });
      require_equal(gather(x, dim, index), want);
    };
    Tensor x = strided({4, 5}, dt, 34);
    check(x, 0, rand_index({3, 4}, 4, 35));
    check(x, 0, rand_index({6, 5}, 4, 36));  // index longer than x along dim
    check(x, 1, rand_index({4, 3}, 5, 37));
    check(x, -1, rand_index({2, 7}, 5, 38));
    Tensor y = transposed({3, 4, 5}, dt, 39);
    check(y, 1, rand_index({2, 3, 5}, 4, 40));
    check(y, 2, rand_index({3, 4, 2}, 5, 41));
    check(y, 0, kernels::transpose(rand_index({5, 4, 2}, 3, 42), 0, 2));  // non-contiguous index
  }
}

TEST_CASE("forward: scatter_add accumulates repeated indices", "[forward]") {
  for (DType dt : kFloatTypes) {
    INFO(dtype_name(dt));
    auto check = [&](const Tensor& base, int64_t dim, const Tensor& index, const Tensor& src) {
      INFO("base " << shape_str(base.shape()) << " dim " << dim << " index " << shape_str(index.shape()));
      const int64_t d = norm_dim(dim, base.dim());
      Ref want = ref_of(base), ri = ref_of(index), rs = ref_of(src);
      for_each_index(index.shape(), [&](const Shape& idx) {
        Shape dst = idx;
        dst[d] = int64_t(ri.at(idx));
        want[dst] += rs.at(idx);
      });
      require_close(scatter_add(base, dim, index, src), want, default_tol(dt));
    };
    check(strided({4, 5}, dt, 43), 0, rand_index({6, 5}, 4, 44), rnd({6, 5}, dt, 45));
    check(rnd({4, 5}, dt, 46), 1, rand_index({4, 9}, 5, 47), transposed({4, 9}, dt, 48));
    check(rnd({4, 5}, dt, 49), -1, rand_index({3, 2}, 5, 50), rnd({4, 6}, dt, 51));  // src larger than index
    check(transposed({3, 4, 2}, dt, 52), 1, rand_index({3, 8, 2}, 4, 53), strided({3, 8, 2}, dt, 54));
    // large: several column blocks and many repeated rows, run in parallel
    check(rnd({3, 1500}, dt, 57), 0, rand_index({50, 1500}, 3, 58), rnd({50, 1500}, dt, 59));
    // all to one slot
    Tensor base = rnd({3}, dt, 55);
    Tensor src = rnd({5}, dt, 56);
    check(base, 0, from_vector(std::vector<int64_t>{1, 1, 1, 1, 1}), src);
  }
}

// ===================================================================================
// elementwise
// ===================================================================================

namespace {
struct BinCase {
  const char* name;
  std::function<Tensor(const Tensor&, const Tensor&)> op;
  std::function<double(double, double)> ref;
};

// Pairs of operands: same shape, broadcast both ways, non-contiguous, 0-d, expanded.
std::vector<std::pair<Tensor, Tensor>> binary_operands(DType dt, uint64_t seed, double blo, double bhi) {
  std::vector<std::pair<Tensor, Tensor>> v;
  v.push_back({rnd({3, 4}, dt, seed), rnd({3, 4}, dt, seed + 1, blo, bhi)});
  v.push_back({rnd({3, 1, 5}, dt, seed + 2), rnd({4, 1}, dt, seed + 3, blo, bhi)});
  v.push_back({transposed({4, 5}, dt, seed + 4), strided({4, 5}, dt, seed + 5, blo, bhi)});
  v.push_back({strided({1, 5}, dt, seed + 6), transposed({4, 5}, dt, seed + 7, blo, bhi)});
  v.push_back({rnd({}, dt, seed + 8), strided({2, 3}, dt, seed + 9, blo, bhi)});
  v.push_back({transposed({2, 3}, dt, seed + 10), rnd({}, dt, seed + 11, blo, bhi)});
  v.push_back({leaf(kernels::expand(random_tensor({3, 1}, dt, seed + 12), {3, 4})), rnd({4}, dt, seed + 13, blo, bhi)});
  v.push_back({rnd({2, 3, 4, 5}, dt, seed + 14), transposed({3, 1, 5}, dt, seed + 15, blo, bhi)});
  v.push_back({rnd({300, 130}, dt, seed + 16), strided({130}, dt, seed + 17, blo, bhi)});  // >32k elems: threaded rows
  v.push_back({transposed({300, 130}, dt, seed + 18), rnd({300, 1}, dt, seed + 19, blo, bhi)});
  return v;
}
}  // namespace

TEST_CASE("forward: add, sub, mul, div with broadcasting and strided operands", "[forward]") {
  std::vector<BinCase> cases = {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }, [](double a, double b) { return a + b; }},
      {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }, [](double a, double b) { return a - b; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }, [](double a, double b) { return a * b; }},
      {"div", [](const Tensor& a, const Tensor& b) { return div(a, b); }, [](double a, double b) { return a / b; }},
      {"operator+", [](const Tensor& a, const Tensor& b) { return a + b; }, [](double a, double b) { return a + b; }},
      {"operator-", [](const Tensor& a, const Tensor& b) { return a - b; }, [](double a, double b) { return a - b; }},
      {"operator*", [](const Tensor& a, const Tensor& b) { return a * b; }, [](double a, double b) { return a * b; }},
      {"operator/", [](const Tensor& a, const Tensor& b) { return a / b; }, [](double a, double b) { return a / b; }},
  };
  for (DType dt : kFloatTypes) {
    for (const BinCase& c : cases) {
      const bool is_div = std::string(c.name).find("div") != std::string::npos || std::string(c.name) == "operator/";
      uint64_t seed = 100;
      for (auto& [a, b] : binary_operands(dt, seed, is_div ? 0.5 : -1.0, is_div ? 2.0 : 1.0)) {
        INFO(c.name << " " << dtype_name(dt) << ": " << shape_str(a.shape()) << " and " << shape_str(b.shape()));
        Tensor y = c.op(a, b);
        CHECK(y.dtype() == dt);
        require_close(y, ref_map2(ref_of(a), ref_of(b), c.ref), default_tol(dt));
        // the swapped order too (broadcasting is symmetric)
        if (!is_div) require_close(c.op(b, a), ref_map2(ref_of(b), ref_of(a), c.ref), default_tol(dt));
      }
    }
  }
}

TEST_CASE("forward: add_scalar, mul_scalar and scalar operators", "[forward]") {
  for (DType dt : kFloatTypes) {
    INFO(dtype_name(dt));
    const double tol = default_tol(dt);
    for (const Tensor& x : {rnd({3, 4}, dt, 60), strided({3, 4}, dt, 61), transposed({2, 5}, dt, 62)}) {
      Ref rx = ref_of(x);
      // f32 kernels round the scalar to f32 first
      auto S = [&](double s) { return dt == DType::F32 ? double(float(s)) : s; };
      require_close(add_scalar(x, 2.5), ref_map(rx, [&](double v) { return v + 2.5; }), tol);
      require_close(add_scalar(x, -0.1), ref_map(rx, [&](double v) { return v + S(-0.1); }), tol);
      require_close(mul_scalar(x, -3.0), ref_map(rx, [&](double v) { return v * -3.0; }), tol);
      require_close(mul_scalar(x, 0.1), ref_map(rx, [&](double v) { return v * S(0.1); }), tol);
      require_close(x + 1.5, ref_map(rx, [&](double v) { return v + 1.5; }), tol);
      require_close(x - 1.5, ref_map(rx, [&](double v) { return v - 1.5; }), tol);
      require_close(1.5 - x, ref_map(rx, [&](double v) { return 1.5 - v; }), tol);
      require_close(2.0 * x, ref_map(rx, [&](double v) { return 2.0 * v; }), tol);
      require_close(x / 4.0, ref_map(rx, [&](double v) { return v / 4.0; }), tol);
      require_close(-x, ref_map(rx, [&](double v) { return -v; }), 0.0);
    }
    Tensor p = rnd({5}, dt, 63, 0.5, 2.0);
    require_close(3.0 / p, ref_map(ref_of(p), [](double v) { return 3.0 / v; }), tol);
  }
}

namespace {
struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> ref;
  double lo, hi;
};

double gelu_ref(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

std::vector<UnaryCase> unary_cases() {
  return {
      {"neg", [](const Tensor& x) { return neg(x); }, [](double v) { return -v; }, -2, 2},
      {"exp", [](const Tensor& x) { return exp(x); }, [](double v) { return std::exp(v); }, -5, 5},
      {"log", [](const Tensor& x) { return log(x); }, [](double v) { return std::log(v); }, 0.05, 5},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, [](double v) { return std::sqrt(v); }, 0.0, 4},
      {"rsqrt", [](const Tensor& x) { return rsqrt(x); }, [](double v) { return 1.0 / std::sqrt(v); }, 0.1, 4},
      {"abs", [](const Tensor& x) { return abs(x); }, [](double v) { return std::fabs(v); }, -2, 2},
      {"tanh", [](const Tensor& x) { return tanh(x); }, [](double v) { return std::tanh(v); }, -4, 4},
      {"tanh (small)", [](const Tensor& x) { return tanh(x); }, [](double v) { return std::tanh(v); }, -0.2, 0.2},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, [](double v) { return 1.0 / (1.0 + std::exp(-v)); }, -8, 8},
      {"relu", [](const Tensor& x) { return relu(x); }, [](double v) { return v > 0 ? v : 0.0; }, -2, 2},
      {"gelu", [](const Tensor& x) { return gelu(x); }, gelu_ref, -5, 5},
      {"pow 2", [](const Tensor& x) { return pow(x, 2.0); }, [](double v) { return v * v; }, -2, 2},
      {"pow 3", [](const Tensor& x) { return pow(x, 3.0); }, [](double v) { return v * v * v; }, -2, 2},
      {"pow 0.5", [](const Tensor& x) { return pow(x, 0.5); }, [](double v) { return std::sqrt(v); }, 0.0, 4},
      {"pow -1", [](const Tensor& x) { return pow(x, -1.0); }, [](double v) { return 1.0 / v; }, 0.2, 3},
      {"pow 1.7", [](const Tensor& x) { return pow(x, 1.7); }, [](double v) { return std::pow(v, 1.7); }, 0.0, 3},
      {"pow -2.5", [](const Tensor& x) { return pow(x, -2.5); }, [](double v) { return std::pow(v, -2.5); }, 0.3, 3},
      {"pow 0", [](const Tensor& x) { return pow(x, 0.0); }, [](double v) { return 1.0; }, -2, 2},
  };
}
}  // namespace

TEST_CASE("forward: unary math on contiguous, strided, transposed and expanded inputs", "[forward]") {
  uint64_t seed = 200;
  for (DType dt : kFloatTypes) {
    for (const UnaryCase& c : unary_cases()) {
      std::vector<Tensor> inputs = {
          rnd({4, 7}, dt, seed++, c.lo, c.hi), strided({3, 5}, dt, seed++, c.lo, c.hi),
          transposed({2, 3, 6}, dt, seed++, c.lo, c.hi),
          leaf(kernels::expand(random_tensor({3, 1}, dt, seed++, c.lo, c.hi), {2, 3, 4})),
          rnd({}, dt, seed++, c.lo, c.hi),
          rnd({40000}, dt, seed++, c.lo, c.hi)};  // long row: the threaded path
      for (const Tensor& x : inputs) {
        INFO(c.name << " " << dtype_name(dt) << " on " << shape_str(x.shape()) << (x.is_contiguous() ? "" : " (strided)"));
        Tensor y = c.op(x);
        CHECK(y.dtype() == dt);
        require_close(y, ref_map(ref_of(x), c.ref), default_tol(dt));
      }
    }
  }
}

TEST_CASE("forward: f32 exp, tanh, sigmoid and gelu accuracy over wide ranges", "[forward]") {
  // dense grids through every binade that matters; exp checked in relative error
  std::vector<double> xs;
  for (double v = -87.0; v <= 88.0; v += 0.01) xs.push_back(v);
  Tensor x = tensor_of(xs, {int64_t(xs.size())}, DType::F32);
  std::vector<double> rx = ref_values(x), y = ref_values(exp(x));
  double worst = 0;
  for (size_t i = 0; i < xs.size(); ++i) worst = std::max(worst, std::fabs(y[i] - std::exp(rx[i])) / std::exp(rx[i]));
  INFO("max relative error of f32 exp over [-87, 88]: " << worst);
  CHECK(worst < 1e-6);

  std::vector<double> gs;
  for (double v = -10.0; v <= 10.0; v += 0.001) gs.push_back(v);
  Tensor g = tensor_of(gs, {int64_t(gs.size())}, DType::F32);
  Ref rg = ref_of(g);
  require_close(gelu(g), ref_map(rg, gelu_ref), 2e-6);
  require_close(tanh(g), ref_map(rg, [](double v) { return std::tanh(v); }), 2e-6);
  require_close(sigmoid(g), ref_map(rg, [](double v) { return 1.0 / (1.0 + std::exp(-v)); }), 2e-6);
  // saturation and special values
  Tensor s = from_vector(std::vector<float>{-INFINITY, INFINITY, -200.f, 200.f, 0.f});
  require_close(exp(s), Ref({5}, {0.0, INFINITY, 0.0, INFINITY, 1.0}), 0.0);
  require_close(tanh(s), Ref({5}, {-1.0, 1.0, -1.0, 1.0, 0.0}), 0.0);
  require_close(sigmoid(s), Ref({5}, {0.0, 1.0, 0.0, 1.0, 0.5}), 0.0);
  require_close(gelu(kernels::slice(s, 0, 1, 5)), Ref({4}, {INFINITY, 0.0, 200.0, 0.0}), 0.0);
  Tensor nan = from_vector(std::vector<float>{NAN});
  CHECK(std::isnan(exp(nan).item<float>()));
  CHECK(std::isnan(tanh(nan).item<float>()));
}

TEST_CASE("forward: where with broadcast condition and operands", "[forward]") {
  for (DType dt : kFloatTypes) {
    INFO(dtype_name(dt));
    auto check = [&](const Tensor& c, const Tensor& a, const Tensor& b) {
      INFO(shape_str(c.shape()) << ", " << shape_str(a.shape()) << ", " << shape_str(b.shape()));
      Ref rc = ref_of(c), ra = ref_of(a), rb = ref_of(b);
      Ref want(broadcast_shape(broadcast_shape(rc.shape, ra.shape), rb.shape));
      for_each_index(want.shape, [&](const Shape& i) {
        want[i] = rc.at_broadcast(i) != 0.0 ? ra.at_broadcast(i) : rb.at_broadcast(i);
      });
      require_equal(where(c, a, b), want);
    };
    check(random_bool({3, 4}, 300), rnd({3, 4}, dt, 301), rnd({3, 4}, dt, 302));
    check(random_bool({3, 1}, 303), rnd({1, 4}, dt, 304), transposed({3, 4}, dt, 305));
    check(kernels::slice(random_bool({2, 9}, 306), 1, 0, 9, 2), strided({2, 5}, dt, 307), rnd({}, dt, 308));
    check(random_bool({4}, 309), rnd({2, 3, 1}, dt, 310), strided({3, 4}, dt, 311));
    // condition from a comparison
    Tensor a = rnd({5, 6}, dt, 312), b = transposed({5, 6}, dt, 313);
    check(gt(a, b), a, b);
  }
}

TEST_CASE("forward: clamp", "[forward]") {
  for (DType dt : kFloatTypes) {
    INFO(dtype_name(dt));
    for (const Tensor& x : {rnd({4, 5}, dt, 320, -2, 2), strided({3, 6}, dt, 321, -2, 2)}) {
      Ref rx = ref_of(x);
      const double lo = dt == DType::F32 ? double(float(-0.3)) : -0.3;
      const double hi = dt == DType::F32 ? double(float(0.7)) : 0.7;
      require_equal(clamp(x, -0.3, 0.7), ref_map(rx, [&](double v) { return std::min(std::max(v, lo), hi); }));
      require_equal(clamp(x, -0.3, std::nullopt), ref_map(rx, [&](double v) { return std::max(v, lo); }));
      require_equal(clamp(x, std::nullopt, 0.7), ref_map(rx, [&](double v) { return std::min(v, hi); }));
      require_equal(clamp(x, std::nullopt, std::nullopt), rx);
    }
  }
}

// ===================================================================================
// reductions
// ===================================================================================

TEST_CASE("forward: sum, mean, amax, amin, var over dim sets", "[forward]") {
  const std::vector<Shape> dim_sets = {{}, {0}, {1}, {2}, {-1}, {0, 2}, {-3, -1}, {1, 2}, {2, 0}, {0, 1, 2}};
  for (DType dt : kFloatTypes) {
    const double tol = default_tol(dt);
    std::vector<Tensor> inputs = {rnd({3, 4, 5}, dt, 400), transposed({3, 4, 5}, dt, 401),
                                  leaf(kernels::permute(random_tensor({5, 3, 4}, dt, 402), {1, 2, 0})),
                                  strided({3, 4, 5}, dt, 403),
                                  leaf(kernels::expand(random_tensor({3, 1, 5}, dt, 404), {3, 4, 5}))};
    for (const Tensor& x : inputs) {
      Ref rx = ref_of(x);
      for (const Shape& dims : dim_sets) {
        for (bool keepdim : {false, true}) {
          INFO(dtype_name(dt) << " x " << shape_str(x.shape()) << " strides " << shape_str(x.strides())
                              << " dims " << shape_str(dims) << " keepdim " << keepdim);
          require_close(sum(x, dims, keepdim), ref_reduce(rx, dims, keepdim, Red::Sum), tol);
          require_close(mean(x, dims, keepdim), ref_reduce(rx, dims, keepdim, Red::Mean), tol);
          require_equal(amax(x, dims, keepdim), ref_reduce(rx, dims, keepdim, Red::Max));
          require_equal(amin(x, dims, keepdim), ref_reduce(rx, dims, keepdim, Red::Min));
          require_close(var(x, dims, 1, keepdim), ref_reduce(rx, dims, keepdim, Red::Var, 1), tol);
          require_close(var(x, dims, 0, keepdim), ref_reduce(rx, dims, keepdim, Red::Var, 0), tol);
        }
      }
    }
    // defaults: all dims, no keepdim -> 0-d
    Tensor x = rnd({2, 3}, dt, 405);
    CHECK(sum(x).dim() == 0);
    require_close(sum(x), ref_reduce(ref_of(x), {}, false, Red::Sum), tol);
    require_close(var(x), ref_reduce(ref_of(x), {}, false, Red::Var, 1), tol);
    // a 0-d input and size-1 dims
    Tensor z = rnd({}, dt, 406);
    require_equal(sum(z), ref_of(z));
    require_equal(amax(z), ref_of(z));
    Tensor o = rnd({1, 4, 1}, dt, 407);
    require_close(sum(o, {0, 2}), ref_reduce(ref_of(o), {0, 2}, false, Red::Sum), tol);
    require_close(mean(o, {1}, true), ref_reduce(ref_of(o), {1}, true, Red::Mean), tol);
    // empty inputs: sums are 0
    require_equal(sum(rnd({0, 3}, dt, 408), {0}), Ref({3}, 0.0));
    require_equal(sum(rnd({2, 0}, dt, 409)), Ref({}, 0.0));
    CHECK(amax(rnd({0, 3}, dt, 410), {1}).shape() == Shape{0});
  }
}

TEST_CASE("forward: reductions on random shapes, layouts and dim sets", "[forward]") {
  std::mt19937_64 rng(2718);
  for (int trial = 0; trial < 300; ++trial) {
    const DType dt = trial % 2 ? DType::F64 : DType::F32;
    const Shape shape = random_shape(rng);
    Tensor x = leaf(random_layout(shape, dt, rng));
    const int64_t nd = x.dim();
    Shape dims;
    for (int64_t d = 0; d < nd; ++d)
      if (rng() % 2) dims.push_back(rng() % 2 ? d : d - nd);
    std::shuffle(dims.begin(), dims.end(), rng);
    const bool keepdim = rng() % 2;
    INFO("trial " << trial << " " << dtype_name(dt) << " x " << shape_str(shape) << " strides "
                  << shape_str(x.strides()) << " dims " << shape_str(dims) << " keepdim " << keepdim);
    Ref rx = ref_of(x);
    require_close(sum(x, dims, keepdim), ref_reduce(rx, dims, keepdim, Red::Sum), default_tol(dt));
    require_close(mean(x, dims, keepdim), ref_reduce(rx, dims, keepdim, Red::Mean), default_tol(dt));
    require_equal(amax(x, dims, keepdim), ref_reduce(rx, dims, keepdim, Red::Max));
    require_equal(amin(x, dims, keepdim), ref_reduce(rx, dims, keepdim, Red::Min));
    require_close(var(x, dims, 0, keepdim), ref_reduce(rx, dims, keepdim, Red::Var, 0), default_tol(dt));
    if (nd > 0) {
      const int64_t d = int64_t(rng() % uint64_t(nd));
      Ref want = ref_reduce(rx, {d}, keepdim, Red::Max);
      auto [values, indices] = max(x, d, keepdim);
      require_equal(values, want);
      // the index points at the first maximal element
      Ref ri = ref_of(indices);
        Shape outer = shape;
      outer[d] = 1;
      std::vector<double> firsts;
      for_each_index(outer, [&](const Shape& idx) {
        Shape j = idx;
        int64_t best = 0;
        Shape b = idx;
        for (j[d] = 0; j[d] < shape[d]; ++j[d]) {
          b[d] = best;
          if (rx.at(j) > rx.at(b)) best = j[d];
        }
        firsts.push_back(double(best));
      });
      require_equal(indices, Ref(want.shape, firsts));
      // min: the first minimal element
      auto [mvals, midx] = min(x, d, keepdim);
      require_equal(mvals, ref_reduce(rx, {d}, keepdim, Red::Min));
      std::vector<double> mfirsts;
      for_each_index(outer, [&](const Shape& idx) {
        Shape j = idx, b = idx;
        int64_t best = 0;
        for (j[d] = 0; j[d] < shape[d]; ++j[d]) {
          b[d] = best;
          if (rx.at(j) < rx.at(b)) best = j[d];
        }
        mfirsts.push_back(double(best));
      });
      require_equal(midx, Ref(want.shape, mfirsts));
      require_equal(argmin(x, d - nd, keepdim), Ref(want.shape, mfirsts));
    }
  }
}

TEST_CASE("forward: binary ops on random broadcast shapes and layouts", "[forward]") {
  std::mt19937_64 rng(31415);
  for (int trial = 0; trial < 300; ++trial) {
    const DType dt = trial % 2 ? DType::F64 : DType::F32;
    const Shape out = random_shape(rng);
    auto operand_shape = [&] {
      Shape s(out.begin() + int64_t(rng() % (out.size() + 1)), out.end());  // drop leading dims
      for (auto& d : s)
        if (rng() % 3 == 0) d = 1;
      return s;
    };
    Tensor a = leaf(random_layout(operand_shape(), dt, rng));
    Tensor b = leaf(random_layout(operand_shape(), dt, rng, 0.5, 2.0));
    INFO("trial " << trial << " " << dtype_name(dt) << " a " << shape_str(a.shape()) << " strides "
                  << shape_str(a.strides()) << ", b " << shape_str(b.shape()) << " strides " << shape_str(b.strides()));
    Ref ra = ref_of(a), rb = ref_of(b);
    const double tol = default_tol(dt);
    require_close(add(a, b), ref_map2(ra, rb, [](double u, double v) { return u + v; }), tol);
    require_close(sub(b, a), ref_map2(rb, ra, [](double u, double v) { return u - v; }), tol);
    require_close(mul(a, b), ref_map2(ra, rb, [](double u, double v) { return u * v; }), tol);
    require_close(div(a, b), ref_map2(ra, rb, [](double u, double v) { return u / v; }), tol);
    Ref rc = ref_map2(ra, rb, [](double u, double v) { return u > v - 1.0 ? 1.0 : 0.0; });
    Tensor cond = gt(a, add_scalar(b, -1.0));
    require_equal(where(cond, a, b), [&] {
      Ref w(rc.shape);
      for_each_index(w.shape, [&](const Shape& i) { w[i] = rc.at(i) != 0 ? ra.at_broadcast(i) : rb.at_broadcast(i); });
      return w;
    }());
  }
}

TEST_CASE("forward: reductions over large rows and columns (chunked paths)", "[forward]") {
  for (DType dt : kFloatTypes) {
    const double tol = default_tol(dt);
    struct C { Shape shape; Shape dims; };
    for (const C& c : std::vector<C>{{{3, 20000}, {1}}, {{600, 7}, {0}}, {{5, 600, 300}, {1}}, {{40000}, {}},
                                     {{2, 9000, 3}, {0, 1}}}) {
      INFO(dtype_name(dt) << " " << shape_str(c.shape) << " dims " << shape_str(c.dims));
      Tensor x = rnd(c.shape, dt, 410 + c.shape.size());
      Ref rx = ref_of(x);
      require_close(sum(x, c.dims), ref_reduce(rx, c.dims, false, Red::Sum), tol);
      require_close(mean(x, c.dims, true), ref_reduce(rx, c.dims, true, Red::Mean), tol);
      require_equal(amax(x, c.dims), ref_reduce(rx, c.dims, false, Red::Max));
      require_equal(amin(x, c.dims), ref_reduce(rx, c.dims, false, Red::Min));
      require_close(var(x, c.dims), ref_reduce(rx, c.dims, false, Red::Var, 1), tol);
    }
  }
}

TEST_CASE("forward: amax ties, argmax/argmin ties resolve to the lowest index, max/min return values and indices", "[forward]") {
  for (DType dt : kFloatTypes) {
    INFO(dtype_name(dt));
    Tensor x = leaf(tensor_of({1, 3, 3, 2, 5, 5, 5, 5, -1, -2, -1, -2}, {3, 4}, dt));
    require_equal(amax(x, {1}), Ref({3}, {3, 5, -1}));
    require_equal(amin(x, {1}), Ref({3}, {1, 5, -2}));
    require_equal(amax(x), Ref({}, {5}));
    require_equal(argmax(x, 1), Ref({3}, {1, 0, 0}));
    require_equal(argmax(x, -1, true), Ref({3, 1}, {1, 0, 0}));
    require_equal(argmax(x, 0), Ref({4}, {1, 1, 1, 1}));
    auto [values, indices] = max(x, 1);
    CHECK(indices.dtype() == DType::I64);
    require_equal(values, Ref({3}, {3, 5, -1}));
    require_equal(indices, Ref({3}, {1, 0, 0}));
    auto [vk, ik] = max(x, 0, true);
    require_equal(vk, Ref({1, 4}, {5, 5, 5, 5}));
    require_equal(ik, Ref({1, 4}, {1, 1, 1, 1}));
    // min / argmin: ties also resolve to the lowest index
    require_equal(argmin(x, 1), Ref({3}, {0, 0, 1}));
    require_equal(argmin(x, 0, true), Ref({1, 4}, {2, 2, 2, 2}));
    auto [mv, mi] = min(x, 1);
    require_equal(mv, Ref({3}, {1, 5, -2}));
    require_equal(mi, Ref({3}, {0, 0, 1}));

    // column ties: [[5, 1], [5, 2]] -> argmax over dim 0 = [0, 1]
    Tensor c = leaf(tensor_of({5, 1, 5, 2}, {2, 2}, dt));
    require_equal(argmax(c, 0), Ref({2}, {0, 1}));
    // a transposed input: argmax along its dim 1 is along memory dim 0
    Tensor t = kernels::transpose(tensor_of({0, 7, 7, 0, 7, 0}, {3, 2}, dt), 0, 1);  // (2, 3)
    require_equal(argmax(t, 1), Ref({2}, {1, 0}));
    auto [tv, ti] = max(t, 1);
    require_equal(tv, Ref({2}, {7, 7}));
    require_equal(ti, Ref({2}, {1, 0}));

    // long rows: ties in different accumulator lanes and different chunks
    std::vector<double> row(20000, 0.0);
    for (int64_t i : {8195, 20, 9, 15000}) row[size_t(i)] = 3.0;
    Tensor r = tensor_of(row, {1, 20000}, dt);
    require_equal(argmax(r, 1), Ref({1}, {9}));
    require_equal(amax(r, {1}), Ref({1}, {3}));
    require_equal(argmax(tensor_of(std::vector<double>(20000, 1.0), {20000}, dt), 0), Ref({}, {0}));
    // long columns: ties across column chunks
    std::vector<double> col(600 * 3, 0.0);
    for (int64_t i : {400, 100, 599}) col[size_t(i * 3 + 1)] = 2.0;
    Tensor cc = tensor_of(col, {600, 3}, dt);
    require_equal(argmax(cc, 0), Ref({3}, {0, 100, 0}));
    auto [cv, ci] = max(cc, 0);
    require_equal(cv, Ref({3}, {0, 2, 0}));
    require_equal(ci, Ref({3}, {0, 100, 0}));
  }
}

TEST_CASE("forward: NaN propagates through amax/amin, argmax picks the first NaN", "[forward]") {
  for (DType dt : kFloatTypes) {
    INFO(dtype_name(dt));
    Tensor x = tensor_of({1, NAN, 3, NAN, 0, 2, 1, -1}, {2, 4}, dt);
    Ref mx = ref_of(amax(x, {1}));
    CHECK(std::isnan(mx.v[0]));
    CHECK(mx.v[1] == 2.0);
    CHECK(std::isnan(ref_of(amin(x, {1})).v[0]));
    CHECK(std::isnan(ref_of(amax(x)).v[0]));
    require_equal(argmax(x, 1), Ref({2}, {1, 1}));
    std::vector<double> row(20000, 0.0);
    row[20] = NAN;
    row[9] = NAN;
    row[5] = 1.0;
    Tensor r = tensor_of(row, {20000}, dt);
    require_equal(argmax(r, 0), Ref({}, 9.0));
    CHECK(std::isnan(ref_of(amax(r)).v[0]));
  }
}

TEST_CASE("forward: integer sum and amax", "[forward]") {
  Tensor x = from_vector(std::vector<int64_t>{1, -2, 3, 4, 5, -6}, {2, 3});
  require_equal(sum(x, {1}), Ref({2}, {2, 3}));
  require_equal(sum(x), Ref({}, {5}));
  require_equal(amax(x, {0}), Ref({3}, {4, 5, 3}));
  require_equal(argmax(x, 1), Ref({2}, {2, 1}));
}

// ===================================================================================
// linear algebra and nn
// ===================================================================================

TEST_CASE("forward: matmul 2-d, batched with broadcast batch dims, 1-d promotion, strided operands", "[forward]") {
  for (DType dt : kFloatTypes) {
    struct C { const char* what; Tensor a, b; };
    std::vector<C> cases = {
        {"2-d", rnd({5, 7}, dt, 500), rnd({7, 3}, dt, 501)},
        {"2-d, 1x1 inner", rnd({4, 1}, dt, 502), rnd({1, 6}, dt, 503)},
        {"transposed a", transposed({5, 7}, dt, 504), rnd({7, 3}, dt, 505)},
        {"transposed b", rnd({5, 7}, dt, 506), transposed({7, 3}, dt, 507)},
        {"both transposed", transposed({6, 4}, dt, 508), transposed({4, 5}, dt, 509)},
        {"strided a and b", strided({5, 7}, dt, 510), strided({7, 3}, dt, 511)},
        {"permuted a", leaf(kernels::permute(random_tensor({7, 2, 5}, dt, 512), {1, 2, 0})), rnd({7, 3}, dt, 513)},
        {"batched", rnd({3, 4, 6}, dt, 514), rnd({3, 6, 5}, dt, 515)},
        {"batch broadcast", rnd({2, 1, 4, 6}, dt, 516), rnd({3, 6, 5}, dt, 517)},
        {"batch broadcast both", rnd({2, 1, 4, 6}, dt, 518), transposed({1, 3, 6, 5}, dt, 519)},
        {"batched @ 2-d", transposed({2, 3, 4, 6}, dt, 520), rnd({6, 5}, dt, 521)},
        {"2-d @ batched", rnd({4, 6}, dt, 522), strided({3, 6, 5}, dt, 523)},
        {"expanded batch", leaf(kernels::expand(random_tensor({1, 4, 6}, dt, 524), {3, 4, 6})), rnd({3, 6, 2}, dt, 525)},
        {"1-d @ 2-d", rnd({7}, dt, 526), rnd({7, 3}, dt, 527)},
        {"2-d @ 1-d", transposed({5, 7}, dt, 528), strided({7}, dt, 529)},
        {"1-d @ 1-d", rnd({7}, dt, 530), strided({7}, dt, 531)},
        {"1-d @ batched", rnd({6}, dt, 532), rnd({2, 6, 5}, dt, 533)},
        {"batched @ 1-d", rnd({2, 4, 6}, dt, 534), rnd({6}, dt, 535)},
        {"larger", rnd({65, 130}, dt, 536), transposed({130, 33}, dt, 537)},
        {"larger batched", strided({3, 40, 70}, dt, 538), rnd({70, 50}, dt, 539)},
        // > 4 MFLOP: the GEMM is split into parallel row blocks / column blocks
        {"split rows", rnd({300, 100}, dt, 540), rnd({100, 70}, dt, 541)},
        {"split cols", transposed({60, 100}, dt, 542), rnd({100, 400}, dt, 543)},
        // batch folded into M (contiguous batched a, one shared b), with a padded row stride
        {"folded batch", rnd({3, 4, 6}, dt, 544), transposed({6, 5}, dt, 545)},
        {"folded batch, padded rows",
         leaf(kernels::narrow(random_tensor({2, 3, 5, 10}, dt, 546), -1, 2, 6)), rnd({6, 4}, dt, 547)},
        {"folded batch, row step 2",
         leaf(kernels::slice(random_tensor({3, 8, 6}, dt, 548), 1, 0, 8, 2)), rnd({6, 4}, dt, 549)},
        // batch dims that do not fold (permuted batch) and a broadcast b with batch dims
        {"permuted batch", leaf(kernels::permute(random_tensor({4, 3, 6}, dt, 550), {1, 0, 2})), rnd({6, 5}, dt, 551)},
        {"expanded b", rnd({2, 3, 4, 6}, dt, 552), leaf(kernels::expand(random_tensor({6, 5}, dt, 553), {3, 6, 5}))},
        {"a broadcast over b's batch", rnd({4, 6}, dt, 554), transposed({2, 3, 6, 5}, dt, 555)},
    };
    for (const C& c : cases) {
      INFO(dtype_name(dt) << " " << c.what << ": " << shape_str(c.a.shape()) << " @ " << shape_str(c.b.shape()));
      Tensor y = matmul(c.a, c.b);
      CHECK(y.dtype() == dt);
      const int64_t K = c.a.shape().back();
      const double tol = dt == DType::F32 ? 1e-6 * double(std::max<int64_t>(K, 10)) : 1e-12;
      require_close(y, ref_matmul(ref_of(c.a), ref_of(c.b)), tol);
    }
    // empty operands: K = 0 gives zeros, M = 0 or a zero batch gives an empty result
    require_equal(matmul(rnd({3, 0}, dt, 560), rnd({0, 4}, dt, 561)), Ref({3, 4}, 0.0));
    require_equal(matmul(rnd({2, 3, 0}, dt, 562), rnd({0, 4}, dt, 563)), Ref({2, 3, 4}, 0.0));
    CHECK(matmul(rnd({0, 3}, dt, 564), rnd({3, 4}, dt, 565)).shape() == Shape{0, 4});
    CHECK(matmul(rnd({0, 2, 3}, dt, 566), rnd({3, 4}, dt, 567)).shape() == Shape{0, 2, 4});
  }
}

TEST_CASE("forward: softmax and log_softmax over each dim", "[forward]") {
  for (DType dt : kFloatTypes) {
    const double tol = default_tol(dt);
    std::vector<Tensor> inputs = {rnd({3, 4, 5}, dt, 600, -3, 3), transposed({3, 4, 5}, dt, 601, -3, 3),
                                  strided({2, 3, 6}, dt, 602, -3, 3)};
    for (const Tensor& x : inputs) {
      for (int64_t d : {0, 1, 2, -1, -2}) {
        INFO(dtype_name(dt) << " x " << shape_str(x.shape()) << " dim " << d);
        Ref rx = ref_of(x);
        Tensor y = softmax(x, d);
        require_close(y, ref_softmax(rx, d, false), tol);
        require_close(log_softmax(x, d), ref_softmax(rx, d, true), tol);
        // rows sum to one
        require_close(sum(y, {d}), Ref(ref_reduce(rx, {d}, false, Red::Sum).shape, 1.0), tol);
      }
    }
    // 1-d, a wide row, and large logits (must not overflow)
    Tensor v = rnd({7}, dt, 603, -3, 3);
    require_close(softmax(v, 0), ref_softmax(ref_of(v), 0, false), tol);
    Tensor w = rnd({3, 5000}, dt, 604, -5, 5);
    require_close(softmax(w, 1), ref_softmax(ref_of(w), 1, false), tol);
    require_close(log_softmax(w, -1), ref_softmax(ref_of(w), 1, true), tol);
    Tensor big = leaf(tensor_of({1000, 999, -1000, 0, 50, 1000, 1000, -50}, {2, 4}, dt));
    require_close(softmax(big, 1), ref_softmax(ref_of(big), 1, false), tol);
    require_close(log_softmax(big, 1), ref_softmax(ref_of(big), 1, true), tol);
    require_close(softmax(big, 0), ref_softmax(ref_of(big), 0, false), tol);
    // -inf logits get probability 0 (log-probability -inf); a 0-d input is one row
    Tensor ninf = leaf(tensor_of({-INFINITY, 0.0, 1.0, -INFINITY, -INFINITY, 2.0}, {2, 3}, dt));
    require_close(softmax(ninf, 1), ref_softmax(ref_of(ninf), 1, false), tol);
    require_close(log_softmax(ninf, 1), ref_softmax(ref_of(ninf), 1, true), tol);
    Tensor z = rnd({}, dt, 605);
    require_equal(softmax(z, 0), Ref({}, 1.0));
    require_equal(log_softmax(z, -1), Ref({}, 0.0));
  }
}

TEST_CASE("forward: layer_norm with and without weight and bias", "[forward]") {
  const double eps = 1e-5;
  for (DType dt : kFloatTypes) {
    const double tol = dt == DType::F32 ? 2e-5 : 1e-12;
    std::vector<Tensor> inputs = {rnd({2, 3, 8}, dt, 700, -2, 2), transposed({4, 6}, dt, 701, -2, 2),
                                  strided({5, 7}, dt, 702, -2, 2), rnd({3, 300}, dt, 703, -2, 2),
                                  rnd({6}, dt, 704)};
    for (const Tensor& x : inputs) {
      const int64_t C = x.shape().back();
      INFO(dtype_name(dt) << " x " << shape_str(x.shape()));
      Tensor w = rnd({C}, dt, 710, 0.5, 1.5), b = strided({C}, dt, 711);
      Ref rx = ref_of(x), rw = ref_of(w), rb = ref_of(b);
      require_close(layer_norm(x, w, b, eps), ref_layer_norm(rx, &rw, &rb, eps), tol);
      require_close(layer_norm(x, Tensor(), Tensor(), eps), ref_layer_norm(rx, nullptr, nullptr, eps), tol);
      require_close(layer_norm(x, w, Tensor(), eps), ref_layer_norm(rx, &rw, nullptr, eps), tol);
      require_close(layer_norm(x, Tensor(), Tensor()), ref_layer_norm(rx, nullptr, nullptr, 1e-5), tol);
      require_close(layer_norm(x, w, b, 0.1), ref_layer_norm(rx, &rw, &rb, 0.1), tol);
    }
    // a constant row normalizes to zeros (plus bias)
    Tensor k = leaf(tensor_of(std::vector<double>(8, 3.0), {1, 8}, dt));
    Tensor b = rnd({8}, dt, 712);
    require_close(layer_norm(k, Tensor(), b, eps), Ref({1, 8}, ref_of(b).v), tol);
  }
}

TEST_CASE("forward: dropout statistics, scaling, eval mode and determinism", "[forward]") {
  for (DType dt : kFloatTypes) {
    INFO(dtype_name(dt));
    const int64_t n = 200000;
    for (double p : {0.1, 0.3, 0.5, 0.9}) {
      INFO("p = " << p);
      Tensor x = rnd({n / 500, 500}, dt, 800, 0.5, 1.5);  // no zeros in x
      Generator g(42);
      Tensor y = dropout(x, p, true, &g);
      CHECK(g.offset() == uint64_t(n));
      REQUIRE(y.shape() == x.shape());
      std::vector<double> xv = ref_values(x), yv = ref_values(y);
      int64_t kept = 0;
      double worst = 0;
      for (size_t i = 0; i < xv.size(); ++i) {
        if (yv[i] == 0.0) continue;
        ++kept;
        worst = std::max(worst, std::fabs(yv[i] - xv[i] / (1.0 - p)) / std::fabs(xv[i] / (1.0 - p)));
      }
      const double frac = double(kept) / double(n);
      const double sd = std::sqrt(p * (1 - p) / double(n));
      INFO("kept fraction " << frac);
      CHECK(std::fabs(frac - (1.0 - p)) < 5 * sd);
      CHECK(worst <= (dt == DType::F32 ? 3e-7 : 1e-15));
      // same generator state -> same mask; a different seed -> a different mask
      Generator g2(42), g3(43);
      require_equal(dropout(x, p, true, &g2), ref_of(y));
      std::vector<double> y3 = ref_values(dropout(x, p, true, &g3));
      CHECK(y3 != yv);
      // the generator advanced: a second draw differs
      CHECK(ref_values(dropout(x, p, true, &g)) != yv);
    }
    Tensor x = strided({30, 40}, dt, 801, 0.5, 1.5);
    // eval mode and p = 0 are the identity
    require_equal(dropout(x, 0.5, false), ref_of(x));
    require_equal(dropout(x, 0.0, true), ref_of(x));
    // a non-contiguous input keeps its logical layout
    Generator g(5);
    Tensor y = dropout(x, 0.25, true, &g);
    std::vector<double> xv = ref_values(x), yv = ref_values(y);
    for (size_t i = 0; i < xv.size(); ++i)
      if (yv[i] != 0.0) REQUIRE(std::fabs(yv[i] - xv[i] / 0.75) <= 1e-6 * std::fabs(xv[i]) * 2);
  }
}
