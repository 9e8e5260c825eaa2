// Data-parallel training over the ranks of dist::world: every rank builds the same global batch
// (the loader is deterministic), trains on its contiguous share (train::TrainerOptions::shard_*),
// and the DataParallel controller sums the gradients over the ranks in fixed-order buckets right
// after backward, so every rank applies the same AdamW step to the same weights. Add it to the
// Trainer FIRST (before controllers that read or edit gradients). Rank 0 prints and writes files.
#pragma once
#include <cstdint>
#include <vector>

#include "train/controller.h"
#include "train/trainer.h"

namespace shears::dist {

struct DataParallelOptions {
  // Gradients are packed, in named_parameters order, into flat float buffers of about this size,
  // each summed with one all-reduce (fixed bucket boundaries: a fixed reduction order).
  int64_t bucket_bytes = int64_t(4) << 20;
  // After every optimizer step, check (one 16-byte all-reduce) that all ranks hold bit-identical
  // weights; a mismatch throws naming the step.
  bool check_replicas = false;
};

class DataParallel : public train::TrainingController {
 public:
  explicit DataParallel(DataParallelOptions options = {});
  // Sums every parameter's gradient over the ranks (a no-op on one rank).
  void after_backward(nn::VisionTransformer& model, int64_t step) override;
  void after_step(nn::VisionTransformer& model, int64_t step) override;

  // Measurements of the last after_backward: seconds spent in the all-reduces (packing included)
  // and float elements reduced.
  double last_allreduce_seconds() const { return last_seconds_; }
  int64_t last_allreduce_elements() const { return last_elements_; }
  double total_allreduce_seconds() const { return total_seconds_; }

 private:
  DataParallelOptions opts_;
  std::vector<float> bucket_;
  double last_seconds_ = 0, total_seconds_ = 0;
  int64_t last_elements_ = 0;
};

// Sums the gradients of `params` over the ranks in buckets of `bucket_bytes` (in place). A
// parameter whose gradient is undefined on every rank is skipped; one defined on some ranks only
// gets zeros on the others first. Returns the number of float elements reduced.
int64_t allreduce_gradients(const std::vector<Tensor>& params, int64_t bucket_bytes, std::vector<float>& bucket);

// Points `options` at this rank's share of every global batch (shard_rank / shard_count) and keeps
// the output on rank 0: the other ranks train quietly and write no log file.
void shard_trainer_options(train::TrainerOptions& options);

}  // namespace shears::dist
