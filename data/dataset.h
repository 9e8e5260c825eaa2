// The data interfaces every loader and transform shares: a Dataset of (input, label)
// samples with thread-safe random access, per-sample transforms that draw from a
// Generator keyed by (seed, epoch, index) so a batch is identical on any thread count,
// and the Batch a DataLoader hands to the trainer.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace shears::data {

struct Sample {
  Tensor input;       // images (C, H, W) or clips (C, T, H, W), f32, values in [0, 1] before normalize
  int64_t label = 0;  // class index
  int64_t group = -1; // e.g. the video a clip comes from (clip-level datasets), else -1
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Must be safe to call from several threads at once.
  virtual Sample get(int64_t index) const = 0;
  virtual int64_t num_classes() const = 0;
  virtual std::string describe() const { return "dataset"; }
};

// A per-sample transform (crop, flip, normalize, erasing ...): input -> output with
// randomness drawn only from `gen`.
using Transform = std::function<Tensor(const Tensor& input, Generator& gen)>;
// Applies transforms in order.
Transform compose(std::vector<Transform> transforms);

// The per-sample generator of a loader: stream derived from (epoch, index), so the same
// sample of the same epoch gets the same randomness whatever thread decodes it.
Generator sample_generator(uint64_t seed, int64_t epoch, int64_t index);

struct Batch {
  Tensor inputs;                // (B, C, H, W) or (B, C, T, H, W) f32
  Tensor labels;                // (B,) i64
  Tensor targets;               // (B, num_classes) soft targets when Mixup/CutMix/smoothing made them, else undefined
  std::vector<int64_t> indices; // dataset indices of the samples
  std::vector<int64_t> groups;  // Sample::group of each sample
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

// A batch-level transform (Mixup/CutMix): edits inputs and fills targets.
using BatchTransform = std::function<void(Batch& batch, Generator& gen)>;

}  // namespace shears::data
