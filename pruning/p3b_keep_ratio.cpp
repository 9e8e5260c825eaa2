// P3B keep ratios per sub-block (see p3b_keep_ratio.h): benefit transform, EMA, water-filling, ramp, τ.
#include "pruning/p3b_keep_ratio.h"

#include <algorithm>
#include <cmath>

#include "tensor/error.h"

namespace shears::pruning {

void KeepRatioOptions::validate() const {
  const char* op = "p3b keep ratio options";
  SHEARS_CHECK(std::isfinite(scale) && scale > 0, op, "expected scale S (--pr-block-imp-scale) > 0, got ", scale);
  SHEARS_CHECK(gamma >= 0 && gamma <= 1, op, "expected gamma (--pr-gamma) in [0, 1], got ", gamma);
  SHEARS_CHECK(alpha >= 0 && alpha <= 1, op, "expected alpha (--pr-alpha) in [0, 1], got ", alpha);
  SHEARS_CHECK(max_passes >= 1, op, "expected max_passes >= 1, got ", max_passes);
  SHEARS_CHECK(std::isfinite(softplus_beta) && softplus_beta > 0, op, "expected softplus_beta > 0, got ",
               softplus_beta);
  SHEARS_CHECK(underflow_floor >= 0 && underflow_floor < 1e-30, op,
               "expected underflow_floor in [0, 1e-30) (float32's smallest value by default), got ", underflow_floor);
}

double torch_softplus(double x) { return x > 20.0 ? x : std::log1p(std::exp(x)); }

std::vector<double> transform_benefit(const std::vector<double>& benefit_sum, const std::vector<int64_t>& count,
                                      const std::vector<double>& remaining_params, const KeepRatioOptions& opt) {
  const char* op = "p3b transform_benefit";
  opt.validate();
  const size_t n = benefit_sum.size();
  SHEARS_CHECK(n > 0, op, "expected at least one sub-block");
  SHEARS_CHECK(count.size() == n && remaining_params.size() == n, op, "expected one count and one parameter count per ",
               "sub-block (", n, "), got ", count.size(), " counts and ", remaining_params.size(), " parameter counts");
  std::vector<double> x(n);
  for (size_t j = 0; j < n; ++j) {
    SHEARS_CHECK(std::isfinite(benefit_sum[j]), op, "benefit sum of sub-block ", j, " is not finite: ", benefit_sum[j]);
    SHEARS_CHECK(count[j] >= 0, op, "count of sub-block ", j, " is negative: ", count[j]);
    SHEARS_CHECK(std::isfinite(remaining_params[j]) && remaining_params[j] >= 0, op,
                 "remaining parameters of sub-block ", j, " must be finite and >= 0, got ", remaining_params[j]);
    x[j] = count[j] == 0 ? 0.0 : benefit_sum[j] / double(count[j]);  // no data: zero benefit (our rule)
  }
  // 2. scale so the best block sits at S
  const double max_b = *std::max_element(x.begin(), x.end());
  double denom = max_b;
  if (max_b < 0 && !opt.invert_all_negative) denom = 0;  // order-keeping rule below
  if (denom == 0) {
    for (double v : x) denom = std::max(denom, std::abs(v));  // max|b|; stays 0 when every b is 0
  }
  if (denom != 0)
    for (double& v : x) v = v * opt.scale / denom;
  // 3. soft clamp, 4. per remaining parameter, mean 1
  double sum = 0;
  for (size_t j = 0; j < n; ++j) {
    const double c = torch_softplus(opt.softplus_beta * x[j]) - torch_softplus(opt.softplus_beta * x[j] - opt.scale);
    double p = c / (remaining_params[j] + 1e-6);
    if (p < opt.underflow_floor) p = 0;  // float32 underflow of the authors' arithmetic (see the header)
    x[j] = p;
    sum += p;
  }
  const double mean = sum / double(n);
  SHEARS_CHECK(mean > 0 && std::isfinite(mean), op, "every sub-block's importance is 0 (or not finite: mean ", mean,
               "): no benefit data to normalise");
  for (double& v : x) v /= mean;
  return x;
}

std::vector<double> BlockImportance::update(const std::vector<double>& cls, const std::vector<double>& patch,
                                            const KeepRatioOptions& opt) {
  const char* op = "p3b BlockImportance::update";
  opt.validate();
  SHEARS_CHECK(!cls.empty() && cls.size() == patch.size(), op, "expected cls and patch importances of the same ",
               "non-zero size, got ", cls.size(), " and ", patch.size());
  if (empty()) {
    cls_ = cls;  // first update: no EMA
    patch_ = patch;
  } else {
    SHEARS_CHECK(cls.size() == cls_.size(), op, "expected ", cls_.size(), " sub-blocks as in the previous update, got ",
                 cls.size());
    for (size_t j = 0; j < cls.size(); ++j) {
      cls_[j] = opt.gamma * cls[j] + (1 - opt.gamma) * cls_[j];
      patch_[j] = opt.gamma * patch[j] + (1 - opt.gamma) * patch_[j];
    }
  }
  std::vector<double> mixed(cls_.size());
  for (size_t j = 0; j < mixed.size(); ++j) mixed[j] = opt.alpha * cls_[j] + (1 - opt.alpha) * patch_[j];
  return mixed;
}

void BlockImportance::reset() {
  cls_.clear();
  patch_.clear();
}

std::vector<double> water_fill_keep_ratios(const std::vector<double>& importance,
                                           const std::vector<double>& block_params, double nonblock_params,
                                           double model_keep_ratio, int max_passes) {
  const char* op = "p3b water_fill_keep_ratios";
  const size_t n = importance.size();
  SHEARS_CHECK(n > 0 && block_params.size() == n, op, "expected one parameter count per sub-block (", n, "), got ",
               block_params.size());
  SHEARS_CHECK(model_keep_ratio >= 0 && model_keep_ratio <= 1, op, "expected the model keep ratio (1 - prune ratio) ",
               "in [0, 1], got ", model_keep_ratio);
  SHEARS_CHECK(std::isfinite(nonblock_params) && nonblock_params >= 0, op, "expected non-block parameters >= 0, got ",
               nonblock_params);
  SHEARS_CHECK(max_passes >= 1, op, "expected max_passes >= 1, got ", max_passes);
  double total_block = 0;
  for (size_t b = 0; b < n; ++b) {
    SHEARS_CHECK(std::isfinite(importance[b]), op, "importance of sub-block ", b, " is not finite: ", importance[b]);
    SHEARS_CHECK(std::isfinite(block_params[b]) && block_params[b] > 0, op, "parameters of sub-block ", b,
                 " must be > 0, got ", block_params[b]);
    total_block += block_params[b];
  }
  const double target = model_keep_ratio * (total_block + nonblock_params) - nonblock_params;  // P*
  SHEARS_CHECK(target >= 0, op, "keep ratio ", model_keep_ratio, " cannot be met by pruning blocks only: the ",
               nonblock_params, " non-block parameters exceed the budget of ",
               model_keep_ratio * (total_block + nonblock_params),
               " (lower the prune ratio or count block parameters only)");

  enum class State { Free, Disabled, Dense };
  std::vector<State> state(n, State::Free);
  std::vector<double> kr = importance;
  // one pass: fix the blocks at the bounds, rescale the free ones to the remaining budget
  auto rescale = [&](bool first) {
    for (size_t b = 0; b < n; ++b) {
      if (state[b] != State::Free) continue;
      if (kr[b] <= 0)
        state[b] = State::Disabled;
      else if (!first && kr[b] >= 1)
        state[b] = State::Dense;  // the first pass fixes only the disabled ones
    }
    double budget = target, free_weighted = 0;
    bool any_free = false;
    for (size_t b = 0; b < n; ++b) {
      if (state[b] == State::Disabled) kr[b] = 0;
      if (state[b] == State::Dense) {
        kr[b] = 1;
        budget -= block_params[b];
      }
      if (state[b] == State::Free) {
        any_free = true;
        free_weighted += kr[b] * block_params[b];
      }
    }
    if (!any_free) return false;
    const double s = budget / free_weighted;
    for (size_t b = 0; b < n; ++b)
      if (state[b] == State::Free) kr[b] *= s;
    return true;
  };
  SHEARS_CHECK(rescale(true), op, "every sub-block has importance <= 0: nothing to share the budget among");
  auto out_of_bounds = [&] {
    for (double v : kr)
      if (v > 1 || v < 0) return true;
    return false;
  };
  int passes = 0;
  while (out_of_bounds()) {
    SHEARS_CHECK(passes < max_passes, op, "water-filling did not settle within ", max_passes,
                 " passes (raise max_passes; the authors assert after 20)");
    if (!rescale(false)) break;  // every block fixed at 0 or 1
    ++passes;
  }
  for (double& v : kr) v = std::min(1.0, std::max(0.0, v));
  return kr;
}

double keep_ratio_ramp(int64_t iteration, int64_t start, int64_t sparse) {
  SHEARS_CHECK(sparse >= start, "p3b keep_ratio_ramp", "expected sparse >= start, got start ", start, " and sparse ",
               sparse);
  const double done = std::max(double(iteration + 1 - start), 0.0);
  return std::min(done / std::max(double(sparse - start), 1e-4), 1.0);
}

double ramped_keep_ratio(double goal_keep_ratio, double ramp) {
  SHEARS_CHECK(goal_keep_ratio >= 0 && goal_keep_ratio <= 1 && ramp >= 0 && ramp <= 1, "p3b ramped_keep_ratio",
               "expected goal keep ratio and ramp in [0, 1], got ", goal_keep_ratio, " and ", ramp);
  return 1 - (1 - goal_keep_ratio) * ramp;
}

double mask_temperature(int64_t iteration, int64_t sparse, int64_t finalize, double tau_max, double tau_min) {
  const char* op = "p3b mask_temperature";
  SHEARS_CHECK(finalize >= sparse, op, "expected finalize >= sparse, got sparse ", sparse, " and finalize ", finalize);
  SHEARS_CHECK(std::isfinite(tau_max) && std::isfinite(tau_min) && tau_max >= 0 && tau_min >= 0, op,
               "expected tau_max and tau_min >= 0 (--pr-tau-max/--pr-tau-min), got ", tau_max, " and ", tau_min);
  double sharp = 1.0;  // the authors: finalize == sparse means τ_min throughout
  if (finalize > sparse)
    sharp = std::min(std::max(double(iteration - sparse) / std::max(double(finalize - sparse), 1e-4), 0.0), 1.0);
  return sharp * tau_min + (1 - sharp) * tau_max;
}

}  // namespace shears::pruning
