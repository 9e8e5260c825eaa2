// fast_math's row reductions (row_sum, row_dot, row_max) against their written-out algorithm: element i goes to
// lane i % 32 (float) or i % 16 (double), the lanes are combined pairwise (w = L/2, L/4, ..., 1). On AVX2 builds
// the float forms run with their lanes in registers and masked tails (tensor/fast_math.h); they must give the same
// bits as the array form for every length (the tails, rows shorter than one register, empty rows) and for the
// awkward values (-0, NaN, infinities).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "tensor/fast_math.h"

using namespace shears;

namespace {

template <typename T>
constexpr int kOracleLanes = 128 / sizeof(T);

template <typename T>
T pairwise_sum(std::vector<T> acc) {
  for (size_t w = acc.size() / 2; w >= 1; w /= 2)
    for (size_t l = 0; l < w; ++l) acc[l] += acc[l + w];
  return acc[0];
}

template <typename T>
T oracle_sum(const std::vector<T>& x) {
  std::vector<T> acc(kOracleLanes<T>, T(0));
  for (size_t i = 0; i < x.size(); ++i) acc[i % acc.size()] += x[i];
  return pairwise_sum(acc);
}

// one fused multiply-add per element (what the register form does and what GCC makes of the array form at -O2)
template <typename T>
T oracle_dot(const std::vector<T>& x, const std::vector<T>& y) {
  std::vector<T> acc(kOracleLanes<T>, T(0));
  for (size_t i = 0; i < x.size(); ++i) acc[i % acc.size()] = std::fma(x[i], y[i], acc[i % acc.size()]);
  return pairwise_sum(acc);
}

template <typename T>
T oracle_max(const std::vector<T>& x) {
  std::vector<T> acc(kOracleLanes<T>, -std::numeric_limits<T>::infinity());
  for (size_t i = 0; i < x.size(); ++i) {
    T& a = acc[i % acc.size()];
    a = x[i] > a ? x[i] : a;
  }
  for (size_t w = acc.size() / 2; w >= 1; w /= 2)
    for (size_t l = 0; l < w; ++l) acc[l] = acc[l + w] > acc[l] ? acc[l + w] : acc[l];
  return acc[0];
}

template <typename T>
bool same_bits(T a, T b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// values of very different magnitudes, so that a different summation order changes the rounding
template <typename T>
std::vector<T> awkward_row(size_t n, uint32_t seed, bool specials) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::uniform_int_distribution<int> e(-20, 20);
  std::vector<T> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = T(std::ldexp(u(gen), e(gen)));
  if (specials && n > 0) {
    x[gen() % n] = T(-0.0);
    x[gen() % n] = std::numeric_limits<T>::quiet_NaN();
  }
  return x;
}

const size_t kLengths[] = {0, 1, 5, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 63, 64, 65, 100, 197, 384, 1000, 1537};

}  // namespace

TEST_CASE("fast_math row_sum / row_dot / row_max follow the pairwise lane algorithm bit for bit", "[tensor][fast_math]") {
  for (const size_t n : kLengths) {
    INFO("n = " << n);
    // the row sits at an odd offset in its buffer (unaligned loads) with a guard value after it (a tail that read
    // past n would take it in)
    std::vector<float> buf(n + 3, 1e30f), ybuf(n + 3, -1e30f);
    const std::vector<float> x = awkward_row<float>(n, 11 + uint32_t(n), false);
    const std::vector<float> y = awkward_row<float>(n, 97 + uint32_t(n), false);
    std::copy(x.begin(), x.end(), buf.begin() + 1);
    std::copy(y.begin(), y.end(), ybuf.begin() + 1);
    CHECK(same_bits(fast_math::row_sum(buf.data() + 1, int64_t(n)), oracle_sum(x)));
    CHECK(same_bits(fast_math::row_max(buf.data() + 1, int64_t(n)), oracle_max(x)));
#ifdef SHEARS_ROW_LANES_AVX2
    CHECK(same_bits(fast_math::row_dot(buf.data() + 1, ybuf.data() + 1, int64_t(n)), oracle_dot(x, y)));
#else
    // the array form's products are fused or not as the compiler contracts them: within float rounding of the
    // exact dot instead of the bits
    double exact = 0, scale = 0;
    for (size_t i = 0; i < n; ++i) exact += double(x[i]) * y[i], scale += std::fabs(double(x[i]) * y[i]);
    CHECK(std::fabs(fast_math::row_dot(buf.data() + 1, ybuf.data() + 1, int64_t(n)) - exact) <= 1e-5 * scale);
#endif
    const std::vector<double> xd = awkward_row<double>(n, 5 + uint32_t(n), false);
    CHECK(same_bits(fast_math::row_sum(xd.data(), int64_t(n)), oracle_sum(xd)));
    CHECK(same_bits(fast_math::row_max(xd.data(), int64_t(n)), oracle_max(xd)));
  }
}

TEST_CASE("fast_math row reductions: -0, NaN and infinities as the array form treats them", "[tensor][fast_math]") {
  for (const size_t n : kLengths) {
    if (n == 0) continue;
    INFO("n = " << n);
    const std::vector<float> x = awkward_row<float>(n, 23 + uint32_t(n), true);
    CHECK(same_bits(fast_math::row_sum(x.data(), int64_t(n)), oracle_sum(x)));
    CHECK(same_bits(fast_math::row_max(x.data(), int64_t(n)), oracle_max(x)));
    // rows of -0 only: every lane starts at +0 and +0 + -0 = +0, so the sum is +0 (a padded tail must not flip it)
    const std::vector<float> negzero(n, -0.0f);
    const float s = fast_math::row_sum(negzero.data(), int64_t(n));
    CHECK(!std::signbit(s));
    CHECK(same_bits(fast_math::row_dot(negzero.data(), negzero.data(), int64_t(n)), 0.0f));
    const std::vector<float> pos(n, 1.0f);
    CHECK(!std::signbit(fast_math::row_dot(negzero.data(), pos.data(), int64_t(n))));
    // all NaN: max skips them all (-inf); one +inf wins; a -inf row stays -inf
    const std::vector<float> nan(n, std::numeric_limits<float>::quiet_NaN());
    CHECK(fast_math::row_max(nan.data(), int64_t(n)) == -std::numeric_limits<float>::infinity());
    std::vector<float> with_inf = awkward_row<float>(n, 31 + uint32_t(n), false);
    with_inf[n - 1] = std::numeric_limits<float>::infinity();
    CHECK(fast_math::row_max(with_inf.data(), int64_t(n)) == std::numeric_limits<float>::infinity());
    CHECK(std::isinf(fast_math::row_sum(with_inf.data(), int64_t(n))));
    const std::vector<float> minf(n, -std::numeric_limits<float>::infinity());
    CHECK(fast_math::row_max(minf.data(), int64_t(n)) == -std::numeric_limits<float>::infinity());
    // the last element alone decides the max (it sits in the masked tail for most n)
    std::vector<float> last(n, -1.0f);
    last[n - 1] = 3.0f;
    CHECK(fast_math::row_max(last.data(), int64_t(n)) == 3.0f);
  }
  CHECK(fast_math::row_max(static_cast<const float*>(nullptr), 0) == -std::numeric_limits<float>::infinity());
  CHECK(same_bits(fast_math::row_sum(static_cast<const float*>(nullptr), 0), 0.0f));
}
