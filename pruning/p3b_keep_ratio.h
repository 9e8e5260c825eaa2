// P3B keep ratios per sub-block (METHODS.md §2.3 with §2.7; the authors' PruneLoss.transform_imp_block,
// get_imp_block, get_kr_blockwise, update_kr_block, _get_new_mask): block benefit ΔΨ -> importance
// (soft clamp, per-parameter, mean 1), EMA across mask updates and the cls/patch mix, water-filling to the
// global parameter budget, the keep-ratio ramp and the mask temperature τ. Model-free: plain vectors.
#pragma once
#include <cstdint>
#include <vector>

namespace shears::pruning {

struct KeepRatioOptions {
  double scale = 10.0;         // S: --pr-block-imp-scale (the peak of the soft clamp)
  double gamma = 0.2;          // γ: --pr-gamma (weight of the new importance in the EMA)
  double alpha = 0.5;          // α: --pr-alpha (weight of the cls stream in the mix)
  int max_passes = 20;         // water-filling passes (the authors assert after 20)
  double softplus_beta = 1.4;  // the authors' hard-coded 1.4 in softplus(1.4·x) − softplus(1.4·x − S)
  // Rule for a negative max ΔΨ (every block of the stream hurts). false (default, our choice): scale by
  // S / max|ΔΨ| so the order is kept (the least harmful block gets the most). true: divide by the negative
  // max as the authors' code does, which inverts the order (METHODS §2.7).
  bool invert_all_negative = false;
  // The authors compute in float32: after the division by the remaining parameters an importance below the
  // smallest float32 (denormal, 1.4e-45) is 0, and a block whose mixed importance is 0 is disabled. Values
  // below this floor are set to 0 to reproduce that; 0 = never flush (pure double arithmetic).
  double underflow_floor = 1.401298464324817e-45;

  void validate() const;  // throws naming the bad field
};

// Softplus as PyTorch's nn.Softplus() (beta 1, threshold 20): x when x > 20, else log(1 + e^x).
double torch_softplus(double x);

// Steps 1-4 of METHODS §2.3 for one stream (cls or patch); every vector has one entry per sub-block:
//   1. b_j = benefit_sum_j / count_j; count_j == 0 (no data) gives b_j = 0 (our rule: no evidence is
//      treated as zero benefit, i.e. neither pruned away nor favoured; §2.7: a zero-benefit block is kept).
//   2. x_j = b_j · S / max_j b_j. max > 0: as the authors. max < 0: see invert_all_negative. max == 0
//      (no positive benefit): S / max|b|; every b == 0: x = 0 (our guards for the authors' 0/0).
//   3. c_j = softplus(β·x_j) − softplus(β·x_j − S) (≈ [0, S]; x = 0 gives ln 2 − softplus(−S) ≈ 0.6931)
//   4. p_j = c_j / (remaining_params_j + 1e-6), flushed to 0 below underflow_floor; result p_j / mean(p).
// remaining_params: the sub-block's parameters now (the authors: kept Linear weights + biases + its whole
// LayerNorm, kept_params() of p3b_mask.h). Throws when sizes differ, a count or a parameter count is
// negative, a value is not finite, or every p_j is 0 (the mean cannot normalise).
std::vector<double> transform_benefit(const std::vector<double>& benefit_sum, const std::vector<int64_t>& count,
                                      const std::vector<double>& remaining_params, const KeepRatioOptions& opt);

// The EMA across mask updates (step 5 of §2.3) and the α-mix. The first update stores the new values as
// they are (no EMA); later ones store γ·new + (1−γ)·stored (the stored values are post-EMA) per stream.
class BlockImportance {
 public:
  // cls, patch: transform_benefit() of each stream (same size; later calls must keep the size).
  // Returns α·cls + (1−α)·patch of the stored (post-EMA) values.
  std::vector<double> update(const std::vector<double>& cls, const std::vector<double>& patch,
                             const KeepRatioOptions& opt);
  const std::vector<double>& cls() const { return cls_; }
  const std::vector<double>& patch() const { return patch_; }
  bool empty() const { return cls_.empty(); }  // no update yet
  void reset();

 private:
  std::vector<double> cls_, patch_;
};

// Water-filling (§2.3, get_kr_blockwise) of the goal keep ratio of every sub-block:
//   P* = kr_model·(Σ W_b + W_nonblock) − W_nonblock (kept block params wanted);
//   kr_b = importance_b, blocks with kr ≤ 0 fixed to 0 (disabled); free blocks scaled by
//   s = (P* − Σ_dense W_b) / Σ_free kr_b·W_b; then, while some kr > 1 or < 0 (at most max_passes passes),
//   blocks at ≥ 1 are fixed to 1 (dense), at ≤ 0 to 0 and the free ones rescaled; finally clamped to [0, 1].
// block_params: W_b (unpruned_params() of p3b_mask.h); nonblock_params: parameters never pruned (patch
// embedding, tokens, final norm, head; 0 for --prune-rate-by-block-param-only). Then Σ kr_b·W_b = P*
// unless every block ends fixed. Throws when P* < 0 (the ratio cannot be met by pruning blocks only),
// every importance is ≤ 0, kr_model is outside [0, 1], or the passes run out (as the authors' assert).
std::vector<double> water_fill_keep_ratios(const std::vector<double>& importance,
                                           const std::vector<double>& block_params, double nonblock_params,
                                           double model_keep_ratio, int max_passes = 20);

// The ramp factor r = clip((iteration + 1 − start) / (sparse − start), 0, 1) (loader iterations, §2.7;
// sparse == start gives 1 from `start` on, as the authors' max(·, 1e-4) denominator). Throws if sparse < start.
double keep_ratio_ramp(int64_t iteration, int64_t start, int64_t sparse);
// The keep ratio in force: 1 − (1 − goal)·ramp.
double ramped_keep_ratio(double goal_keep_ratio, double ramp);

// τ of the soft masks: τ_max up to `sparse`, linear to τ_min at `finalize`, τ_min after. As the authors,
// finalize == sparse gives τ_min at every iteration. Throws if finalize < sparse or a τ is negative.
double mask_temperature(int64_t iteration, int64_t sparse, int64_t finalize, double tau_max = 0.1,
                        double tau_min = 0.0);

}  // namespace shears::pruning
