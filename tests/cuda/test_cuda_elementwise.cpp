// The CUDA elementwise kernels (cuda/elementwise.cu) against the host's: every unary, binary
// (gradient helpers included) and comparison op, the scalar variants, pow, where, clamp, copies
// into strided views, fills, every dtype conversion and axpby_, on contiguous, transposed, sliced,
// expanded and broadcast operands, plus special values, 8/9-d, empty and large shapes.
#include "cuda_test_util.h"

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tensor/error.h"

namespace {

using namespace shears;
using namespace shears::test;
namespace k = shears::kernels;
using k::BinaryOp;
using k::CompareOp;
using k::UnaryOp;

constexpr int kUnaryOps = static_cast<int>(UnaryOp::Square) + 1;
constexpr int kBinaryOps = static_cast<int>(BinaryOp::SigmoidBackward) + 1;
constexpr int kCompareOps = static_cast<int>(CompareOp::Ge) + 1;
const DType kAllDtypes[] = {DType::F32, DType::F64, DType::I64, DType::Bool};
const DType kFloatDtypes[] = {DType::F32, DType::F64};
const char* const kCompareNames[] = {"eq", "ne", "lt", "le", "gt", "ge"};

double rtol_for(DType t) { return t == DType::F64 ? 1e-12 : 1e-5; }
double atol_for(DType t) { return t == DType::F64 ? 1e-12 : 1e-6; }

// got (computed on the GPU) against expect (the host): a fresh contiguous GPU tensor; exact for
// i64/bool; for floats within the dtype's tolerance, NaN where the host has NaN, and infinities
// equal (require_close's relative test cannot see an infinity that should be finite).
void require_match(const Tensor& got, const Tensor& expect, const std::string& what) {
  INFO(what);
  REQUIRE(got.defined());
  CHECK(got.device() == gpu());
  CHECK(got.is_contiguous());
  if (!is_floating(expect.dtype())) {
    require_equal(got, expect, what);
    return;
  }
  require_close(got, expect, rtol_for(expect.dtype()), atol_for(expect.dtype()), what);
  const auto g = got.to_vector<double>();
  const auto e = expect.to_vector<double>();
  REQUIRE(g.size() == e.size());
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < e.size(); ++i) {
    if ((std::isinf(e[i]) || std::isinf(g[i])) && g[i] != e[i]) {
      if (bad++ == 0) first = i;
    }
  }
  INFO(bad << " elements differ in an infinity; first " << first << ": got "
           << (bad ? g[first] : 0.0) << " expected " << (bad ? e[first] : 0.0));
  CHECK(bad == 0);
}

// The same values, with the same view applied, on the host and on the GPU.
struct Pair {
  Tensor h, d;
};
Pair on_both(const Tensor& host) { return {host, host.to(gpu())}; }
template <typename F> Pair apply(const Pair& p, F f) { return {f(p.h), f(p.d)}; }

// Host values of any dtype: normal (f32/f64), |normal| + 0.05 (positive), small integers
// (trunc(3 * normal), stored in the dtype), i64 = trunc(10 * normal), bool = normal > 0.3.
enum class Values { Normal, Positive, Integers };
Tensor host_values(const Shape& s, DType dt, uint64_t seed, Values kind = Values::Normal) {
  if (dt == DType::Bool) return k::compare_scalar(CompareOp::Gt, host_randn(s, seed), 0.3);
  if (dt == DType::I64)
    return k::to_dtype(k::binary_scalar(BinaryOp::Mul, host_randn(s, seed, DType::F64),
                                         kind == Values::Integers ? 3.0 : 10.0),
                       DType::I64);
  Tensor x = host_randn(s, seed, dt);
  if (kind == Values::Positive) x = k::binary_scalar(BinaryOp::Add, k::unary(UnaryOp::Abs, x), 0.05);
  if (kind == Values::Integers)
    x = k::to_dtype(k::to_dtype(k::binary_scalar(BinaryOp::Mul, x, 3.0), DType::I64), dt);
  return x;
}

// A 3-d operand of shape s laid out four ways; the view is made on both devices.
enum class Layout { Contiguous, Transposed, Sliced, Expanded };
const Layout kLayouts[] = {Layout::Contiguous, Layout::Transposed, Layout::Sliced, Layout::Expanded};
const char* layout_name(Layout l) {
  switch (l) {
    case Layout::Contiguous: return "contiguous";
    case Layout::Transposed: return "transposed";
    case Layout::Sliced: return "sliced (step 2, offset)";
    case Layout::Expanded: return "expanded (stride 0)";
  }
  return "?";
}
Pair operand(Layout l, const Shape& s, DType dt, uint64_t seed, Values kind = Values::Normal) {
  switch (l) {
    case Layout::Contiguous: return on_both(host_values(s, dt, seed, kind));
    case Layout::Transposed:
      return apply(on_both(host_values({s[2], s[1], s[0]}, dt, seed, kind)),
                   [](const Tensor& t) { return k::transpose(t, 0, 2); });
    case Layout::Sliced:
      return apply(on_both(host_values({s[0], 2 * s[1] + 1, s[2] + 1}, dt, seed, kind)), [](const Tensor& t) {
        return k::slice(k::slice(t, 1, 1, t.size(1), 2), 2, 1, t.size(2));
      });
    case Layout::Expanded:
      return apply(on_both(host_values({1, s[1], 1}, dt, seed, kind)),
                   [s](const Tensor& t) { return k::expand(t, s); });
  }
  FAIL("unknown layout");
  return {};
}

bool int_unary_ok(UnaryOp op) {
  return op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Sign || op == UnaryOp::Square ||
         op == UnaryOp::Relu;
}
bool int_binary_ok(BinaryOp op) {
  return op == BinaryOp::Add || op == BinaryOp::Sub || op == BinaryOp::Mul || op == BinaryOp::Max ||
         op == BinaryOp::Min;
}
bool positive_domain(UnaryOp op) { return op == UnaryOp::Log || op == UnaryOp::Sqrt || op == UnaryOp::Rsqrt; }

std::string label(const std::string& op, DType dt, const std::string& more) {
  return op + " " + dtype_name(dt) + " " + more;
}

const Shape kShape = {3, 37, 129};  // 14k elements: many blocks, no dim merges with its neighbours

}  // namespace

TEST_CASE("cuda unary: every op, dtype and layout matches the host", "[cuda][elementwise]") {
  for (DType dt : {DType::F32, DType::F64, DType::I64}) {
    for (int o = 0; o < kUnaryOps; ++o) {
      const UnaryOp op = static_cast<UnaryOp>(o);
      for (Layout l : kLayouts) {
        const std::string what = label(k::unary_name(op), dt, layout_name(l));
        Pair x = operand(l, kShape, dt, 100 + o, positive_domain(op) ? Values::Positive : Values::Normal);
        if (dt == DType::I64 && !int_unary_ok(op)) {
          INFO(what);
          CHECK_THROWS_AS(k::unary(op, x.h), Error);
          CHECK_THROWS_AS(k::unary(op, x.d), Error);
          continue;
        }
        require_match(k::unary(op, x.d), k::unary(op, x.h), what);
      }
    }
  }
  // the whole real line for the ops defined on part of it: NaN where the host has NaN
  for (DType dt : kFloatDtypes)
    for (UnaryOp op : {UnaryOp::Log, UnaryOp::Sqrt, UnaryOp::Rsqrt}) {
      Pair x = operand(Layout::Transposed, kShape, dt, 7);
      require_match(k::unary(op, x.d), k::unary(op, x.h), label(k::unary_name(op), dt, "of normal values"));
    }
  Tensor b = on_both(host_values({2, 3}, DType::Bool, 1)).d;
  CHECK_THROWS_AS(k::unary(UnaryOp::Neg, b), Error);
}

TEST_CASE("cuda binary: every op (gradient helpers too), dtype, layout and broadcast matches the host",
          "[cuda][elementwise]") {
  for (DType dt : {DType::F32, DType::F64, DType::I64}) {
    for (int o = 0; o < kBinaryOps; ++o) {
      const BinaryOp op = static_cast<BinaryOp>(o);
      for (int li = 0; li < 4; ++li) {
        const Layout la = kLayouts[li], lb = kLayouts[(li + 1) % 4];
        struct Case {
          std::string name;
          Pair a, b;
        };
        std::vector<Case> cases;
        cases.push_back({std::string("a ") + layout_name(la) + ", b " + layout_name(lb), operand(la, kShape, dt, 200 + o),
                         operand(lb, kShape, dt, 300 + o)});
        cases.push_back({std::string("a ") + layout_name(la) + ", b (129) broadcast", operand(la, kShape, dt, 201),
                         on_both(host_values({129}, dt, 301))});
        cases.push_back({"a (3,1,129), b (37,1) transposed view", on_both(host_values({3, 1, 129}, dt, 202)),
                         apply(on_both(host_values({1, 37}, dt, 302)),
                               [](const Tensor& t) { return k::transpose(t, 0, 1); })});
        cases.push_back({std::string("a 0-d, b ") + layout_name(la), on_both(host_values({}, dt, 203)),
                         operand(la, kShape, dt, 303)});
        for (const Case& c : cases) {
          const std::string what = label(k::binary_name(op), dt, c.name);
          if (dt == DType::I64 && !int_binary_ok(op)) {
            INFO(what);
            CHECK_THROWS_AS(k::binary(op, c.a.h, c.b.h), Error);
            CHECK_THROWS_AS(k::binary(op, c.a.d, c.b.d), Error);
            continue;
          }
          require_match(k::binary(op, c.a.d, c.b.d), k::binary(op, c.a.h, c.b.h), what);
          require_match(k::binary(op, c.b.d, c.a.d), k::binary(op, c.b.h, c.a.h), what + " (swapped)");
        }
      }
    }
  }
}

TEST_CASE("cuda binary_scalar: every op, dtype and layout, the scalar converted to the dtype first",
          "[cuda][elementwise]") {
  for (DType dt : {DType::F32, DType::F64, DType::I64}) {
    for (int o = 0; o < kBinaryOps; ++o) {
      const BinaryOp op = static_cast<BinaryOp>(o);
      for (Layout l : kLayouts) {
        Pair a = operand(l, kShape, dt, 400 + o);
        for (double s : {0.75, -2.5, 3.0}) {  // i64: 0, -2, 3
          std::ostringstream os;
          os << layout_name(l) << ", s = " << s;
          const std::string what = label(k::binary_name(op), dt, os.str());
          if (dt == DType::I64 && !int_binary_ok(op)) {
            INFO(what);
            CHECK_THROWS_AS(k::binary_scalar(op, a.h, s), Error);
            CHECK_THROWS_AS(k::binary_scalar(op, a.d, s), Error);
            continue;
          }
          require_match(k::binary_scalar(op, a.d, s), k::binary_scalar(op, a.h, s), what);
        }
      }
    }
  }
}

TEST_CASE("cuda pow_scalar and pow_scalar_backward: every exponent path, layout and broadcast",
          "[cuda][elementwise]") {
  for (DType dt : kFloatDtypes) {
    for (double p : {2.0, 0.5, -1.0, 3.0, 1.5, -2.5, 0.0}) {
      for (Layout l : kLayouts) {
        for (Values kind : {Values::Positive, Values::Normal}) {
          std::ostringstream os;
          os << "p = " << p << ", " << layout_name(l) << (kind == Values::Positive ? ", positive x" : ", normal x");
          Pair x = operand(l, kShape, dt, 500, kind);
          require_match(k::pow_scalar(x.d, p), k::pow_scalar(x.h, p), label("pow", dt, os.str()));
          Pair dy = operand(kLayouts[(static_cast<int>(l) + 1) % 4], kShape, dt, 501);
          require_match(k::pow_scalar_backward(x.d, p, dy.d), k::pow_scalar_backward(x.h, p, dy.h),
                        label("pow_backward", dt, os.str()));
          Pair dyb = on_both(host_values({129}, dt, 502));  // dy broadcast
          require_match(k::pow_scalar_backward(x.d, p, dyb.d), k::pow_scalar_backward(x.h, p, dyb.h),
                        label("pow_backward", dt, os.str() + ", dy (129)"));
          require_match(k::pow_scalar_backward(dyb.d, p, x.d), k::pow_scalar_backward(dyb.h, p, x.h),
                        label("pow_backward", dt, os.str() + ", x (129) broadcast"));
        }
      }
    }
  }
}

TEST_CASE("cuda compare and compare_scalar: every op, dtype, layout and broadcast give the host's bools",
          "[cuda][elementwise]") {
  for (DType dt : kAllDtypes) {
    for (int o = 0; o < kCompareOps; ++o) {
      const CompareOp op = static_cast<CompareOp>(o);
      for (int li = 0; li < 4; ++li) {
        const Layout la = kLayouts[li], lb = kLayouts[(li + 2) % 4];
        // small integers in every dtype, so that equal pairs are common
        Pair a = operand(la, kShape, dt, 600, Values::Integers);
        Pair b = operand(lb, kShape, dt, 601, Values::Integers);
        Pair c = on_both(host_values({37, 1}, dt, 602, Values::Integers));
        const std::string base = std::string(kCompareNames[o]) + " " + dtype_name(dt) + " " + layout_name(la);
        Tensor g = k::compare(op, a.d, b.d);
        CHECK(g.dtype() == DType::Bool);
        require_match(g, k::compare(op, a.h, b.h), base + " vs " + layout_name(lb));
        require_match(k::compare(op, a.d, c.d), k::compare(op, a.h, c.h), base + " vs (37,1) broadcast");
        require_match(k::compare(op, c.d, a.d), k::compare(op, c.h, a.h), base + " (37,1) broadcast vs it");
        for (double s : {0.0, 1.0, -2.0, 2.5}) {  // i64: 2.5 -> 2; bool: nonzero -> true
          std::ostringstream os;
          os << base << " vs scalar " << s;
          require_match(k::compare_scalar(op, a.d, s), k::compare_scalar(op, a.h, s), os.str());
        }
      }
    }
  }
}

TEST_CASE("cuda where: every dtype, layout and three-way broadcast", "[cuda][elementwise]") {
  for (DType dt : kAllDtypes) {
    for (Layout l : kLayouts) {
      Pair cond = on_both(host_values({3, 1, 129}, DType::Bool, 700));
      Pair cond_full = operand(l, kShape, DType::Bool, 701);
      Pair a = operand(l, kShape, dt, 702);
      Pair b = on_both(host_values({129}, dt, 703));
      Pair s = on_both(host_values({}, dt, 704));
      const std::string what = std::string("where ") + dtype_name(dt) + " a " + layout_name(l);
      require_match(k::where(cond.d, a.d, b.d), k::where(cond.h, a.h, b.h), what + ", cond (3,1,129), b (129)");
      require_match(k::where(cond.d, b.d, s.d), k::where(cond.h, b.h, s.h), what + ", a (129), b 0-d");
      require_match(k::where(cond_full.d, s.d, a.d), k::where(cond_full.h, s.h, a.h),
                    what + ", cond laid out the same, a 0-d");
    }
  }
}

TEST_CASE("cuda clamp and clamp_backward: bounds present or not, boundary values, layouts, broadcast",
          "[cuda][elementwise]") {
  using Opt = std::optional<double>;
  const std::vector<std::pair<Opt, Opt>> bounds = {
      {Opt(-1.0), Opt(2.0)}, {Opt(-1.0), std::nullopt}, {std::nullopt, Opt(2.0)}, {std::nullopt, std::nullopt},
      {Opt(-1.7), Opt(2.9)}};  // i64: -1 and 2
  for (DType dt : {DType::F32, DType::F64, DType::I64}) {
    for (Layout l : kLayouts) {
      // small integers hit the bounds exactly
      Pair x = operand(l, kShape, dt, 800, Values::Integers);
      Pair xn = operand(l, kShape, dt, 801);
      for (const auto& [lo, hi] : bounds) {
        std::ostringstream os;
        os << layout_name(l) << ", lo " << (lo ? std::to_string(*lo) : "none") << ", hi "
           << (hi ? std::to_string(*hi) : "none");
        require_match(k::clamp(x.d, lo, hi), k::clamp(x.h, lo, hi), label("clamp", dt, os.str()));
        require_match(k::clamp(xn.d, lo, hi), k::clamp(xn.h, lo, hi), label("clamp", dt, os.str() + ", normal x"));
        if (dt == DType::I64) continue;
        Pair dy = operand(kLayouts[(static_cast<int>(l) + 1) % 4], kShape, dt, 802);
        Pair dyb = on_both(host_values({37, 1}, dt, 803));
        require_match(k::clamp_backward(x.d, lo, hi, dy.d), k::clamp_backward(x.h, lo, hi, dy.h),
                      label("clamp_backward", dt, os.str()));
        require_match(k::clamp_backward(x.d, lo, hi, dyb.d), k::clamp_backward(x.h, lo, hi, dyb.h),
                      label("clamp_backward", dt, os.str() + ", dy (37,1)"));
        require_match(k::clamp_backward(dyb.d, lo, hi, x.d), k::clamp_backward(dyb.h, lo, hi, x.h),
                      label("clamp_backward", dt, os.str() + ", x (37,1) broadcast"));
      }
    }
  }
}

TEST_CASE("cuda special values: signed zeros, infinities and NaN behave as on the host", "[cuda][elementwise]") {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> v = {0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 40.0, -40.0, 100.0, -100.0, inf, -inf, nan};
  const int64_t n = static_cast<int64_t>(v.size());
  for (DType dt : kFloatDtypes) {
    Tensor base = k::to_dtype(from_vector(v, {n}), dt);
    Pair col = on_both(k::reshape(base, {n, 1}));
    Pair row = on_both(k::reshape(base, {1, n}));
    Pair flat = on_both(base);
    for (int o = 0; o < kUnaryOps; ++o) {
      const UnaryOp op = static_cast<UnaryOp>(o);
      require_match(k::unary(op, flat.d), k::unary(op, flat.h), label(k::unary_name(op), dt, "specials"));
    }
    for (int o = 0; o < kBinaryOps; ++o) {  // every pair of specials through broadcasting
      const BinaryOp op = static_cast<BinaryOp>(o);
      require_match(k::binary(op, col.d, row.d), k::binary(op, col.h, row.h), label(k::binary_name(op), dt, "specials"));
      for (double s : {0.0, -0.0, inf, -inf, nan})
        require_match(k::binary_scalar(op, flat.d, s), k::binary_scalar(op, flat.h, s),
                      label(k::binary_name(op), dt, "specials, scalar " + std::to_string(s)));
    }
    for (int o = 0; o < kCompareOps; ++o) {
      const CompareOp op = static_cast<CompareOp>(o);
      require_match(k::compare(op, col.d, row.d), k::compare(op, col.h, row.h), label(kCompareNames[o], dt, "specials"));
      require_match(k::compare_scalar(op, flat.d, nan), k::compare_scalar(op, flat.h, nan),
                    label(kCompareNames[o], dt, "specials vs NaN"));
    }
    for (double p : {2.0, 0.5, -1.0, 3.0, 1.5, -2.5, 0.0}) {
      require_match(k::pow_scalar(flat.d, p), k::pow_scalar(flat.h, p), label("pow", dt, "specials " + std::to_string(p)));
      require_match(k::pow_scalar_backward(col.d, p, row.d), k::pow_scalar_backward(col.h, p, row.h),
                    label("pow_backward", dt, "specials " + std::to_string(p)));
    }
    require_match(k::clamp(flat.d, -1.0, 2.0), k::clamp(flat.h, -1.0, 2.0), label("clamp", dt, "specials"));
    require_match(k::clamp(flat.d, std::nullopt, std::nullopt), k::clamp(flat.h, std::nullopt, std::nullopt),
                  label("clamp", dt, "specials, no bounds"));
    require_match(k::clamp_backward(col.d, -1.0, 3.0, row.d), k::clamp_backward(col.h, -1.0, 3.0, row.h),
                  label("clamp_backward", dt, "specials"));
    require_match(k::clamp_backward(col.d, std::nullopt, std::nullopt, row.d),
                  k::clamp_backward(col.h, std::nullopt, std::nullopt, row.h),
                  label("clamp_backward", dt, "specials, no bounds"));
    Pair cond = on_both(k::compare_scalar(CompareOp::Gt, k::reshape(base, {n, 1}), 0.0));
    require_match(k::where(cond.d, col.d, row.d), k::where(cond.h, col.h, row.h), label("where", dt, "specials"));
  }
}

TEST_CASE("cuda to_dtype: every dtype pair, contiguous and transposed sources, exact", "[cuda][elementwise]") {
  // values exact in every float type where possible, rounding where not, all inside i64's range
  const std::vector<double> fv = {0.0, -0.0, 0.4, -0.6, 2.5, -3.7, 1e6, 123456789.0, -987654.321, 1.0, -1.0,
                                  7.999, 1e15, -2.0e12, 0.125, 5.0, -0.0625, 3.0, 1e-30, -65536.5, 17.0, 0.0,
                                  42.0, -9.5};
  const std::vector<int64_t> iv = {0, 1, -1, 2, (int64_t(1) << 53) + 1, -123456789012LL, 16777217, 7, -8, 0, 3,
                                   1000000007, -5, 0, 9, (int64_t(1) << 62), -(int64_t(1) << 40) - 3, 11, 12,
                                   -13, 14, 0, 15, -16};
  for (DType from : kAllDtypes) {
    Tensor src;
    switch (from) {
      case DType::F32: src = from_vector(std::vector<float>(fv.begin(), fv.end()), {4, 6}); break;
      case DType::F64: src = from_vector(fv, {4, 6}); break;
      case DType::I64: src = from_vector(iv, {4, 6}); break;
      case DType::Bool: src = k::compare_scalar(CompareOp::Ne, from_vector(iv, {4, 6}), 0.0); break;
    }
    Pair c = on_both(src);
    Pair t = apply(c, [](const Tensor& x) { return k::transpose(x, 0, 1); });
    for (DType to : kAllDtypes) {
      const std::string what = std::string("to_dtype ") + dtype_name(from) + " -> " + dtype_name(to);
      Tensor g = k::to_dtype(c.d, to);
      CHECK(g.device() == gpu());
      require_equal(g, k::to_dtype(c.h, to), what);
      require_equal(k::to_dtype(t.d, to), k::to_dtype(t.h, to), what + ", transposed source");
      if (from == to) CHECK(g.is_same(c.d));  // the host returns the tensor itself
    }
  }
}

TEST_CASE("cuda copy_: into strided destination views, broadcast and strided sources, every dtype pair",
          "[cuda][elementwise]") {
  for (DType dt : kAllDtypes) {
    for (DType st : kAllDtypes) {
      // dst: a (4, 6) view of a (6, 9) base: columns 1, 3, 5, 7, transposed; untouched elements must stay
      auto dst_view = [](const Tensor& b) { return k::transpose(k::slice(b, 1, 1, 9, 2), 0, 1); };
      struct Src {
        std::string name;
        Pair s;
      };
      std::vector<Src> sources;
      sources.push_back({"(4,6) contiguous", on_both(host_values({4, 6}, st, 900))});
      sources.push_back({"(4,6) transposed", apply(on_both(host_values({6, 4}, st, 901)),
                                                   [](const Tensor& x) { return k::transpose(x, 0, 1); })});
      sources.push_back({"(6) broadcast", on_both(host_values({6}, st, 902))});
      sources.push_back({"(4,1) broadcast", on_both(host_values({4, 1}, st, 903))});
      sources.push_back({"0-d", on_both(host_values({}, st, 904))});
      for (const Src& src : sources) {
        const std::string what =
            std::string("copy_ ") + dtype_name(st) + " " + src.name + " into a strided " + dtype_name(dt) + " view";
        Pair base = on_both(host_values({6, 9}, dt, 905));
        k::copy_(dst_view(base.h), src.s.h);
        k::copy_(dst_view(base.d), src.s.d);
        require_equal(base.d, base.h, what);
      }
      // contiguous into contiguous (the plain-copy path when the dtypes agree)
      Pair whole = on_both(host_values({5, 7}, dt, 906));
      Pair src = on_both(host_values({5, 7}, st, 907));
      k::copy_(whole.h, src.h);
      k::copy_(whole.d, src.d);
      require_equal(whole.d, whole.h,
                    std::string("copy_ contiguous ") + dtype_name(st) + " into contiguous " + dtype_name(dt));
    }
  }
}

TEST_CASE("cuda fill_: strided views, whole tensors and 0-d tensors of every dtype", "[cuda][elementwise]") {
  for (DType dt : kAllDtypes) {
    for (double value : {2.5, -1.75, 0.0, 7.0}) {
      std::ostringstream os;
      os << "fill_ " << dtype_name(dt) << " with " << value;
      Pair base = on_both(host_values({5, 8}, dt, 1000));
      auto view = [](const Tensor& b) { return k::transpose(k::slice(b, 1, 0, 8, 2), 0, 1); };
      k::fill_(view(base.h), value);
      k::fill_(view(base.d), value);
      require_equal(base.d, base.h, os.str() + " (strided view)");
      Pair whole = on_both(host_values({3, 4}, dt, 1001));
      k::fill_(whole.h, value);
      k::fill_(whole.d, value);
      require_equal(whole.d, whole.h, os.str() + " (whole)");
      Pair s = on_both(host_values({}, dt, 1002));
      k::fill_(s.h, value);
      k::fill_(s.d, value);
      require_equal(s.d, s.h, os.str() + " (0-d)");
    }
  }
}

TEST_CASE("cuda axpby_: in place on device views, broadcast sources, every beta path", "[cuda][elementwise]") {
  for (DType dt : kFloatDtypes) {
    for (double beta : {1.0, 0.3, 0.0}) {
      for (double alpha : {0.7, -1.0}) {
        std::ostringstream os;
        os << "axpby_ " << dtype_name(dt) << " alpha " << alpha << " beta " << beta;
        auto dst_view = [](const Tensor& b) { return k::transpose(k::slice(b, 1, 1, 9, 2), 0, 1); };  // (4, 6)
        struct Src {
          std::string name;
          Pair s;
        };
        std::vector<Src> sources;
        sources.push_back({"(4,6) contiguous", on_both(host_values({4, 6}, dt, 1100))});
        sources.push_back({"(4,6) transposed", apply(on_both(host_values({6, 4}, dt, 1101)),
                                                     [](const Tensor& x) { return k::transpose(x, 0, 1); })});
        sources.push_back({"(6) broadcast", on_both(host_values({6}, dt, 1102))});
        sources.push_back({"0-d", on_both(host_values({}, dt, 1103))});
        for (const Src& src : sources) {
          Pair base = on_both(host_values({6, 9}, dt, 1104));
          k::axpby_(dst_view(base.h), alpha, src.s.h, beta);
          k::axpby_(dst_view(base.d), alpha, src.s.d, beta);
          require_match(base.d, base.h, os.str() + ", strided dst, src " + src.name);
        }
        // contiguous dst and source of one shape (the fast path), dst the result of a GPU op
        Pair x = on_both(host_values({3, 37, 129}, dt, 1105));
        Pair y = on_both(host_values({3, 37, 129}, dt, 1106));
        Pair d = apply(x, [](const Tensor& t) { return k::unary(UnaryOp::Neg, t); });
        k::axpby_(d.h, alpha, y.h, beta);
        k::axpby_(d.d, alpha, y.d, beta);
        require_match(d.d, d.h, os.str() + ", contiguous");
      }
    }
  }
}

TEST_CASE("cuda elementwise: 8-d strided operands, 9-d limits, empty tensors, a large broadcast",
          "[cuda][elementwise]") {
  // 8 dims that merge with no neighbour (a reversed permutation of a contiguous tensor)
  Pair x8 = apply(on_both(host_randn({2, 3, 2, 2, 2, 2, 2, 3}, 1200)),
                  [](const Tensor& t) { return k::permute(t, {7, 6, 5, 4, 3, 2, 1, 0}); });
  Pair y8 = on_both(host_randn({3, 2, 2, 2, 2, 2, 3, 2}, 1201));
  require_match(k::unary(UnaryOp::Exp, x8.d), k::unary(UnaryOp::Exp, x8.h), "exp, 8-d permuted");
  require_match(k::binary(BinaryOp::Sub, x8.d, y8.d), k::binary(BinaryOp::Sub, x8.h, y8.h), "sub, 8-d permuted");
  require_match(k::where(k::compare(CompareOp::Gt, x8.d, y8.d), x8.d, y8.d),
                k::where(k::compare(CompareOp::Gt, x8.h, y8.h), x8.h, y8.h), "where, 8-d permuted");
  {
    Pair base = on_both(zeros({2, 3, 2, 2, 2, 2, 2, 3}));
    Pair dst = apply(base, [](const Tensor& t) { return k::permute(t, {7, 6, 5, 4, 3, 2, 1, 0}); });
    k::copy_(dst.h, x8.h);
    k::copy_(dst.d, x8.d);
    require_equal(base.d, base.h, "copy_ between two 8-d layouts");
  }
  // 9 dims: contiguous ones merge into one and run; 9 that cannot merge are a clear error
  Pair c9 = on_both(host_randn({2, 1, 2, 2, 3, 2, 1, 2, 2}, 1202));
  require_match(k::unary(UnaryOp::Tanh, c9.d), k::unary(UnaryOp::Tanh, c9.h), "tanh, 9-d contiguous");
  Pair p9 = apply(on_both(host_randn({2, 2, 2, 2, 2, 2, 2, 2, 2}, 1203)),
                  [](const Tensor& t) { return k::permute(t, {8, 7, 6, 5, 4, 3, 2, 1, 0}); });
  CHECK_THROWS_AS(k::unary(UnaryOp::Neg, p9.d), Error);
  // empty tensors: right shapes, nothing launched
  for (DType dt : {DType::F32, DType::I64}) {
    Pair e = on_both(Tensor::empty({0, 5}, dt));
    Pair b = on_both(host_values({5}, dt, 1204));
    require_match(k::unary(UnaryOp::Neg, e.d), k::unary(UnaryOp::Neg, e.h), "neg of (0,5)");
    require_match(k::binary(BinaryOp::Add, e.d, b.d), k::binary(BinaryOp::Add, e.h, b.h), "(0,5) + (5)");
    require_match(k::compare(CompareOp::Lt, b.d, e.d), k::compare(CompareOp::Lt, b.h, e.h), "(5) < (0,5)");
    require_match(k::to_dtype(e.d, DType::F64), k::to_dtype(e.h, DType::F64), "to_dtype of (0,5)");
    k::fill_(e.d, 1.0);
    k::copy_(e.d, b.d);
    k::copy_(e.d, e.d);
    CHECK(e.d.numel() == 0);
  }
  // a large transposed operand with a broadcast one: ~4.9M elements, many grid-stride rounds
  Pair big = apply(on_both(host_randn({64, 300, 257}, 1205)), [](const Tensor& t) { return k::transpose(t, 0, 2); });
  Pair bias = on_both(host_randn({64}, 1206));
  require_match(k::binary(BinaryOp::Mul, big.d, bias.d), k::binary(BinaryOp::Mul, big.h, bias.h),
                "mul, (257,300,64) transposed by (64)");
  require_match(k::unary(UnaryOp::Gelu, big.d), k::unary(UnaryOp::Gelu, big.h), "gelu, (257,300,64) transposed");
}
