// EViT keep-rate schedule (see keep_rate_schedule.h).
#include "pruning/keep_rate_schedule.h"

#include <algorithm>
#include <cmath>

#include "pruning/token_pruning.h"

namespace shears::pruning {

double scheduled_keep_rate(const KeepRateSchedule& s, int64_t epoch, int64_t global_iteration) {
  const char* op = "scheduled_keep_rate";
  SHEARS_CHECK(s.base_keep_rate > 0.0 && s.base_keep_rate <= s.max_keep_rate && s.max_keep_rate <= 1.0, op,
               "expected 0 < base_keep_rate <= max_keep_rate <= 1, got base_keep_rate ", s.base_keep_rate,
               " and max_keep_rate ", s.max_keep_rate);
  SHEARS_CHECK(s.shrink_start_epoch >= 0 && s.shrink_epochs >= 0 && s.iterations_per_epoch >= 1, op,
               "expected shrink_start_epoch >= 0, shrink_epochs >= 0 and iterations_per_epoch >= 1, got ",
               s.shrink_start_epoch, ", ", s.shrink_epochs, " and ", s.iterations_per_epoch);
  if (epoch < s.shrink_start_epoch) return 1.0;
  if (epoch >= s.shrink_start_epoch + s.shrink_epochs) return s.base_keep_rate;
  const double total = double(s.shrink_epochs) * double(s.iterations_per_epoch);
  const double it = double(global_iteration) - double(s.shrink_start_epoch) * double(s.iterations_per_epoch);
  const double pi = std::acos(-1.0);
  const double rho = s.base_keep_rate + (s.max_keep_rate - s.base_keep_rate) * (std::cos(it / total * pi) + 1.0) * 0.5;
  return std::min(std::max(rho, s.base_keep_rate), s.max_keep_rate);  // rounding may step just outside
}

double apply_keep_rate_schedule(TokenPruning& pruning, const KeepRateSchedule& schedule, int64_t epoch,
                                int64_t global_iteration) {
  const double rho = scheduled_keep_rate(schedule, epoch, global_iteration);
  pruning.set_keep_rate(rho);
  return rho;
}

}  // namespace shears::pruning
