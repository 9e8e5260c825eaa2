// The run config a training state carries: the effective settings that shape a run's trajectory
// (seed, batch size, lr and schedule, augmentation, model shape, data limit, threads ...) as
// flag -> value text. On resume the saved config is compared with the resuming run's, and every
// difference is refused unless the caller lists the flag as allowed to change.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace shears::train {

using RunConfig = std::map<std::string, std::string>;  // flag name (without "--") -> value text

// Value text for a RunConfig: doubles with 17 significant digits (round-trip exact).
std::string config_value(double v);
std::string config_value(int64_t v);
std::string config_value(uint64_t v);
std::string config_value(const std::string& v);

struct RunConfigDifference {
  std::string flag;
  std::string saved, now;  // "(not set)" when the flag is absent on that side
};

// Every flag whose value differs (or is present on one side only), in flag order.
std::vector<RunConfigDifference> run_config_differences(const RunConfig& saved, const RunConfig& now);

// Refuses to resume from `path` with a different config: throws shears::Error "[resume] <path>:
// the run config differs from the saved one: --lr: saved 0.003, now 0.1; ..." listing every
// differing flag that `may_change` does not name, and pointing to `override_flag`. A name in
// may_change that is not a flag of `now` is an error too (a typo would otherwise allow nothing).
// Returns the differences that may_change allowed (for the caller to report).
std::vector<RunConfigDifference> check_resume_config(const std::string& path, const RunConfig& saved,
                                                     const RunConfig& now,
                                                     const std::vector<std::string>& may_change,
                                                     const std::string& override_flag = "--resume-override");

// "flag saved -> now" items joined by ", " (for messages).
std::string describe(const std::vector<RunConfigDifference>& differences);

}  // namespace shears::train
