// Tensor basics: view geometry and storage sharing, copies (contiguous, clone, to_dtype,
// fill_), creation functions, element access, and the counter-based RNG (ranges,
// moments, seeding, streams, and identical results on 1 and 2 threads).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "tensor/creation.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"
#include "tensor/random.h"
#include "test_util.h"

using namespace shears;
using namespace shears::test;
namespace K = shears::kernels;

namespace {

// 0, 1, 2, ... as f32 in `shape`
Tensor iota(const Shape& shape, DType dt = DType::F32) {
  std::vector<double> v(size_t(numel_of(shape)));
  std::iota(v.begin(), v.end(), 0.0);
  return tensor_of(v, shape, dt);
}

// Restores the thread count on scope exit.
struct ThreadGuard {
  int saved = get_num_threads();
  ~ThreadGuard() { set_num_threads(saved); }
};

std::vector<double> values(const Tensor& t) { return ref_values(t); }

}  // namespace

// ===================================================================================
// views
// ===================================================================================

TEST_CASE("reshape of a contiguous tensor is a view sharing storage", "[tensor][views]") {
  Tensor x = iota({2, 3, 4});
  Tensor y = K::reshape(x, {6, 4});
  CHECK(y.storage() == x.storage());
  CHECK(y.shape() == Shape{6, 4});
  CHECK(y.strides() == Shape{4, 1});
  CHECK(y.offset() == 0);
  CHECK(values(y) == values(x));
  // writes through the view are visible in the base
  K::fill_(K::narrow(y, 0, 1, 1), -1.0);
  CHECK(values(x)[4] == -1.0);
  CHECK(values(x)[7] == -1.0);
  CHECK(values(x)[8] == 8.0);
  // -1 is inferred; a view of a narrowed (still row-contiguous) tensor is a view too
  Tensor z = K::reshape(x, {-1, 2});
  CHECK(z.shape() == Shape{12, 2});
  Tensor n = K::narrow(x, 0, 1, 1);  // (1, 3, 4) at offset 12
  Tensor nz = K::reshape(n, {12});
  CHECK(nz.storage() == x.storage());
  CHECK(nz.offset() == 12);
  CHECK(values(nz) == values(n));
}

TEST_CASE("reshape of a transposed tensor copies in logical order", "[tensor][views]") {
  Tensor x = iota({3, 4});
  Tensor t = K::transpose(x, 0, 1);  // (4, 3): 0 4 8 1 5 9 ...
  REQUIRE_FALSE(t.is_contiguous());
  Tensor r = K::reshape(t, {12});
  CHECK(r.storage() != x.storage());
  CHECK(r.is_contiguous());
  CHECK(values(r) == std::vector<double>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  Tensor r2 = K::reshape(t, {2, 6});
  CHECK(values(r2) == values(r));
  // a transposed tensor whose merged dims stay compatible is still a view
  Tensor u = K::reshape(K::transpose(iota({2, 3, 4}), 1, 2), {2, 4, 3, 1});
  CHECK(values(u) == values(K::transpose(iota({2, 3, 4}), 1, 2)));
  // a size-1 dim inserted by reshape of a transposed tensor keeps the view
  Tensor v = K::reshape(t, {4, 1, 3});
  CHECK(v.storage() == x.storage());
  CHECK(values(v) == values(t));
}

TEST_CASE("reshape of random views matches the logical order, views alias storage", "[tensor][views]") {
  std::mt19937_64 rng(99);
  for (int trial = 0; trial < 400; ++trial) {
    const Shape shape = random_shape(rng, 4, 4);
    Tensor x = random_layout(shape, DType::F64, rng);
    const int64_t n = x.numel();
    // a random factorization of n into up to 4 dims, with random 1s and maybe one -1
    Shape target;
    int64_t rest = n;
    while (rest > 1) {
      int64_t f = 2;
      while (rest % f) ++f;
      if (target.empty() || rng() % 2) target.push_back(f);
      else target.back() *= f;
      rest /= f;
    }
    for (int k = int(rng() % 3); k > 0; --k) target.insert(target.begin() + int64_t(rng() % (target.size() + 1)), 1);
    if (!target.empty() && rng() % 3 == 0) target[size_t(rng() % target.size())] = -1;
    INFO("trial " << trial << ": x " << shape_str(shape) << " strides " << shape_str(x.strides())
                  << " -> " << shape_str(target));
    Tensor y = K::reshape(x, target);
    REQUIRE(y.numel() == n);
    REQUIRE(values(y) == values(x));
    if (y.storage() == x.storage() && n > 0) {
      // a view: writing through y changes x at the same logical positions
      K::fill_(y, 5.0);
      REQUIRE(values(x) == std::vector<double>(size_t(n), 5.0));
    }
  }
}

TEST_CASE("permute and transpose geometry", "[tensor][views]") {
  Tensor x = iota({2, 3, 4});
  Tensor p = K::permute(x, {2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.strides() == Shape{1, 12, 4});
  CHECK(p.storage() == x.storage());
  CHECK(values(p)[1] == 4.0);  // p[0][0][1] = x[0][1][0]
  Ref rp = ref_of(p);
  bool all_match = true;
  for_each_index(p.shape(), [&](const Shape& i) { all_match = all_match && rp.at(i) == double(i[1] * 12 + i[2] * 4 + i[0]); });
  CHECK(all_match);
  Tensor n = K::permute(x, {-1, -2, -3});
  CHECK(n.shape() == Shape{4, 3, 2});
  CHECK(n.strides() == Shape{1, 4, 12});
  Tensor t = K::transpose(x, 0, 2);
  CHECK(t.shape() == n.shape());
  CHECK(t.strides() == n.strides());
  Tensor t2 = K::transpose(x, -1, 1);
  CHECK(t2.shape() == Shape{2, 4, 3});
  CHECK(t2.strides() == Shape{12, 1, 4});
  CHECK_FALSE(t2.is_contiguous());
  CHECK(K::transpose(t2, 1, 2).is_contiguous());
}

TEST_CASE("narrow and slice with a step", "[tensor][views]") {
  Tensor x = iota({5, 6});
  Tensor n = K::narrow(x, 1, 2, 3);
  CHECK(n.shape() == Shape{5, 3});
  CHECK(n.strides() == Shape{6, 1});
  CHECK(n.offset() == 2);
  CHECK(n.storage() == x.storage());
  CHECK(values(K::narrow(x, 0, 3, 2)) == std::vector<double>{18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29});
  Tensor s = K::slice(x, 1, 1, 6, 2);  // cols 1, 3, 5
  CHECK(s.shape() == Shape{5, 3});
  CHECK(s.strides() == Shape{6, 2});
  CHECK(s.offset() == 1);
  CHECK(values(K::narrow(s, 0, 0, 1)) == std::vector<double>{1, 3, 5});
  Tensor s2 = K::slice(x, 0, 0, 5, 3);  // rows 0, 3
  CHECK(s2.shape() == Shape{2, 6});
  CHECK(s2.strides() == Shape{18, 1});
  CHECK(values(K::slice(s2, 1, -2, 6)) == std::vector<double>{4, 5, 22, 23});
  CHECK(K::slice(x, 1, 4, 100).shape() == Shape{5, 2});  // end clamped
  CHECK(K::slice(x, 1, 4, 2).shape() == Shape{5, 0});    // empty
  CHECK(K::slice(x, 0, 1, 5, 10).shape() == Shape{1, 6});
  // a slice of a slice composes steps and offsets
  Tensor ss = K::slice(K::slice(x, 1, 1, 6, 2), 1, 1, 3, 2);  // col 3
  CHECK(ss.strides() == Shape{6, 4});
  CHECK(ss.offset() == 3);
  CHECK(values(ss) == std::vector<double>{3, 9, 15, 21, 27});
}

TEST_CASE("expand, squeeze and unsqueeze geometry", "[tensor][views]") {
  Tensor x = iota({3, 1});
  Tensor e = K::expand(x, {2, 3, 4});
  CHECK(e.shape() == Shape{2, 3, 4});
  CHECK(e.strides() == Shape{0, 1, 0});
  CHECK(e.storage() == x.storage());
  CHECK(values(e) == std::vector<double>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2});
  CHECK(K::expand(x, {-1, 5}).shape() == Shape{3, 5});
  CHECK(K::expand(x, {3, 1}).strides() == x.strides());

  Tensor y = iota({3, 1, 4});
  Tensor sq = K::squeeze(y, 1);
  CHECK(sq.shape() == Shape{3, 4});
  CHECK(sq.strides() == Shape{4, 1});
  CHECK(K::squeeze(y, -2).shape() == Shape{3, 4});
  Tensor u0 = K::unsqueeze(y, 0);
  CHECK(u0.shape() == Shape{1, 3, 1, 4});
  CHECK(u0.is_contiguous());
  Tensor ul = K::unsqueeze(y, -1);
  CHECK(ul.shape() == Shape{3, 1, 4, 1});
  CHECK(ul.is_contiguous());
  CHECK(values(ul) == values(y));
  // unsqueeze of a transposed view keeps the data layout
  Tensor t = K::transpose(iota({2, 3}), 0, 1);
  Tensor tu = K::unsqueeze(t, 1);
  CHECK(tu.shape() == Shape{3, 1, 2});
  CHECK(values(tu) == values(t));
  Tensor z = scalar_tensor(4.0);
  CHECK(K::unsqueeze(z, 0).shape() == Shape{1});
  CHECK(K::squeeze(K::unsqueeze(z, 0), 0).dim() == 0);
}

TEST_CASE("is_contiguous ignores size-1 dims", "[tensor][views]") {
  Tensor x = iota({3, 1, 4});
  CHECK(x.is_contiguous());
  Tensor odd = Tensor::view_of(x, {3, 1, 4}, {4, 99, 1}, 0);
  CHECK(odd.is_contiguous());
  CHECK(K::expand(iota({1, 4}), {1, 4}).is_contiguous());
  CHECK_FALSE(K::expand(iota({1, 4}), {2, 4}).is_contiguous());
  CHECK(x.size(-1) == 4);
  CHECK(x.stride(0) == 4);
  CHECK(x.numel() == 12);
  CHECK(x.dim() == 3);
}

// ===================================================================================
// copies
// ===================================================================================

TEST_CASE("contiguous and clone", "[tensor][copy]") {
  Tensor x = iota({3, 4});
  Tensor c = K::contiguous(x);
  CHECK(c.is_same(x));  // already contiguous: the same tensor
  Tensor t = K::transpose(x, 0, 1);
  Tensor tc = K::contiguous(t);
  CHECK(tc.is_contiguous());
  CHECK(tc.storage() != x.storage());
  CHECK(tc.strides() == Shape{3, 1});
  CHECK(values(tc) == values(t));
  Tensor s = K::slice(iota({4, 6}), 1, 0, 6, 2);
  CHECK(values(K::contiguous(s)) == values(s));
  Tensor e = K::expand(iota({3, 1}), {3, 2});
  CHECK(values(K::contiguous(e)) == std::vector<double>{0, 0, 1, 1, 2, 2});

  Tensor cl = K::clone(x);
  CHECK(cl.storage() != x.storage());
  CHECK(values(cl) == values(x));
  K::fill_(cl, 7.0);
  CHECK(values(x)[0] == 0.0);  // independent
  Tensor ct = K::clone(t);
  CHECK(ct.is_contiguous());
  CHECK(values(ct) == values(t));
}

TEST_CASE("to_dtype converts between all dtypes", "[tensor][copy]") {
  Tensor f = tensor_of({-2.75, -0.5, 0.0, 1.25, 2.9, 1e10}, {2, 3}, DType::F64);
  Tensor f32 = K::to_dtype(f, DType::F32);
  CHECK(f32.dtype() == DType::F32);
  CHECK(values(f32) == std::vector<double>{-2.75, -0.5, 0.0, 1.25, double(2.9f), double(1e10f)});
  Tensor i = K::to_dtype(f, DType::I64);
  CHECK(i.dtype() == DType::I64);
  CHECK(values(i) == std::vector<double>{-2, 0, 0, 1, 2, 1e10});  // truncation toward zero
  Tensor b = K::to_dtype(f, DType::Bool);
  CHECK(values(b) == std::vector<double>{1, 1, 0, 1, 1, 1});
  CHECK(values(K::to_dtype(b, DType::F32)) == std::vector<double>{1, 1, 0, 1, 1, 1});
  CHECK(values(K::to_dtype(i, DType::F64)) == values(i));
  // from a non-contiguous view
  Tensor t = K::transpose(f, 0, 1);
  CHECK(values(K::to_dtype(t, DType::F32)) == std::vector<double>{-2.75, 1.25, -0.5, double(2.9f), 0.0, double(1e10f)});
  CHECK(K::to_dtype(f, DType::F64).is_same(f));
}

TEST_CASE("fill_ writes only the view's elements", "[tensor][copy]") {
  Tensor x = zeros({3, 4});
  K::fill_(K::slice(x, 1, 1, 4, 2), 5.0);
  CHECK(values(x) == std::vector<double>{0, 5, 0, 5, 0, 5, 0, 5, 0, 5, 0, 5});
  K::fill_(K::transpose(x, 0, 1), -1.0);
  CHECK(values(x) == std::vector<double>(12, -1.0));
  Tensor i = zeros({4}, DType::I64);
  K::fill_(i, 3.0);
  CHECK(values(i) == std::vector<double>(4, 3.0));
  Tensor b = zeros({2}, DType::Bool);
  K::fill_(b, 1.0);
  CHECK(values(b) == std::vector<double>{1, 1});
}

TEST_CASE("copy_ broadcasts the source into a strided destination", "[tensor][copy]") {
  Tensor dst = zeros({3, 4}, DType::F64);
  K::copy_(K::transpose(dst, 0, 1), tensor_of({1, 2, 3}, {3}, DType::F32));  // dst^T rows = [1, 2, 3]
  CHECK(values(dst) == std::vector<double>{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3});
}

// ===================================================================================
// creation and element access
// ===================================================================================

TEST_CASE("creation functions", "[tensor][creation]") {
  Tensor z = zeros({2, 3});
  CHECK(z.dtype() == DType::F32);
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.is_contiguous());
  CHECK(values(z) == std::vector<double>(6, 0.0));
  CHECK(values(ones({4}, DType::I64)) == std::vector<double>(4, 1.0));
  Tensor f = full({2, 2}, 2.5, DType::F64);
  CHECK(f.dtype() == DType::F64);
  CHECK(values(f) == std::vector<double>(4, 2.5));
  CHECK(values(zeros_like(f)) == std::vector<double>(4, 0.0));
  CHECK(ones_like(f).dtype() == DType::F64);
  CHECK(values(full_like(f, -1.0)) == std::vector<double>(4, -1.0));
  CHECK(zeros({0, 3}).numel() == 0);
  CHECK(empty({5, 2}, DType::I64).shape() == Shape{5, 2});

  Tensor a = arange(5);
  CHECK(a.dtype() == DType::I64);
  CHECK(values(a) == std::vector<double>{0, 1, 2, 3, 4});
  CHECK(values(arange(2.0, 7.0, 2.0)) == std::vector<double>{2, 4, 6});
  Tensor af = arange(0.0, 1.0, 0.25, DType::F32);
  CHECK(af.dtype() == DType::F32);
  CHECK(values(af) == std::vector<double>{0, 0.25, 0.5, 0.75});
  Tensor ad = arange(1.0, 2.05, 0.1, DType::F64);
  REQUIRE(ad.numel() == 11);
  std::vector<double> adv = values(ad);
  for (int i = 0; i < 11; ++i) CHECK(adv[size_t(i)] == Approx(1.0 + 0.1 * i).epsilon(1e-12));
  CHECK(values(arange(5.0, 0.0, -2.0)) == std::vector<double>{5, 3, 1});
  CHECK(arange(3.0, 3.0).numel() == 0);
  CHECK(arange(3.0, 1.0).numel() == 0);

  Tensor v = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(v.dtype() == DType::F32);
  CHECK(v.shape() == Shape{2, 3});
  CHECK(values(v) == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(from_vector(std::vector<double>{1, 2}).shape() == Shape{2});
  CHECK(from_vector(std::vector<double>{1, 2}).dtype() == DType::F64);
  CHECK(from_vector(std::vector<int64_t>{7, 8, 9}).dtype() == DType::I64);
  CHECK(values(from_vector(std::vector<int64_t>{7, -8}, {2, 1})) == std::vector<double>{7, -8});

  Tensor s = scalar_tensor(3.5, DType::F64);
  CHECK(s.dim() == 0);
  CHECK(s.numel() == 1);
  CHECK(s.item<double>() == 3.5);
  CHECK(scalar_tensor(2.0).dtype() == DType::F32);
}

TEST_CASE("item and to_vector", "[tensor][creation]") {
  Tensor x = from_vector(std::vector<double>{1.5, -2.5, 3.0, 4.0}, {2, 2});
  CHECK(x.to_vector<double>() == std::vector<double>{1.5, -2.5, 3.0, 4.0});
  CHECK(x.to_vector<float>() == std::vector<float>{1.5f, -2.5f, 3.0f, 4.0f});
  CHECK(x.to_vector<int64_t>() == std::vector<int64_t>{1, -2, 3, 4});
  // logical order of a transposed view
  CHECK(K::transpose(x, 0, 1).to_vector<double>() == std::vector<double>{1.5, 3.0, -2.5, 4.0});
  CHECK(K::narrow(K::transpose(x, 0, 1), 0, 1, 1).to_vector<double>() == std::vector<double>{-2.5, 4.0});
  CHECK(K::narrow(K::narrow(x, 1, 1, 1), 0, 0, 1).item<double>() == -2.5);
  CHECK(K::slice(K::narrow(x, 0, 1, 1), 1, 1, 2).item<double>() == 4.0);
  CHECK(K::slice(K::narrow(x, 0, 1, 1), 1, 1, 2).item<int64_t>() == 4);
  CHECK(scalar_tensor(7.0, DType::I64).item<int64_t>() == 7);
  CHECK(scalar_tensor(1.0, DType::Bool).item<bool>());
  CHECK(from_vector(std::vector<float>{2.5f}).item<float>() == 2.5f);
  CHECK_THROWS_AS(x.item<double>(), Error);
  CHECK_THROWS_AS(x.data<float>(), Error);  // wrong type
  CHECK(x.data<double>()[1] == -2.5);
}

// ===================================================================================
// random numbers
// ===================================================================================

TEST_CASE("rand lies in 0 <= u < 1 with the moments of a uniform", "[tensor][random]") {
  for (DType dt : {DType::F32, DType::F64}) {
    INFO(dtype_name(dt));
    Generator g(123);
    Tensor r = rand({100000}, dt, &g);
    CHECK(r.dtype() == dt);
    std::vector<double> v = values(r);
    CHECK(*std::min_element(v.begin(), v.end()) >= 0.0);
    CHECK(*std::max_element(v.begin(), v.end()) < 1.0);
    double m = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
    double var = 0;
    for (double x : v) var += (x - m) * (x - m);
    var /= double(v.size());
    CHECK(m == Approx(0.5).margin(0.005));
    CHECK(var == Approx(1.0 / 12.0).margin(0.003));
  }
  Generator g(9);
  std::vector<double> u = values(uniform({50000}, -3.0, 5.0, DType::F32, &g));
  CHECK(*std::min_element(u.begin(), u.end()) >= -3.0);
  CHECK(*std::max_element(u.begin(), u.end()) < 5.0);
  CHECK(std::accumulate(u.begin(), u.end(), 0.0) / double(u.size()) == Approx(1.0).margin(0.05));
  // f32 draws just below 1 never round up to 1
  Generator h(10);
  std::vector<double> w = values(uniform({100000}, 0.0, 1.0, DType::F32, &h));
  CHECK(*std::max_element(w.begin(), w.end()) < 1.0);
}

TEST_CASE("randn has mean ~0 and variance ~1 on 100k samples", "[tensor][random]") {
  for (DType dt : {DType::F32, DType::F64}) {
    INFO(dtype_name(dt));
    Generator g(7);
    std::vector<double> v = values(randn({100000}, dt, &g));
    double m = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
    double var = 0, m4 = 0;
    int64_t within1 = 0;
    for (double x : v) {
      var += (x - m) * (x - m);
      m4 += std::pow(x - m, 4);
      within1 += std::fabs(x) < 1.0;
    }
    var /= double(v.size());
    m4 /= double(v.size());
    CHECK(std::fabs(m) < 0.02);        // sd of the mean is 0.003
    CHECK(std::fabs(var - 1.0) < 0.02);  // sd of the variance is 0.0045
    CHECK(m4 == Approx(3.0).margin(0.15));  // normal kurtosis
    CHECK(double(within1) / double(v.size()) == Approx(0.6827).margin(0.01));
    CHECK(std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); }));
  }
}

TEST_CASE("bernoulli hits its rate, randperm is a permutation", "[tensor][random]") {
  for (double p : {0.0, 0.1, 0.5, 0.9, 1.0}) {
    INFO("p = " << p);
    Generator g(11);
    std::vector<double> v = values(bernoulli({100000}, p, DType::F32, &g));
    CHECK(std::all_of(v.begin(), v.end(), [](double x) { return x == 0.0 || x == 1.0; }));
    const int64_t ones_n = std::count(v.begin(), v.end(), 1.0);
    const double rate = double(ones_n) / double(v.size());
    CHECK(std::fabs(rate - p) <= 5 * std::sqrt(p * (1 - p) / 1e5) + 1e-12);
  }
  Generator gb(12);
  Tensor mb = bernoulli({1000}, 0.5, DType::Bool, &gb);
  CHECK(mb.dtype() == DType::Bool);
  std::vector<double> bv = values(mb);
  CHECK(std::all_of(bv.begin(), bv.end(), [](double x) { return x == 0.0 || x == 1.0; }));

  Generator gp(13);
  Tensor perm = randperm(1000, &gp);
  CHECK(perm.dtype() == DType::I64);
  std::vector<int64_t> pv = perm.to_vector<int64_t>();
  std::vector<int64_t> sorted = pv;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> expect(1000);
  std::iota(expect.begin(), expect.end(), 0);
  CHECK(sorted == expect);
  CHECK(pv != expect);  // shuffled (probability 1/1000! of a false failure)
  Generator gp2(13);
  CHECK(randperm(1000, &gp2).to_vector<int64_t>() == pv);
  CHECK(randperm(0, &gp2).numel() == 0);
  CHECK(randperm(1, &gp2).to_vector<int64_t>() == std::vector<int64_t>{0});
}

TEST_CASE("same seed gives the same numbers, draws advance the generator, streams differ", "[tensor][random]") {
  Generator a(99), b(99);
  std::vector<double> ra = values(rand({1000}, DType::F64, &a));
  CHECK(values(rand({1000}, DType::F64, &b)) == ra);
  CHECK(a.offset() == 1000);
  // the next draw continues the sequence: two halves equal one whole draw
  Generator c(99);
  std::vector<double> h1 = values(rand({400}, DType::F64, &c));
  std::vector<double> h2 = values(rand({600}, DType::F64, &c));
  h1.insert(h1.end(), h2.begin(), h2.end());
  CHECK(h1 == ra);
  CHECK(values(rand({1000}, DType::F64, &a)) != ra);
  // the generator state is (seed, stream, offset): resetting the offset replays
  a.set_offset(0);
  CHECK(values(rand({1000}, DType::F64, &a)) == ra);
  // a different seed or a different stream gives different numbers
  Generator d(100), s1(99, 1), s2(99, 2);
  std::vector<double> rd = values(rand({1000}, DType::F64, &d));
  std::vector<double> rs1 = values(rand({1000}, DType::F64, &s1));
  std::vector<double> rs2 = values(rand({1000}, DType::F64, &s2));
  CHECK(rd != ra);
  CHECK(rs1 != ra);
  CHECK(rs1 != rs2);
  int64_t equal = 0;
  for (size_t i = 0; i < ra.size(); ++i) equal += ra[i] == rs1[i];
  CHECK(equal == 0);
  // element i is a pure function of (seed, stream, offset + i)
  CHECK(ra[17] == uniform_at(99, 0, 17));
  CHECK(rs1[5] == uniform_at(99, 1, 5));

  // the default generator follows manual_seed
  manual_seed(2024);
  std::vector<double> d1 = values(randn({64}, DType::F64));
  manual_seed(2024);
  CHECK(values(randn({64}, DType::F64)) == d1);
  CHECK(values(randn({64}, DType::F64)) != d1);

  // scalar draws
  Generator sg(5), sg2(5);
  CHECK(sg.uniform() == sg2.uniform());
  for (int i = 0; i < 1000; ++i) {
    int64_t k = sg.randint(-3, 4);
    REQUIRE(k >= -3);
    REQUIRE(k < 4);
    double u = sg.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    REQUIRE(std::isfinite(sg.normal()));
  }
}

TEST_CASE("rand, randn, bernoulli and uniform give the same numbers on 1 and 2 threads", "[tensor][random]") {
  ThreadGuard guard;
  const Shape big = {300, 1001};  // > 100k elements: the parallel path
  auto draw = [&](int threads) {
    set_num_threads(threads);
    REQUIRE(get_num_threads() == threads);
    Generator g(31337, 3);
    std::vector<std::vector<double>> out;
    out.push_back(values(rand(big, DType::F32, &g)));
    out.push_back(values(randn(big, DType::F32, &g)));
    out.push_back(values(randn(big, DType::F64, &g)));
    out.push_back(values(bernoulli(big, 0.3, DType::F32, &g)));
    out.push_back(values(uniform(big, -2.0, 2.0, DType::F64, &g)));
    return out;
  };
  auto one = draw(1);
  auto two = draw(2);
  REQUIRE(one.size() == two.size());
  for (size_t k = 0; k < one.size(); ++k) {
    INFO("draw " << k);
    CHECK(one[k] == two[k]);
  }
}

TEST_CASE("elementwise and reduction kernels give the same bits on 1 and 2 threads", "[tensor][parallel]") {
  ThreadGuard guard;
  Tensor x = random_tensor({400, 700}, DType::F32, 77, -3.0, 3.0);
  Tensor xt = K::transpose(random_tensor({700, 400}, DType::F32, 78), 0, 1);
  auto run = [&](int threads) {
    set_num_threads(threads);
    std::vector<std::vector<double>> out;
    out.push_back(values(K::unary(K::UnaryOp::Exp, x)));
    out.push_back(values(K::binary(K::BinaryOp::Mul, x, xt)));
    out.push_back(values(K::reduce(K::ReduceOp::Sum, x, {}, false)));
    out.push_back(values(K::reduce(K::ReduceOp::Sum, x, {0}, false)));
    out.push_back(values(K::reduce(K::ReduceOp::Mean, xt, {1}, false)));
    out.push_back(values(K::var(x, {0}, 1, false)));
    out.push_back(values(K::argmax(x, 1, false)));
    out.push_back(values(K::matmul(x, K::transpose(x, 0, 1))));  // split GEMM
    out.push_back(values(K::matmul(K::reshape(x, {40, 10, 700}), K::narrow(K::transpose(xt, 0, 1), 1, 0, 64))));  // folded batch
    out.push_back(values(K::softmax(x, 0)));
    out.push_back(values(K::layer_norm(x, Tensor(), Tensor(), 1e-5).y));
    return out;
  };
  auto one = run(1);
  auto two = run(2);
  for (size_t k = 0; k < one.size(); ++k) {
    INFO("kernel " << k);
    CHECK(one[k] == two[k]);
  }
}

TEST_CASE("storage sizes around the cache's size classes allocate, hold data and are reused", "[tensor][storage]") {
  // 64 KiB and 1 MiB are the cache's class boundaries; sizes just under 1 MiB round up into the 2 MiB
  // classes (aligned_alloc needs the size to be a multiple of the 2 MiB alignment: ASan checks it).
  const std::vector<size_t> sizes = {64,          (64u << 10) - 4, 64u << 10,         (1u << 20) - 1024,
                                     (1u << 20) - 4, 1u << 20,       (1u << 20) + 4096, (5u << 20) + 12};
  for (int round = 0; round < 2; ++round)  // the second round is served from the cache
    for (size_t bytes : sizes) {
      const int64_t n = int64_t(bytes / 4);
      Tensor t = Tensor::empty({n}, DType::F32);
      REQUIRE(reinterpret_cast<uintptr_t>(t.data<float>()) % 64 == 0);
      float* p = t.data<float>();
      p[0] = 1.5f, p[n - 1] = -2.5f;
      CHECK(p[0] == 1.5f);
      CHECK(p[n - 1] == -2.5f);
    }
}

// The documented layer-norm row algorithm (tensor/nn_kernels.cpp, row_moments): sums over 32 lanes (lane l takes
// elements l, l + 32, ...), combined pairwise (l += l + 16, then + 8, 4, 2, 1), the mean divided by C; the variance
// the same over d * d with d = x - mean, each step one fused multiply-add; rstd = 1 / sqrt(var + eps); outputs
// fma((x - mean) * rstd, w, b).
namespace {
float pairwise32(float (&acc)[32]) {
  for (int w = 16; w >= 1; w /= 2)
    for (int l = 0; l < w; ++l) acc[l] += acc[l + w];
  return acc[0];
}
}  // namespace

TEST_CASE("layer_norm float rows follow the 32-lane pairwise algorithm bit for bit", "[tensor][layer_norm]") {
  // widths that are multiples of 32 (AVX2 builds: the register form of row_moments) and one that is not
  for (const int64_t C : {int64_t(384), int64_t(64), int64_t(96), int64_t(100)}) {
    INFO("C = " << C);
    const int64_t rows = 7;
    Tensor x = random_tensor({rows, C}, DType::F32, 91, -3.0, 5.0);
    Tensor w = random_tensor({C}, DType::F32, 92, 0.5, 1.5), b = random_tensor({C}, DType::F32, 93, -1.0, 1.0);
    const float eps = 1e-6f;
    K::LayerNormResult r = K::layer_norm(x, w, b, eps);
    const float* xp = x.data<float>();
    const float *wp = w.data<float>(), *bp = b.data<float>();
    for (int64_t i = 0; i < rows; ++i) {
      const float* row = xp + i * C;
      float acc[32] = {};
      for (int64_t c = 0; c < C; ++c) acc[c % 32] += row[c];
      const float mean = pairwise32(acc) / float(C);
      float sq[32] = {};
      for (int64_t c = 0; c < C; ++c) {
        const float d = row[c] - mean;
        sq[c % 32] = std::fma(d, d, sq[c % 32]);
      }
      const float rstd = 1.0f / std::sqrt(pairwise32(sq) / float(C) + eps);
#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
      const bool exact = C % 32 == 0;  // the register form: explicit FMAs, the same bits in every build type
#else
      const bool exact = false;  // the generic loop's d * d + acc is fused or not as the compiler contracts it
#endif
      if (exact) {
        CHECK(r.mean.data<float>()[i] == mean);
        CHECK(r.rstd.data<float>()[i] == rstd);
        for (int64_t c = 0; c < C; ++c) REQUIRE(r.y.data<float>()[i * C + c] == std::fma((row[c] - mean) * rstd, wp[c], bp[c]));
      } else {
        CHECK(r.mean.data<float>()[i] == Approx(mean).margin(1e-6));
        CHECK(r.rstd.data<float>()[i] == Approx(rstd).epsilon(1e-5));
        for (int64_t c = 0; c < C; ++c)
          REQUIRE(r.y.data<float>()[i * C + c] == Approx(std::fma((row[c] - mean) * rstd, wp[c], bp[c])).margin(1e-4));
      }
    }
  }
}
