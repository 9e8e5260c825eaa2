// P3B (Pruning by Block Benefit; METHODS.md §2, with §2.7 taking precedence): the state of one pruning
// run on a dense ViT. It attaches the six gates of every block and the sub-block feature tap, owns the
// Block Performance Indicator heads, accumulates ΔΨ and gate scores (m·dL/dm)² per loader iteration,
// re-derives every sub-block's keep ratio and soft masks at a fixed iteration interval (elements come
// back when a block's ratio grows), and at the end slices the model by the hard masks. The training
// loop is the caller's (recipes/common/p3b_training.h plugs this into train::Trainer).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/parameter_slice.h"
#include "nn/prune_log.h"
#include "nn/vision_transformer.h"
#include "pruning/p3b_heads.h"
#include "pruning/p3b_keep_ratio.h"
#include "pruning/p3b_mask.h"

namespace shears::pruning {

// How the global parameter budget is shared among the sub-blocks.
enum class P3bAllocation {
  BlockBenefit,  // the paper: water-filling by ΔΨ importance (METHODS §2.3)
  Uniform,       // control: every sub-block keeps the same fraction of its parameters (same total budget)
};

struct P3bOptions {
  double prune_ratio = 0.5;         // fraction of the model's parameters removed (kr_model = 1 - ratio)
  bool block_params_only = false;   // the ratio counts block parameters only (--prune-rate-by-block-param-only)
  // Schedule in data-loader iterations (METHODS §2.7): ΔΨ and scores accumulate from `start`, the keep
  // ratios ramp from 1 at `start` to their goals at `sparse`, τ anneals τ_max -> τ_min from `sparse` to
  // `finalize`, and masks are updated every `update_interval` iterations in [start, finalize).
  int64_t start = 0, sparse = 0, finalize = 0, update_interval = 100;
  KeepRatioOptions keep;            // S = 10, γ = 0.2, α = 0.5, 20 water-filling passes
  GateFactors factors;              // attn_out 1.5, mlp_hid 0.75, mlp_out 1.5, others 1
  double tau_max = 0.1, tau_min = 0.0;
  BpiHeadOptions heads;             // patch_width 0 = the model width (the paper)
  P3bAllocation allocation = P3bAllocation::BlockBenefit;
  bool reactivation = true;         // false (control): an element once hard-pruned stays pruned (inside the search)
  uint64_t seed = 0;                // initialisation of the BPI heads

  void validate() const;            // throws naming the bad option
  std::string describe() const;     // one line with every value (for logs and the prune step)
};

// One mask update, for the per-sub-block table and the ΔΨ-over-time picture.
struct P3bUpdate {
  int64_t iteration = 0;                          // loader iterations done when the update ran
  bool final = false;                             // the finalize update
  double tau = 0;
  std::vector<double> benefit_cls, benefit_patch;  // mean ΔΨ of the window per sub-block (NaN: no data)
  std::vector<double> importance;                  // α-mix after EMA (empty for the uniform control)
  std::vector<double> goal_keep_ratio, keep_ratio;  // goal (water-filling) and ramped
  std::vector<int64_t> kept_params, unpruned_params;  // per sub-block after the update (hard masks)
  int64_t reactivated = 0;                         // elements hard-kept now that were hard-pruned before
};

class P3bPruner {
 public:
  // Attaches the gates (requires_grad, for the scores) and the feature tap to `model` (a dense ViT with a
  // cls token, no token pruning, no earlier P3B subsets) and builds the heads for `num_classes`.
  P3bPruner(nn::VisionTransformer& model, int64_t num_classes, P3bOptions options);
  ~P3bPruner();
  P3bPruner(const P3bPruner&) = delete;
  P3bPruner& operator=(const P3bPruner&) = delete;

  BlockPerformanceHeads& heads() { return *heads_; }
  const P3bOptions& options() const { return opt_; }
  int64_t sub_blocks() const { return static_cast<int64_t>(branches_.size()); }

  // After the model's forward on a training batch: the heads' loss, to add to the training loss
  // (`criterion`: the run's loss on logits (B, classes)). Accumulates ΔΨ from `start`.
  Tensor heads_loss(const std::function<Tensor(const Tensor& logits)>& criterion);
  // After backward: adds (m · dL/dm)² of every gate element from `start`, then clears the gate grads.
  void after_backward();
  // After the optimizer step: counts the iteration and runs a mask update when one is due.
  void after_iteration();
  int64_t iterations() const { return iterations_; }

  // The last update (ramp 1), hard masks, physical slicing (surgery.h slice_by_gates); detaches the
  // gates, the feature tap and the heads from the model. Returns the slices made. Once only.
  std::vector<nn::ParameterSlice> finalize();
  bool finalized() const { return finalized_; }
  // kind "p3b", method "p3b:ratio=<r>", params (options, final keep ratios), kept per sliced tensor family.
  nn::PruneStep step() const;

  const std::vector<P3bUpdate>& updates() const { return updates_; }
  int64_t total_reactivated() const;
  // Per sub-block parameters: unpruned (W_b: Linear weights + biases + LayerNorm) and kept now by
  // the hard masks as the sliced branch will hold them (kept Linear entries + the kept LayerNorm
  // entries); "attn i" / "mlp i" names.
  std::vector<int64_t> unpruned_params() const;
  std::vector<int64_t> kept_params() const;
  std::string sub_block_name(int64_t j) const;

 private:
  struct Branch {
    int64_t block = 0;
    bool attention = true;
    BranchShape shape;
    std::vector<double> score_in, score_mid, score_out;  // window sums of (m dL/dm)²
    int64_t score_count = 0;
    BranchSelection selection;                           // the last one
    bool has_selection = false;
  };
  void update_masks(bool final);
  std::vector<int64_t> remaining_params() const;  // the authors' "remaining" (whole LayerNorm) for ΔΨ normalising
  void set_gates(const Branch& b, const BranchMasks& masks);
  BranchMasks hard_masks(const Branch& b) const;
  std::vector<Tensor> gates_of(const Branch& b) const;  // in, mid, out

  nn::VisionTransformer& model_;
  P3bOptions opt_;
  std::unique_ptr<BlockPerformanceHeads> heads_;
  std::vector<Branch> branches_;
  int64_t nonblock_params_ = 0;
  std::vector<double> benefit_cls_sum_, benefit_patch_sum_;
  std::vector<int64_t> benefit_count_;
  // the window before the current one (finalize adds it, METHODS §2.7)
  std::vector<double> prev_cls_sum_, prev_patch_sum_;
  std::vector<int64_t> prev_count_;
  std::vector<std::vector<double>> prev_scores_;
  std::vector<int64_t> prev_score_count_;
  BlockImportance importance_;
  std::vector<P3bUpdate> updates_;
  int64_t iterations_ = 0;
  bool finalized_ = false;
  std::vector<nn::ParameterSlice> slices_;
  std::vector<double> final_keep_ratio_;
};

std::string p3b_allocation_name(P3bAllocation a);
P3bAllocation parse_p3b_allocation(const std::string& text);  // "benefit" | "uniform"

}  // namespace shears::pruning
