// EViT's keep-rate schedule (helpers.adjust_keep_rate, called every iteration; METHODS.md §4.2):
// keep everything before the shrink phase, then a half-cosine from max_keep_rate down to
// base_keep_rate over shrink_epochs, then base_keep_rate.
#pragma once
#include <cstdint>

namespace shears::pruning {

class TokenPruning;

struct KeepRateSchedule {
  double base_keep_rate = 0.7;     // rho reached at the end of the shrink phase
  double max_keep_rate = 1.0;      // rho at its start
  int64_t shrink_start_epoch = 0;  // EViT from scratch: 10; fine-tuning: 0
  int64_t shrink_epochs = 0;       // EViT from scratch: 100; 0 = base_keep_rate from the start epoch on
  int64_t iterations_per_epoch = 1;
};

// rho at (epoch, global_iteration), global_iteration = epoch * iterations_per_epoch + index in epoch:
//   epoch < start:                   1
//   epoch >= start + shrink_epochs:  base
//   otherwise:  base + (max - base) * (cos(pi * it' / T') + 1) / 2,
//               it' = global_iteration - start * iterations_per_epoch, T' = shrink_epochs * iterations_per_epoch.
double scheduled_keep_rate(const KeepRateSchedule& schedule, int64_t epoch, int64_t global_iteration);

// Sets the installed pruning's keep rate to scheduled_keep_rate(...) and returns it.
double apply_keep_rate_schedule(TokenPruning& pruning, const KeepRateSchedule& schedule, int64_t epoch,
                                int64_t global_iteration);

}  // namespace shears::pruning
