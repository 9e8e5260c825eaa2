// Philox-4x32-10 counter-based generator and the random tensor constructors. Element i
// of a draw uses counter (offset + i, stream) under key seed, so values never depend
// on how the loop is split over threads.
#include "tensor/random.h"

#include <cmath>

#include "tensor/parallel.h"

namespace shears {

void philox4x32(uint64_t counter, uint64_t stream, uint64_t key, uint32_t out[4]) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
  uint32_t c2 = static_cast<uint32_t>(stream), c3 = static_cast<uint32_t>(stream >> 32);
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    uint32_t n1 = static_cast<uint32_t>(p1);
    uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    uint32_t n3 = static_cast<uint32_t>(p0);
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

double uniform_at(uint64_t seed, uint64_t stream, uint64_t index) {
  uint32_t r[4];
  philox4x32(index, stream, seed, r);
  uint64_t bits = (static_cast<uint64_t>(r[0]) << 21) ^ (r[1] >> 11);  // 53 random bits
  return static_cast<double>(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

double normal_at(uint64_t seed, uint64_t stream, uint64_t index) {
  uint32_t r[4];
  philox4x32(index, stream, seed, r);
  // Box-Muller on two 32-bit uniforms; u1 in (0, 1] so log is finite
  double u1 = (static_cast<double>(r[2]) + 1.0) * (1.0 / 4294967296.0);
  double u2 = static_cast<double>(r[3]) * (1.0 / 4294967296.0);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

double Generator::uniform() { return uniform_at(seed_, stream_, advance(1)); }
double Generator::normal() { return normal_at(seed_, stream_, advance(1)); }
int64_t Generator::randint(int64_t low, int64_t high) {
  SHEARS_CHECK(high > low, "randint", "empty range [", low, ", ", high, ")");
  uint32_t r[4];
  philox4x32(advance(1), stream_, seed_, r);
  uint64_t bits = (static_cast<uint64_t>(r[0]) << 32) | r[1];
  unsigned __int128 scaled = static_cast<unsigned __int128>(bits) * static_cast<uint64_t>(high - low);
  return low + static_cast<int64_t>(scaled >> 64);
}

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator() = Generator(seed); }

namespace {
// Fills a fresh tensor with value_at(index) in parallel.
template <typename F>
Tensor fill_random(const Shape& shape, DType dtype, const char* op, F value_at) {
  Tensor out = Tensor::empty(shape, dtype);
  const int64_t n = out.numel();
  SHEARS_DISPATCH_ALL(dtype, op, [&] {
    scalar_t* p = out.data<scalar_t>();
    parallel_for(n, 8192, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) p[i] = static_cast<scalar_t>(value_at(static_cast<uint64_t>(i)));
    });
  });
  return out;
}
}  // namespace

Tensor rand(const Shape& shape, DType dtype, Generator* gen) { return uniform(shape, 0.0, 1.0, dtype, gen); }

Tensor uniform(const Shape& shape, double low, double high, DType dtype, Generator* gen) {
  SHEARS_CHECK(is_floating(dtype), "uniform", "expected f32 or f64, got ", dtype_name(dtype));
  Generator& g = gen ? *gen : default_generator();
  const uint64_t base = g.advance(static_cast<uint64_t>(shape_numel(shape)));
  const uint64_t seed = g.seed(), stream = g.stream();
  return fill_random(shape, dtype, "uniform", [=](uint64_t i) {
    double v = low + (high - low) * uniform_at(seed, stream, base + i);
    if (dtype == DType::F32 && static_cast<float>(v) >= static_cast<float>(high)) v = std::nextafter(float(high), float(low));
    return v;
  });
}

Tensor randn(const Shape& shape, DType dtype, Generator* gen) {
  SHEARS_CHECK(is_floating(dtype), "randn", "expected f32 or f64, got ", dtype_name(dtype));
  Generator& g = gen ? *gen : default_generator();
  const uint64_t base = g.advance(static_cast<uint64_t>(shape_numel(shape)));
  const uint64_t seed = g.seed(), stream = g.stream();
  return fill_random(shape, dtype, "randn", [=](uint64_t i) { return normal_at(seed, stream, base + i); });
}

Tensor bernoulli(const Shape& shape, double p, DType dtype, Generator* gen) {
  SHEARS_CHECK(p >= 0.0 && p <= 1.0, "bernoulli", "probability must be in [0, 1], got ", p);
  Generator& g = gen ? *gen : default_generator();
  const uint64_t base = g.advance(static_cast<uint64_t>(shape_numel(shape)));
  const uint64_t seed = g.seed(), stream = g.stream();
  return fill_random(shape, dtype, "bernoulli",
                     [=](uint64_t i) { return uniform_at(seed, stream, base + i) < p ? 1.0 : 0.0; });
}

Tensor randperm(int64_t n, Generator* gen) {
  SHEARS_CHECK(n >= 0, "randperm", "n must be >= 0, got ", n);
  Generator& g = gen ? *gen : default_generator();
  Tensor out = Tensor::empty({n}, DType::I64);
  int64_t* p = out.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[g.randint(0, i + 1)]);  // Fisher-Yates
  return out;
}

}  // namespace shears
