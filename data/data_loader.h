// DataLoader: batches of a Dataset with seeded shuffling (one permutation per epoch from
// (seed, epoch)), oneTBB-parallel decoding and per-sample transforms, an optional batch
// transform (Mixup/CutMix), drop_last, and a background prefetch of the next batches.
// The batch sequence depends only on (seed, epoch, options), never on thread timing, and
// a loader can resume mid-epoch (for exact training resume).
#pragma once
#include <memory>

#include "data/dataset.h"

namespace shears::data {

struct LoaderOptions {
  int64_t batch_size = 128;
  bool shuffle = true;
  bool drop_last = true;
  uint64_t seed = 0;
  int64_t prefetch = 2;  // batches produced ahead in the background (0 = synchronous)
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options, Transform transform = nullptr,
             BatchTransform batch_transform = nullptr);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t batches_per_epoch() const;
  // Starts epoch `epoch` at batch `first_batch` (0 = the beginning; >0 to resume).
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The next batch of the current epoch; false at the end of the epoch.
  bool next(Batch& batch);
  int64_t epoch() const;
  int64_t next_batch_index() const;  // for checkpoints: where a resumed run continues
  const Dataset& dataset() const;
  // Seconds the caller spent waiting in next() since the last call (data-wait time).
  double take_wait_seconds();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shears::data
