// P3B as a composable transform ("p3b:ratio=0.5:epochs=2"): a pruning run on the caller's data through
// PruneContext::train (the BPI heads' loss, gate scores and mask updates as TrainingHooks), then the
// physical slicing. The schedule (start / sparse / finalize) is sized from the run's iterations per
// epoch, as fractions of the run (the authors' 10 / 25 / 50 epochs -> 0.2 / 0.5 / 1).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pruning/p3b.h"
#include "pruning/transform.h"

namespace shears::pruning {

struct P3bTransformOptions {
  P3bOptions p3b;               // start/sparse/finalize are filled from the fractions at apply time
  int64_t epochs = 1;           // of the pruning run
  double start_fraction = 0.2, sparse_fraction = 0.5;
  double head_lr = 5e-4;
};

class P3bPruning : public Transform {
 public:
  explicit P3bPruning(P3bTransformOptions options);
  std::string name() const override;  // "p3b:ratio=<r>:epochs=<n>[:allocation=uniform][:reactivation=0][:interval=<n>]"
  nn::PruneStep apply(nn::VisionTransformer& model, PruneContext& ctx) override;

  const P3bTransformOptions& options() const { return opt_; }
  // The last apply's trace (empty before): mask updates, per sub-block names and unpruned params.
  const std::vector<P3bUpdate>& updates() const { return updates_; }
  const std::vector<std::string>& sub_block_names() const { return names_; }
  const std::vector<int64_t>& unpruned_params() const { return unpruned_; }
  int64_t reactivated() const { return reactivated_; }
  int64_t heads_macs_per_image() const { return heads_macs_; }

 private:
  P3bTransformOptions opt_;
  std::vector<P3bUpdate> updates_;
  std::vector<std::string> names_;
  std::vector<int64_t> unpruned_;
  int64_t reactivated_ = 0, heads_macs_ = 0;
};

// The schedule of a run of `epochs` x `per_epoch` iterations: finalize = the run's end, start and
// sparse at the fractions (rounded half away from zero). Throws naming the fraction when invalid.
void size_p3b_schedule(P3bOptions& options, int64_t per_epoch, int64_t epochs, double start_fraction,
                       double sparse_fraction);

// "p3b:..." after "p3b:" (parse_step's grammar); throws with the expected form.
std::shared_ptr<Transform> parse_p3b_step(const std::string& rest);

}  // namespace shears::pruning
