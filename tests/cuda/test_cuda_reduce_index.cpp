// cuda/reduce.cu, cuda/index.cu and cuda/adamw.cu against the host: reductions (sum/mean/max/min,
// argmax/argmin, var) over
// one, several and all dims, keepdim both ways, strided inputs and the split-extent paths; the
// index ops along every dim with repeated indices and device-side index validation; smoothed
// one-hot targets; and three AdamW steps against the formula of tensor/backend.h.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cuda/cuda_test_util.h"
#include "tensor/backend.h"
#include "tensor/creation.h"
#include "tensor/error.h"
#include "tensor/kernels.h"

using namespace shears;
using shears::test::gpu;
using shears::test::host_randn;
using shears::test::require_close;
using shears::test::require_equal;

namespace {

// Integer values in [lo, hi] (many ties) as a host tensor of `dtype`.
Tensor host_ints(const Shape& shape, int64_t lo, int64_t hi, uint64_t seed, DType dtype = DType::I64) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> v(static_cast<size_t>(shape_numel(shape)));
  for (auto& e : v) e = lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
  Tensor t = from_vector(v, shape);
  return dtype == DType::I64 ? t : kernels::to_dtype(t, dtype);
}

Tensor host_data(const Shape& shape, uint64_t seed, DType dtype) {
  return dtype == DType::I64 ? host_ints(shape, -50, 50, seed) : host_randn(shape, seed, dtype);
}

struct Tol {
  double rtol, atol;
};
Tol tol_of(DType t) { return t == DType::F64 ? Tol{1e-12, 1e-10} : Tol{1e-5, 1e-5}; }

// The message of the shears::Error `f` throws, or "no error".
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// A host tensor and the same tensor on the GPU, each viewed the same way (contiguous, transposed,
// sliced with a step): the GPU kernels read the strided views in place.
struct Pair {
  Tensor host, dev;
  std::string what;
};
std::vector<Pair> views_of(const Tensor& xh) {
  const Tensor xg = xh.to(gpu());
  std::vector<Pair> out{{xh, xg, "contiguous"}};
  if (xh.dim() >= 2) out.push_back({kernels::transpose(xh, 0, xh.dim() - 1), kernels::transpose(xg, 0, xg.dim() - 1),
                                    "transposed"});
  if (xh.dim() >= 2 && xh.shape()[1] >= 4)
    out.push_back({kernels::slice(xh, 1, 1, xh.shape()[1], 3), kernels::slice(xg, 1, 1, xg.shape()[1], 3),
                   "sliced with step 3"});
  return out;
}

const char* op_name(kernels::ReduceOp op) {
  switch (op) {
    case kernels::ReduceOp::Sum: return "sum";
    case kernels::ReduceOp::Mean: return "mean";
    case kernels::ReduceOp::Max: return "max";
    case kernels::ReduceOp::Min: return "min";
  }
  return "?";
}

std::string dims_str(const Shape& dims) { return dims.empty() ? std::string("all") : shape_str(dims); }

// One reduction on the GPU against the host (max/min exactly, sums within the dtype's tolerance).
void check_reduce(kernels::ReduceOp op, const Pair& x, const Shape& dims, bool keepdim) {
  const std::string what = std::string(op_name(op)) + " of " + x.what + " " + shape_str(x.host.shape()) + " " +
                           dtype_name(x.host.dtype()) + " over " + dims_str(dims) + (keepdim ? " keepdim" : "");
  Tensor expect = kernels::reduce(op, x.host, dims, keepdim);
  Tensor got = kernels::reduce(op, x.dev, dims, keepdim);
  REQUIRE(got.device() == gpu());
  if (op == kernels::ReduceOp::Max || op == kernels::ReduceOp::Min || x.host.dtype() == DType::I64) {
    require_close(got, expect, 0.0, 1e-300, what);  // exact, NaN matching NaN
  } else {
    const Tol t = tol_of(x.host.dtype());
    require_close(got, expect, t.rtol, t.atol, what);
  }
}

const kernels::ReduceOp kAllOps[] = {kernels::ReduceOp::Sum, kernels::ReduceOp::Mean, kernels::ReduceOp::Max,
                                     kernels::ReduceOp::Min};

}  // namespace

TEST_CASE("cuda reduce: sum/mean/max/min over one, several and all dims, strided, f32 and f64",
          "[cuda][reduce]") {
  const std::vector<Shape> dim_sets = {{0}, {1}, {2}, {-1}, {0, 2}, {2, 0}, {1, 2}, {0, 1}, {0, 1, 2}, {}};
  for (DType dt : {DType::F32, DType::F64}) {
    // dims of 6 (one thread per output), 40 and 50 (a warp or a column of threads per output)
    for (const Pair& x : views_of(host_randn({6, 40, 50}, 11, dt)))
      for (const Shape& dims : dim_sets)
        for (bool keepdim : {false, true})
          for (kernels::ReduceOp op : kAllOps) check_reduce(op, x, dims, keepdim);
  }
}

TEST_CASE("cuda reduce: large extents split across blocks (rows, columns, all)", "[cuda][reduce]") {
  struct Case {
    Shape shape;
    std::vector<Shape> dims;
  };
  const std::vector<Case> cases = {
      {{64, 50, 70}, {{0}, {2}, {0, 1}, {1, 2}, {}}},
      {{5000, 40}, {{0}, {1}}},   // few columns, a long reduced extent: split into chunks
      {{3, 70000}, {{1}, {0}}},   // few rows, long rows: split into chunks
      {{70000, 3}, {{0}}},        // three outputs down 70000 rows
      {{300000}, {{0}, {}}},      // everything into one
  };
  for (DType dt : {DType::F32, DType::F64})
    for (const Case& c : cases) {
      const Tensor xh = host_randn(c.shape, 5 + c.shape.size(), dt);
      const Pair x{xh, xh.to(gpu()), "contiguous"};
      for (const Shape& dims : c.dims)
        for (kernels::ReduceOp op : kAllOps) check_reduce(op, x, dims, false);
    }
}

TEST_CASE("cuda reduce: i64 sum/max/min are exact, mean of i64 is refused as on the host", "[cuda][reduce]") {
  const Tensor xh = host_ints({6, 40, 50}, -50, 50, 3);
  for (const Pair& x : views_of(xh))
    for (const Shape& dims : std::vector<Shape>{{0}, {1}, {2}, {0, 2}, {}})
      for (bool keepdim : {false, true})
        for (kernels::ReduceOp op : {kernels::ReduceOp::Sum, kernels::ReduceOp::Max, kernels::ReduceOp::Min})
          check_reduce(op, x, dims, keepdim);
  const Tensor big = host_ints({4, 100000}, -1000000, 1000000, 4);
  const Pair x{big, big.to(gpu()), "contiguous"};
  for (const Shape& dims : std::vector<Shape>{{1}, {0}, {}}) check_reduce(kernels::ReduceOp::Sum, x, dims, false);
  REQUIRE_THROWS_AS(kernels::reduce(kernels::ReduceOp::Mean, xh.to(gpu()), {0}, false), Error);
}

TEST_CASE("cuda reduce: empty inputs, 0-d inputs and NaN follow the host", "[cuda][reduce]") {
  const Tensor eh = Tensor::empty({3, 0, 4});
  const Pair e{eh, eh.to(gpu()), "empty"};
  check_reduce(kernels::ReduceOp::Sum, e, {1}, false);   // zeros
  check_reduce(kernels::ReduceOp::Mean, e, {1}, true);   // NaN
  check_reduce(kernels::ReduceOp::Max, e, {0}, false);   // empty output, no error
  check_reduce(kernels::ReduceOp::Sum, e, {}, false);    // 0
  REQUIRE_THROWS_AS(kernels::reduce(kernels::ReduceOp::Max, e.dev, {1}, false), Error);
  REQUIRE_THROWS_AS(kernels::reduce(kernels::ReduceOp::Min, e.dev, {}, false), Error);
  REQUIRE_THROWS_AS(kernels::argmax(e.dev, 1, false), Error);
  CHECK(error_of([&] { kernels::reduce(kernels::ReduceOp::Max, e.dev, {1}, false); }) ==
        error_of([&] { kernels::reduce(kernels::ReduceOp::Max, e.host, {1}, false); }));

  const Tensor sh = scalar_tensor(2.5);
  const Pair s{sh, sh.to(gpu()), "0-d"};
  for (kernels::ReduceOp op : kAllOps) {
    check_reduce(op, s, {}, false);
    check_reduce(op, s, {0}, true);
  }

  // NaN propagates through max/min and wins argmax/argmin (the first NaN), across chunk boundaries
  std::vector<float> v(4 * 3000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.37f * float(i));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  v[1 * 3000 + 2500] = nan;
  v[1 * 3000 + 2900] = nan;
  v[2 * 3000 + 2999] = nan;
  v[3 * 3000 + 10] = nan;
  const Tensor nh = from_vector(v, {4, 3000});
  for (const Pair& x : views_of(nh)) {
    const int64_t long_dim = x.host.shape()[0] == 4 ? 1 : 0;
    check_reduce(kernels::ReduceOp::Max, x, {long_dim}, false);
    check_reduce(kernels::ReduceOp::Min, x, {long_dim}, false);
    check_reduce(kernels::ReduceOp::Sum, x, {long_dim}, false);
    check_reduce(kernels::ReduceOp::Max, x, {}, false);
    require_equal(kernels::argmax(x.dev, long_dim, false), kernels::argmax(x.host, long_dim, false), "argmax NaN");
    require_equal(kernels::argmin(x.dev, long_dim, true), kernels::argmin(x.host, long_dim, true), "argmin NaN");
  }
}

TEST_CASE("cuda argmax/argmin: ties go to the lowest index, every dim, strided, split extents",
          "[cuda][reduce][argmax]") {
  for (DType dt : {DType::F32, DType::F64, DType::I64}) {
    for (const Shape& shape : std::vector<Shape>{{7, 33, 40}, {3, 5000}, {5000, 3}, {2, 2, 70000}}) {
      const Tensor xh = host_ints(shape, -2, 2, 17 + shape.size(), dt);  // values in [-2, 2]: ties everywhere
      for (const Pair& x : views_of(xh))
        for (int64_t d = -1; d < x.host.dim(); ++d)
          for (bool keepdim : {false, true}) {
            const std::string what = x.what + " " + shape_str(x.host.shape()) + " " + dtype_name(dt) + " dim " +
                                     std::to_string(d) + (keepdim ? " keepdim" : "");
            require_equal(kernels::argmax(x.dev, d, keepdim), kernels::argmax(x.host, d, keepdim), "argmax " + what);
            require_equal(kernels::argmin(x.dev, d, keepdim), kernels::argmin(x.host, d, keepdim), "argmin " + what);
          }
    }
  }
  // a known answer, so the test cannot pass by the host and the device agreeing on something wrong
  const Tensor t = from_vector(std::vector<float>{1, 3, 3, 0, 0, 3}, {2, 3}).to(gpu());
  CHECK(kernels::argmax(t, 1, false).to_vector<int64_t>() == std::vector<int64_t>{1, 2});
  CHECK(kernels::argmin(t, 1, false).to_vector<int64_t>() == std::vector<int64_t>{0, 0});
  CHECK(kernels::argmax(t, 0, false).to_vector<int64_t>() == std::vector<int64_t>{0, 0, 0});
}

TEST_CASE("cuda var: correction 0 and 1 over one, several and all dims, strided", "[cuda][reduce][var]") {
  const std::vector<Shape> dim_sets = {{0}, {1}, {2}, {0, 2}, {1, 2}, {}};
  for (DType dt : {DType::F32, DType::F64}) {
    const Tol tl = tol_of(dt);
    for (const Pair& x : views_of(host_randn({6, 40, 50}, 23, dt)))
      for (const Shape& dims : dim_sets)
        for (int64_t correction : {0, 1})
          for (bool keepdim : {false, true}) {
            const std::string what = "var of " + x.what + " " + dtype_name(dt) + " over " + dims_str(dims) +
                                     " correction " + std::to_string(correction);
            require_close(kernels::var(x.dev, dims, correction, keepdim), kernels::var(x.host, dims, correction, keepdim),
                          tl.rtol, tl.atol, what);
          }
    // split extents, and n <= correction (0/0 = NaN, as on the host)
    const Tensor big = host_randn({3, 70000}, 29, dt);
    require_close(kernels::var(big.to(gpu()), {1}, 1, false), kernels::var(big, {1}, 1, false), tl.rtol, tl.atol,
                  "var of long rows");
    require_close(kernels::var(big.to(gpu()), {}, 0, false), kernels::var(big, {}, 0, false), tl.rtol, tl.atol,
                  "var of everything");
    const Tensor one = host_randn({4, 1, 6}, 31, dt);
    require_close(kernels::var(one.to(gpu()), {1}, 1, false), kernels::var(one, {1}, 1, false), tl.rtol, tl.atol,
                  "var over a dim of size 1 with correction 1");
  }
  // a known answer: var of {1, 2, 3, 4} is 1.25 (correction 0) and 5/3 (correction 1)
  const Tensor k = from_vector(std::vector<double>{1, 2, 3, 4}).to(gpu());
  CHECK(kernels::var(k, {}, 0, false).item<double>() == Approx(1.25).epsilon(1e-15));
  CHECK(kernels::var(k, {}, 1, false).item<double>() == Approx(5.0 / 3.0).epsilon(1e-15));
}

namespace {

// (2m,) with the m values at even positions, sliced with step 2: a strided 1-d index.
std::pair<Tensor, Tensor> strided_index(const std::vector<int64_t>& values) {
  std::vector<int64_t> spread(values.size() * 2, -7);
  for (size_t i = 0; i < values.size(); ++i) spread[2 * i] = values[i];
  const Tensor h = from_vector(spread);
  const int64_t n = static_cast<int64_t>(spread.size());
  return {kernels::slice(h, 0, 0, n, 2), kernels::slice(h.to(gpu()), 0, 0, n, 2)};
}

// A 3-d index of `shape` with values in [0, size), stored transposed (a strided view).
std::pair<Tensor, Tensor> strided_index3(const Shape& shape, int64_t size, uint64_t seed) {
  const Tensor t = host_ints({shape[2], shape[1], shape[0]}, 0, size - 1, seed);
  return {kernels::transpose(t, 0, 2), kernels::transpose(t.to(gpu()), 0, 2)};
}

// m = 9 values in [0, n), with repeats (n <= 7)
std::vector<int64_t> repeated_values(int64_t n) {
  std::vector<int64_t> v;
  for (int64_t k = 0; k < 9; ++k) v.push_back((k * 5 + 3) % n);
  return v;
}

void require_same(const Tensor& got, const Tensor& expect, const std::string& what) {
  if (expect.dtype() == DType::F32 || expect.dtype() == DType::F64) {
    const Tol t = tol_of(expect.dtype());
    require_close(got, expect, t.rtol, t.atol, what);
  } else {
    require_equal(got, expect, what);
  }
}

// The GPU call throws a shears::Error with the host's message.
void require_same_error(const std::function<void()>& on_gpu, const std::function<void()>& on_host,
                        const std::string& what) {
  INFO(what);
  REQUIRE_THROWS_AS(on_gpu(), Error);
  const std::string g = error_of(on_gpu), h = error_of(on_host);
  CHECK(g.find("out of range") != std::string::npos);
  CHECK(g == h);
}

}  // namespace

TEST_CASE("cuda index_select: every dim, repeated and strided indices, strided x, bad index", "[cuda][index]") {
  for (DType dt : {DType::F32, DType::F64, DType::I64}) {
    for (const Pair& x : views_of(host_data({5, 6, 7}, 41, dt))) {
      for (int64_t d = 0; d < 3; ++d) {
        const int64_t n = x.host.shape()[d];
        const auto idx = strided_index(repeated_values(n));
        const std::string what = "index_select of " + x.what + " " + dtype_name(dt) + " dim " + std::to_string(d);
        require_same(kernels::index_select(x.dev, d, idx.second), kernels::index_select(x.host, d, idx.first), what);
        // bad values: n (one past the end) and -1; the first one is reported
        for (int64_t bad : {n, int64_t(-1)}) {
          std::vector<int64_t> v = repeated_values(n);
          v[4] = bad;
          v[7] = n + 3;
          const Tensor bh = from_vector(v), bg = bh.to(gpu());
          require_same_error([&] { kernels::index_select(x.dev, d, bg); },
                             [&] { kernels::index_select(x.host, d, bh); }, what + " bad index");
        }
      }
    }
  }
  // a known answer
  const Tensor x = from_vector(std::vector<float>{0, 1, 2, 3, 4, 5}, {2, 3}).to(gpu());
  const Tensor i = from_vector(std::vector<int64_t>{2, 0, 2}).to(gpu());
  CHECK(kernels::index_select(x, 1, i).to_vector<float>() == std::vector<float>{2, 0, 2, 5, 3, 5});
}

TEST_CASE("cuda gather: every dim, strided index and x, bad index", "[cuda][index]") {
  for (DType dt : {DType::F32, DType::F64, DType::I64}) {
    for (const Pair& x : views_of(host_data({5, 6, 7}, 43, dt))) {
      for (int64_t d = 0; d < 3; ++d) {
        Shape ishape = {x.host.shape()[0] - 1, x.host.shape()[1] - 1, x.host.shape()[2] - 1};
        ishape[d] = 9;  // longer than x along dim: repeated indices
        const auto idx = strided_index3(ishape, x.host.shape()[d], 47 + d);
        const std::string what = "gather of " + x.what + " " + dtype_name(dt) + " dim " + std::to_string(d);
        require_same(kernels::gather(x.dev, d, idx.second), kernels::gather(x.host, d, idx.first), what);
        std::vector<int64_t> v = idx.first.to_vector<int64_t>();
        v[v.size() / 2] = x.host.shape()[d];
        v[v.size() - 1] = -1;
        const Tensor bh = from_vector(v, ishape), bg = bh.to(gpu());
        require_same_error([&] { kernels::gather(x.dev, d, bg); }, [&] { kernels::gather(x.host, d, bh); },
                           what + " bad index");
      }
    }
  }
  const Tensor x = from_vector(std::vector<float>{0, 1, 2, 3, 4, 5}, {2, 3}).to(gpu());
  const Tensor i = from_vector(std::vector<int64_t>{2, 2, 0, 1}, {2, 2}).to(gpu());
  CHECK(kernels::gather(x, 1, i).to_vector<float>() == std::vector<float>{2, 2, 3, 4});
}

TEST_CASE("cuda scatter_add_: every dim, repeated indices accumulate, strided dst/src/index, bad index leaves dst",
          "[cuda][index]") {
  for (DType dt : {DType::F32, DType::F64, DType::I64}) {
    for (int64_t d = 0; d < 3; ++d) {
      for (bool strided_dst : {false, true}) {
        // dst (5, 6, 7) (or a transposed view of a (7, 6, 5) base); src and index longer along dim
        // (results are compared on the contiguous bases, which the GPU copies back as they are)
        const Tensor base_h = host_data(strided_dst ? Shape{7, 6, 5} : Shape{5, 6, 7}, 53, dt);
        const Tensor base_g = base_h.to(gpu());
        const Tensor dst_h = strided_dst ? kernels::transpose(base_h, 0, 2) : base_h;
        const Tensor dst_g = strided_dst ? kernels::transpose(base_g, 0, 2) : base_g;
        Shape sshape = {5, 6, 7}, ishape = {4, 5, 6};
        sshape[d] = 10;
        ishape[d] = 9;
        const Tensor src_t = host_data({sshape[2], sshape[1], sshape[0]}, 59, dt);  // stored transposed
        const Tensor src_h = kernels::transpose(src_t, 0, 2), src_g = kernels::transpose(src_t.to(gpu()), 0, 2);
        const auto idx = strided_index3(ishape, dst_h.shape()[d], 61 + d);
        const std::string what = std::string("scatter_add_ ") + dtype_name(dt) + " dim " + std::to_string(d) +
                                 (strided_dst ? " into a transposed dst" : "");
        kernels::scatter_add_(dst_h, d, idx.first, src_h);
        kernels::scatter_add_(dst_g, d, idx.second, src_g);
        require_same(base_g, base_h, what);

        // a bad index: an error with the host's message, and dst unchanged
        std::vector<int64_t> v = idx.first.to_vector<int64_t>();
        v[3] = dst_h.shape()[d] + 2;
        const Tensor bh = from_vector(v, ishape), bg = bh.to(gpu());
        const Tensor before = base_g.cpu();
        require_same_error([&] { kernels::scatter_add_(dst_g, d, bg, src_g); },
                           [&] { kernels::scatter_add_(kernels::clone(dst_h), d, bh, src_h); }, what + " bad index");
        require_equal(base_g, before, what + ": dst unchanged after the error");
      }
    }
  }
  // a known answer: repeated indices accumulate
  Tensor dst = zeros({1, 3}).to(gpu());
  const Tensor src = from_vector(std::vector<float>{1, 2, 4, 8}, {1, 4}).to(gpu());
  const Tensor i = from_vector(std::vector<int64_t>{2, 0, 2, 2}, {1, 4}).to(gpu());
  kernels::scatter_add_(dst, 1, i, src);
  CHECK(dst.to_vector<float>() == std::vector<float>{2, 0, 13});
}

TEST_CASE("cuda index_add_: every dim, repeated indices accumulate, strided dst/src/index, bad index leaves dst",
          "[cuda][index]") {
  for (DType dt : {DType::F32, DType::F64, DType::I64}) {
    for (int64_t d = 0; d < 3; ++d) {
      for (bool strided_dst : {false, true}) {
        const Tensor base_h = host_data(strided_dst ? Shape{7, 6, 5} : Shape{5, 6, 7}, 67, dt);
        const Tensor base_g = base_h.to(gpu());
        const Tensor dst_h = strided_dst ? kernels::transpose(base_h, 0, 2) : base_h;
        const Tensor dst_g = strided_dst ? kernels::transpose(base_g, 0, 2) : base_g;
        const std::vector<int64_t> values = repeated_values(dst_h.shape()[d]);
        const auto idx = strided_index(values);
        Shape sshape = {5, 6, 7};
        sshape[d] = static_cast<int64_t>(values.size());
        const Tensor src_t = host_data({sshape[2], sshape[1], sshape[0]}, 71, dt);
        const Tensor src_h = kernels::transpose(src_t, 0, 2), src_g = kernels::transpose(src_t.to(gpu()), 0, 2);
        const std::string what = std::string("index_add_ ") + dtype_name(dt) + " dim " + std::to_string(d) +
                                 (strided_dst ? " into a transposed dst" : "");
        kernels::index_add_(dst_h, d, idx.first, src_h);
        kernels::index_add_(dst_g, d, idx.second, src_g);
        require_same(base_g, base_h, what);

        std::vector<int64_t> v = values;
        v[5] = -3;
        const Tensor bh = from_vector(v), bg = bh.to(gpu());
        const Tensor before = base_g.cpu();
        require_same_error([&] { kernels::index_add_(dst_g, d, bg, src_g); },
                           [&] { kernels::index_add_(kernels::clone(dst_h), d, bh, src_h); }, what + " bad index");
        require_equal(base_g, before, what + ": dst unchanged after the error");
      }
    }
  }
  Tensor dst = zeros({3}, DType::F64).to(gpu());
  const Tensor src = from_vector(std::vector<double>{1, 2, 4, 8});
  const Tensor i = from_vector(std::vector<int64_t>{1, 1, 0, 1});
  kernels::index_add_(dst, 0, i.to(gpu()), src.to(gpu()));
  CHECK(dst.to_vector<double>() == std::vector<double>{4, 11, 0});
}

TEST_CASE("cuda smoothed_one_hot: smoothing 0 and 0.1, f32 and f64, strided labels, bad label", "[cuda][one_hot]") {
  std::vector<int64_t> labels;
  for (int64_t b = 0; b < 37; ++b) labels.push_back((b * 3 + 1) % 10);
  const auto lab = strided_index(labels);
  for (DType dt : {DType::F32, DType::F64})
    for (double smoothing : {0.0, 0.1}) {
      const std::string what = std::string("one_hot ") + dtype_name(dt) + " smoothing " + std::to_string(smoothing);
      const Tensor got = kernels::smoothed_one_hot(lab.second, 10, smoothing, dt);
      REQUIRE(got.device() == gpu());
      require_equal(got, kernels::smoothed_one_hot(lab.first, 10, smoothing, dt), what);
      // a known answer: row 0 has label 1
      const std::vector<double> row = kernels::slice(got, 0, 0, 1).to_vector<double>();
      const double off = smoothing / 10, on = 1 - smoothing + off;
      CHECK(row[1] == Approx(on).epsilon(1e-6));
      CHECK(row[0] == Approx(off).margin(1e-7));
    }
  for (int64_t bad : {int64_t(10), int64_t(-1)}) {
    std::vector<int64_t> v = labels;
    v[11] = bad;
    v[30] = 12;
    const Tensor bh = from_vector(v), bg = bh.to(gpu());
    REQUIRE_THROWS_AS(kernels::smoothed_one_hot(bg, 10, 0.1, DType::F32), Error);
    const std::string g = error_of([&] { kernels::smoothed_one_hot(bg, 10, 0.1, DType::F32); });
    CHECK(g.find("sample 11") != std::string::npos);
    CHECK(g == error_of([&] { kernels::smoothed_one_hot(bh, 10, 0.1, DType::F32); }));
  }
}

TEST_CASE("cuda adamw_update_: three steps against the formula of tensor/backend.h", "[cuda][adamw]") {
  for (DType dt : {DType::F32, DType::F64}) {
    const Shape shape = {37, 271};  // 10027 elements: more than one block, not a multiple of one
    const int64_t n = shape_numel(shape);
    std::vector<double> p = host_randn(shape, 73, DType::F64).to_vector<double>();
    std::vector<double> m(static_cast<size_t>(n), 0.0), v(static_cast<size_t>(n), 0.0);
    Tensor pg = kernels::to_dtype(from_vector(p, shape), dt).to(gpu());
    Tensor mg = zeros(shape, dt).to(gpu()), vg = zeros(shape, dt).to(gpu());
    // the reference starts from the values the device holds (p rounded to f32 for f32)
    p = pg.to_vector<double>();
    AdamWCoefficients c;
    c.lr = 1e-2;
    c.beta1 = 0.9;
    c.beta2 = 0.999;
    c.eps = 1e-8;
    c.weight_decay = 0.05;
    for (int step = 1; step <= 3; ++step) {
      const Tensor gh = kernels::to_dtype(host_randn(shape, 79 + step, DType::F64), dt);
      const std::vector<double> g = gh.to_vector<double>();
      c.bias_correction1 = 1 - std::pow(c.beta1, step);
      c.bias_correction2 = 1 - std::pow(c.beta2, step);
      backend_for(gpu()).adamw_update_(pg, gh.to(gpu()), mg, vg, c);
      for (size_t i = 0; i < p.size(); ++i) {
        m[i] = c.beta1 * m[i] + (1 - c.beta1) * g[i];
        v[i] = c.beta2 * v[i] + (1 - c.beta2) * g[i] * g[i];
        p[i] -= c.lr * (m[i] / c.bias_correction1 / (std::sqrt(v[i] / c.bias_correction2) + c.eps) +
                        c.weight_decay * p[i]);
      }
      const std::string what = std::string("adamw ") + dtype_name(dt) + " step " + std::to_string(step);
      const Tol t = dt == DType::F64 ? Tol{1e-12, 1e-12} : Tol{1e-5, 1e-6};
      require_close(pg, kernels::to_dtype(from_vector(p, shape), dt), t.rtol, t.atol, what + " param");
      require_close(mg, kernels::to_dtype(from_vector(m, shape), dt), t.rtol, t.atol, what + " m");
      require_close(vg, kernels::to_dtype(from_vector(v, shape), dt), t.rtol, t.atol, what + " v");
    }
  }
}
