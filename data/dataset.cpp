// compose() and the per-sample generator of the data pipeline. Random streams of the
// data layer (all under the run's seed) are laid out so they never collide; see
// kSampleStreamTag below and the batch/permutation streams in data_loader.cpp.
#include "data/dataset.h"

#include "tensor/error.h"

namespace shears::data {

// Stream layout of the data layer's Philox generators (key = the loader's seed):
//   bits 62..63  kind: 0 = epoch permutation, 1 = per-sample transforms, 2 = batch transform
//   bits 40..61  epoch (22 bits: up to 4M epochs)
//   bits  0..39  sample index in the dataset (kind 1) or batch index in the epoch (kind 2)
// So stream(kind=1, epoch, index) = (1 << 62) | (epoch << 40) | index, i.e. the
// "(epoch << 40) ^ index ^ constant" scheme with the constant in bits the other two
// fields never reach. Permutation streams are the bare epoch (kind 0).
namespace {
constexpr uint64_t kSampleStreamTag = uint64_t{1} << 62;
constexpr uint64_t kEpochBits = 22, kIndexBits = 40;
}  // namespace

Transform compose(std::vector<Transform> transforms) {
  std::vector<Transform> kept;
  for (auto& t : transforms)
    if (t) kept.push_back(std::move(t));
  return [kept = std::move(kept)](const Tensor& input, Generator& gen) {
    Tensor x = input;
    for (const auto& t : kept) x = t(x, gen);
    return x;
  };
}

Generator sample_generator(uint64_t seed, int64_t epoch, int64_t index) {
  SHEARS_CHECK(epoch >= 0 && static_cast<uint64_t>(epoch) < (uint64_t{1} << kEpochBits), "sample_generator",
               "epoch ", epoch, " out of range [0, 2^22)");
  SHEARS_CHECK(index >= 0 && static_cast<uint64_t>(index) < (uint64_t{1} << kIndexBits), "sample_generator",
               "index ", index, " out of range [0, 2^40)");
  const uint64_t stream = kSampleStreamTag | (static_cast<uint64_t>(epoch) << kIndexBits) |
                          static_cast<uint64_t>(index);
  return Generator(seed, stream);
}

}  // namespace shears::data
