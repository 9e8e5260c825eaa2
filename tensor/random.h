// Counter-based random numbers (Philox-4x32-10). A Generator is a (seed, offset) pair;
// element i of a draw is a pure function of (seed, stream, offset + i), so results are
// identical whatever the thread count or chunking. Each draw advances the offset.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace shears {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0, uint64_t stream = 0) : seed_(seed), stream_(stream) {}
  uint64_t seed() const { return seed_; }
  uint64_t stream() const { return stream_; }
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t offset) { offset_ = offset; }
  // Reserves n counters and returns the first.
  uint64_t advance(uint64_t n) {
    uint64_t o = offset_;
    offset_ += n;
    return o;
  }
  // Scalar draws for host-side logic (augmentation parameters, shuffles).
  double uniform();                      // [0, 1)
  double normal();                       // N(0, 1)
  int64_t randint(int64_t low, int64_t high);  // [low, high)

 private:
  uint64_t seed_, stream_, offset_ = 0;
};

// The process-wide default generator, used when no generator is passed.
Generator& default_generator();
void manual_seed(uint64_t seed);

// Raw Philox block: 4 x 32-bit outputs for counter (ctr_lo, ctr_hi) and key.
void philox4x32(uint64_t counter, uint64_t stream, uint64_t key, uint32_t out[4]);

// Uniform in [0, 1) and standard normal for element `index` of a draw.
double uniform_at(uint64_t seed, uint64_t stream, uint64_t index);
double normal_at(uint64_t seed, uint64_t stream, uint64_t index);

Tensor rand(const Shape& shape, DType dtype = DType::F32, Generator* gen = nullptr);
Tensor randn(const Shape& shape, DType dtype = DType::F32, Generator* gen = nullptr);
// Uniform in [low, high)
Tensor uniform(const Shape& shape, double low, double high, DType dtype = DType::F32,
               Generator* gen = nullptr);
// Elements are 1 with probability p (same dtype as requested: float 0/1 or bool)
Tensor bernoulli(const Shape& shape, double p, DType dtype = DType::F32, Generator* gen = nullptr);
// A random permutation of 0..n-1 (i64)
Tensor randperm(int64_t n, Generator* gen = nullptr);

}  // namespace shears
