// AMP (adaptive MLP pruning, METHODS.md §5, §5.7 taking precedence): a label-free similarity-entropy
// criterion on L2-normalised features, first-order Taylor scores of every MLP hidden neuron (a = fc2
// input, one pass, all layers), and a per-layer binary search (last block to first) for the narrowest
// width whose entropy rise stays within delta. AmpPruning is the transform ("mlp:amp:delta=<d>[:tau=<t>]").
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "nn/parameter_slice.h"
#include "nn/vision_transformer.h"
#include "pruning/transform.h"

namespace shears::pruning {

// Label-free criterion (METHODS.md §5.2/§5.7). features: (B, D), f32 or f64, already L2-normalised by
// the caller (validation_entropy / amp_taylor_scores normalise forward_features). logits_bk =
// temp_inv * <f_b, f_k> (self included); p_b = softmax_k(logits_b); returns the scalar mean_b H(p_b)
// (natural log). Differentiable through autograd ops, computed in the input dtype (f32 features are
// fine: the softmax is the max-subtracted log-softmax). E <= ln(B).
Tensor similarity_entropy(const Tensor& features, double temp_inv);

// Rows scaled to unit L2 norm, differentiable: x / max(|x|, 1e-12) as torch's F.normalize (x: (B, D)).
Tensor l2_normalize_rows(const Tensor& x);

// Mean over `batches` of similarity_entropy(l2_normalize_rows(forward_features(inputs)), temp_inv), eval
// mode, no grad, each batch on its own (so E <= ln(batch size)); labels are not read. The model's modes
// and grad mode are restored. No batches = error.
double validation_entropy(nn::VisionTransformer& model, const std::vector<CalibrationBatch>& batches, double temp_inv);

enum class TaylorLoss { Entropy, CrossEntropy };  // Entropy: AMP's label-free E; CrossEntropy: CE with labels (ablation)

struct TaylorScoreOptions {
  TaylorLoss loss = TaylorLoss::Entropy;
  double temp_inv = 15;  // entropy only
  bool use_abs = true;   // false: the signed variant mean_b sum_t a*g
};

// score[l][j] = mean over batches of mean_b |sum_t a_btj * dL/da_btj| (a = fc2 input of block l), one
// pass over the batches, all layers at once, eval mode, on the model as given. The model is unchanged
// afterwards (bitwise the same logits; gates, requires_grad, grads, modes and grad mode restored).
// No batches, or CrossEntropy on a model without head / batches without labels = error.
std::vector<std::vector<double>> amp_taylor_scores(nn::VisionTransformer& model,
                                                   const std::vector<CalibrationBatch>& batches,
                                                   const TaylorScoreOptions& options);

struct AmpOptions {
  double delta = std::log(1.02);  // accept a width when E_mid - E_prev <= delta
  double temp_inv = 15;
  int64_t search_steps = 6;       // bisection steps per layer (resolution H / 2^steps)
};

struct AmpLayerTrace {
  int64_t block = 0, hidden = 0, kept = 0;       // kept = accepted width (hidden when none accepted)
  double e_prev = 0, e_accepted = 0;             // e_accepted = e_prev when none accepted
  std::vector<std::pair<int64_t, double>> tried;  // (width, E) in the order tried
};

struct AmpResult {
  std::vector<int64_t> widths;              // per block, final
  std::vector<std::vector<int64_t>> kept;   // per block, kept neurons (sorted, pre-search numbering)
  std::vector<AmpLayerTrace> layers;  // in search order (last block first)
  double e_dense = 0, e_final = 0;    // validation E before / after the search
};

// The search for one layer of width `hidden` as a pure function: left = 0, right = hidden; `steps` times
// mid = (left + right) / 2 (floor), E_mid = entropy_at(mid); accept (right = mid) when E_mid - e_prev <=
// delta, else left = mid. Returns the trace (block -1, e_prev as given; kept = last accepted width or
// hidden, e_accepted = its E or e_prev). A mid of 0 is not evaluated (rejected: no neuron left), nor a mid
// already tried (only once the interval has width 1, i.e. H < 2^steps: its rejection stands), so
// `tried` has `steps` entries whenever H >= 2^steps (H = 64 and more for 6 steps).
AmpLayerTrace amp_search_layer(int64_t hidden, double e_prev, double delta, int64_t steps,
                               const std::function<double(int64_t width)>& entropy_at);

// What the whole search needs from a model, so that a fake can stand in for one (tests):
struct AmpSearchModel {
  std::function<double()> entropy;  // validation E of the model as it is now
  // validation E with only `keep` (sorted) neurons of `block` active; the model is unchanged afterwards
  std::function<double(int64_t block, const std::vector<int64_t>& keep)> trial_entropy;
  // cuts `block` to `keep` (sorted) for good
  std::function<void(int64_t block, const std::vector<int64_t>& keep)> apply;
};

// The search of amp_search over blocks of widths `hidden` (last to first), on any AmpSearchModel.
// entropy() is called once at the start (e_dense), at the start of every layer that follows a layer
// with nothing accepted (E_prev recomputed, §5.7), and once at the end (e_final).
AmpResult amp_search_with(const std::vector<int64_t>& hidden, const std::vector<std::vector<double>>& scores,
                          const AmpOptions& options, const AmpSearchModel& model);

// The per-layer binary search (§5.4 + §5.7), last block to first, pruning in place through
// prune_mlp_hidden (slices reported to `on_surgery` when set). E_prev starts as the dense validation E;
// after an accepted layer it is the accepted E, after a layer with nothing accepted it is recomputed on
// the restored full-width layer. `scores` (one vector per block, one score per neuron) from
// amp_taylor_scores or any per-neuron scores: higher kept first, ties lower index first. Trial widths
// are evaluated with the MLP gate zeroing the dropped neurons (the model's own gate, if any, is restored);
// only the accepted width is cut by surgery.
AmpResult amp_search(nn::VisionTransformer& model, const std::vector<std::vector<double>>& scores,
                     const std::vector<CalibrationBatch>& validation, const AmpOptions& options,
                     const std::function<void(nn::VisionTransformer&, const std::vector<nn::ParameterSlice>&)>&
                         on_surgery = {});

// Transform "mlp:amp:delta=<d>[:tau=<temp_inv>][:steps=<n>]": scores (entropy Taylor, options.temp_inv) on
// ctx.calibration, searches on ctx.validation (labels of neither are read), surgery slices to
// ctx.on_surgery. Step kind "prune_mlp", params {criterion "amp", delta, temp_inv, search_steps, widths,
// e_dense, e_final, scoring_batches, validation_batches, validation_batch_size}, kept {"blocks.<b>.mlp":
// kept neurons} for every block (pre-step numbering; all neurons where nothing was cut).
class AmpPruning : public Transform {
 public:
  explicit AmpPruning(AmpOptions options);  // delta >= 0, temp_inv > 0, search_steps >= 1
  std::string name() const override;        // "mlp:amp:delta=<d>:tau=<t>"
  nn::PruneStep apply(nn::VisionTransformer& model, PruneContext& ctx) override;
  const AmpOptions& options() const { return options_; }
  const AmpResult& last_result() const { return result_; }  // of the last apply
  const std::vector<std::vector<double>>& last_scores() const { return scores_; }

 private:
  AmpOptions options_;
  AmpResult result_;
  std::vector<std::vector<double>> scores_;
};

}  // namespace shears::pruning
