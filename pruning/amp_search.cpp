// AMP's per-layer binary search (amp.h, METHODS.md §5.4 with §5.7): for each block from the last to the
// first, bisect the number of top-scored MLP neurons kept until the validation entropy rise over E_prev
// passes delta; cut the accepted width by surgery. Trial widths are evaluated through the MLP gate
// (dropped neurons zeroed: the same function as the cut model). Also the AmpPruning transform.
#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>

#include "pruning/amp.h"
#include "pruning/surgery.h"
#include "tensor/creation.h"
#include "tensor/kernels.h"

namespace shears::pruning {

using nlohmann::json;

namespace {

void check_options(const AmpOptions& options, const char* op) {
  SHEARS_CHECK(std::isfinite(options.delta) && options.delta >= 0, op, "delta must be a number >= 0, got ",
               options.delta);
  SHEARS_CHECK(std::isfinite(options.temp_inv) && options.temp_inv > 0, op, "temp_inv must be > 0, got ",
               options.temp_inv);
  SHEARS_CHECK(options.search_steps >= 1 && options.search_steps <= 62, op,
               "search_steps must be in [1, 62], got ", options.search_steps);
}

// Neuron indices, highest score first (ties: lower index first).
std::vector<int64_t> ranking(const std::vector<double>& scores) {
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), int64_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return scores[size_t(a)] > scores[size_t(b)]; });
  return order;
}

// The first `width` of a ranking, sorted ascending (a keep list for surgery).
std::vector<int64_t> top(const std::vector<int64_t>& order, int64_t width) {
  std::vector<int64_t> keep(order.begin(), order.begin() + width);
  std::sort(keep.begin(), keep.end());
  return keep;
}

// Puts a module's gate member back on scope exit.
class GateRestore {
 public:
  explicit GateRestore(Tensor& slot) : slot_(slot), saved_(slot) {}
  ~GateRestore() { slot_ = saved_; }
  const Tensor& saved() const { return saved_; }
  GateRestore(const GateRestore&) = delete;
  GateRestore& operator=(const GateRestore&) = delete;

 private:
  Tensor& slot_;
  Tensor saved_;
};

}  // namespace

AmpLayerTrace amp_search_layer(int64_t hidden, double e_prev, double delta, int64_t steps,
                               const std::function<double(int64_t width)>& entropy_at) {
  SHEARS_CHECK(hidden >= 1, "amp_search", "a layer needs >= 1 hidden neurons, got ", hidden);
  SHEARS_CHECK(steps >= 1, "amp_search", "search_steps must be >= 1, got ", steps);
  AmpLayerTrace trace;
  trace.block = -1;
  trace.hidden = hidden;
  trace.kept = hidden;
  trace.e_prev = e_prev;
  trace.e_accepted = e_prev;
  int64_t left = 0, right = hidden;
  std::map<int64_t, double> seen;  // widths already evaluated (always rejected ones: see below)
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t mid = (left + right) / 2;
    // mid < right always; mid == left only once the interval has width 1, where left is 0 (no neuron
    // left: not a model, rejected) or a width already rejected (the same E again: not re-evaluated)
    if (mid == 0) {
      left = 0;
      continue;
    }
    double e;
    const auto it = seen.find(mid);
    if (it != seen.end()) {
      e = it->second;
    } else {
      e = entropy_at(mid);
      seen[mid] = e;
      trace.tried.emplace_back(mid, e);
    }
    if (e - e_prev <= delta) {  // NaN: rejected
      right = mid;
      trace.kept = mid;
      trace.e_accepted = e;
    } else {
      left = mid;
    }
  }
  return trace;
}

AmpResult amp_search_with(const std::vector<int64_t>& hidden, const std::vector<std::vector<double>>& scores,
                          const AmpOptions& options, const AmpSearchModel& model) {
  check_options(options, "amp_search");
  SHEARS_CHECK(model.entropy && model.trial_entropy && model.apply, "amp_search",
               "the search model needs entropy, trial_entropy and apply");
  SHEARS_CHECK(scores.size() == hidden.size(), "amp_search", "got scores for ", scores.size(),
               " blocks, the model has ", hidden.size());
  for (size_t b = 0; b < hidden.size(); ++b) {
    SHEARS_CHECK(int64_t(scores[b].size()) == hidden[b], "amp_search", "got ", scores[b].size(),
                 " scores for block ", b, ", which has ", hidden[b], " MLP hidden neurons");
    for (size_t j = 0; j < scores[b].size(); ++j)
      SHEARS_CHECK(!std::isnan(scores[b][j]), "amp_search", "the score of neuron ", j, " of block ", b, " is NaN");
  }
  AmpResult result;
  result.widths = hidden;
  result.kept.resize(hidden.size());
  for (size_t b = 0; b < hidden.size(); ++b) {
    result.kept[b].resize(size_t(hidden[b]));
    std::iota(result.kept[b].begin(), result.kept[b].end(), int64_t(0));
  }
  result.e_dense = model.entropy();
  double e_prev = result.e_dense;
  bool recompute = false;
  for (int64_t b = int64_t(hidden.size()) - 1; b >= 0; --b) {
    if (recompute) e_prev = model.entropy();  // §5.7: after a layer with nothing accepted
    const std::vector<int64_t> order = ranking(scores[size_t(b)]);
    AmpLayerTrace trace = amp_search_layer(hidden[size_t(b)], e_prev, options.delta, options.search_steps,
                                           [&](int64_t width) { return model.trial_entropy(b, top(order, width)); });
    trace.block = b;
    if (trace.kept < hidden[size_t(b)]) {
      result.kept[size_t(b)] = top(order, trace.kept);
      model.apply(b, result.kept[size_t(b)]);
      e_prev = trace.e_accepted;
      recompute = false;
    } else {
      recompute = true;
    }
    result.widths[size_t(b)] = trace.kept;
    result.layers.push_back(std::move(trace));
  }
  result.e_final = model.entropy();
  return result;
}

AmpResult amp_search(nn::VisionTransformer& model, const std::vector<std::vector<double>>& scores,
                     const std::vector<CalibrationBatch>& validation, const AmpOptions& options,
                     const std::function<void(nn::VisionTransformer&, const std::vector<nn::ParameterSlice>&)>&
                         on_surgery) {
  SHEARS_CHECK(!validation.empty(), "amp_search", "no validation batches (PruneContext::validation)");
  std::vector<int64_t> hidden;
  for (auto& block : model.blocks->items) hidden.push_back(block->mlp->hidden());
  AmpSearchModel search;
  search.entropy = [&] { return validation_entropy(model, validation, options.temp_inv); };
  search.trial_entropy = [&](int64_t block, const std::vector<int64_t>& keep) {
    nn::Mlp& mlp = *model.blocks->items[size_t(block)]->mlp;
    GateRestore restore(mlp.gate);
    const int64_t H = mlp.hidden();
    std::vector<double> mask(size_t(H), 0.0);
    std::vector<double> user;
    if (restore.saved().defined()) user = kernels::to_dtype(restore.saved(), DType::F64).to_vector<double>();
    for (int64_t j : keep) mask[size_t(j)] = user.empty() ? 1.0 : user[size_t(j)];
    const DType dtype = mlp.fc1->weight.dtype() == DType::F64 ? DType::F64 : DType::F32;
    mlp.gate = kernels::to_dtype(from_vector(mask, {H}).to(mlp.fc1->weight.device()), dtype);
    return validation_entropy(model, validation, options.temp_inv);
  };
  search.apply = [&](int64_t block, const std::vector<int64_t>& keep) {
    const std::vector<nn::ParameterSlice> slices = prune_mlp_hidden(model, block, keep);
    if (on_surgery && !slices.empty()) on_surgery(model, slices);
  };
  return amp_search_with(hidden, scores, options, search);
}

// ---- AmpPruning ----

AmpPruning::AmpPruning(AmpOptions options) : options_(options) { check_options(options_, "AmpPruning"); }

std::string AmpPruning::name() const {
  std::string text = "mlp:amp:delta=" + format_number(options_.delta) + ":tau=" + format_number(options_.temp_inv);
  if (options_.search_steps != AmpOptions{}.search_steps) text += ":steps=" + std::to_string(options_.search_steps);
  return text;
}

nn::PruneStep AmpPruning::apply(nn::VisionTransformer& model, PruneContext& ctx) {
  SHEARS_CHECK(!ctx.calibration.empty(), "AmpPruning", "'", name(),
               "' needs scoring batches (PruneContext::calibration)");
  SHEARS_CHECK(!ctx.validation.empty(), "AmpPruning", "'", name(),
               "' needs fixed validation batches (PruneContext::validation)");
  TaylorScoreOptions scoring;
  scoring.loss = TaylorLoss::Entropy;
  scoring.temp_inv = options_.temp_inv;
  scores_ = amp_taylor_scores(model, ctx.calibration, scoring);
  result_ = amp_search(model, scores_, ctx.validation, options_, ctx.on_surgery);

  nn::PruneStep step;
  step.kind = "prune_mlp";
  step.method = name();
  for (size_t b = 0; b < result_.kept.size(); ++b) step.kept["blocks." + std::to_string(b) + ".mlp"] = result_.kept[b];
  json params = {{"criterion", "amp"},
                 {"delta", options_.delta},
                 {"temp_inv", options_.temp_inv},
                 {"search_steps", options_.search_steps},
                 {"widths", result_.widths},
                 {"e_dense", result_.e_dense},
                 {"e_final", result_.e_final},
                 {"scoring_batches", ctx.calibration.size()},
                 {"validation_batches", ctx.validation.size()},
                 {"validation_batch_size", ctx.validation.front().inputs.size(0)}};
  step.params_json = params.dump();
  return step;
}

}  // namespace shears::pruning
