// Run config comparison on resume (see run_config.h).
#include "train/run_config.h"

#include <algorithm>
#include <cstdio>

#include "tensor/error.h"

namespace shears::train {

std::string config_value(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
std::string config_value(int64_t v) { return std::to_string(v); }
std::string config_value(uint64_t v) { return std::to_string(v); }
std::string config_value(const std::string& v) { return v; }

std::vector<RunConfigDifference> run_config_differences(const RunConfig& saved, const RunConfig& now) {
  const std::string absent = "(not set)";
  std::vector<RunConfigDifference> out;
  for (const auto& [flag, value] : saved) {
    auto it = now.find(flag);
    if (it == now.end()) out.push_back({flag, value, absent});
    else if (it->second != value) out.push_back({flag, value, it->second});
  }
  for (const auto& [flag, value] : now)
    if (!saved.count(flag)) out.push_back({flag, absent, value});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.flag < b.flag; });
  return out;
}

std::string describe(const std::vector<RunConfigDifference>& differences) {
  std::string s;
  for (const auto& d : differences) s += (s.empty() ? "" : ", ") + ("--" + d.flag) + " " + d.saved + " -> " + d.now;
  return s;
}

std::vector<RunConfigDifference> check_resume_config(const std::string& path, const RunConfig& saved,
                                                     const RunConfig& now,
                                                     const std::vector<std::string>& may_change,
                                                     const std::string& override_flag) {
  for (const std::string& flag : may_change)
    if (!now.count(flag)) {
      std::string known;
      for (const auto& kv : now) known += (known.empty() ? "" : ", ") + kv.first;
      fail("resume", override_flag, ": '", flag, "' is not a flag the training state records; those are: ", known);
    }
  std::vector<RunConfigDifference> allowed, refused;
  for (auto& d : run_config_differences(saved, now))
    (std::find(may_change.begin(), may_change.end(), d.flag) != may_change.end() ? allowed : refused).push_back(d);
  if (!refused.empty()) {
    std::string lines, names;
    for (const auto& d : refused) {
      lines += "\n  --" + d.flag + ": saved " + d.saved + ", now " + d.now;
      names += (names.empty() ? "" : ",") + d.flag;
    }
    fail("resume", path, ": the run config differs from the one the training state was saved with (a resumed run "
         "must continue the same trajectory):", lines, "\n  resume with the saved values, or allow the change with ",
         override_flag, " ", names);
  }
  return allowed;
}

}  // namespace shears::train
