// Round-robin sweeps over the ranks and root-first sections (see sweep.h).
#include "dist/sweep.h"

#include "dist/world.h"
#include "tensor/error.h"

namespace shears::dist {

int job_owner(int64_t job, int ranks) {
  SHEARS_CHECK(job >= 0 && ranks >= 1, "dist::job_owner", "job ", job, " over ", ranks, " ranks");
  return int(job % ranks);
}

namespace {
// Length-prefixed concatenation: "<len>:<bytes>" per result.
std::string pack(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += std::to_string(s.size()) + ":" + s;
  return out;
}

std::vector<std::string> unpack(const std::string& text) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < text.size()) {
    const size_t colon = text.find(':', at);
    SHEARS_CHECK(colon != std::string::npos, "dist::run_sweep", "corrupt result message");
    const size_t len = std::stoull(text.substr(at, colon - at));
    SHEARS_CHECK(colon + 1 + len <= text.size(), "dist::run_sweep", "truncated result message");
    out.push_back(text.substr(colon + 1, len));
    at = colon + 1 + len;
  }
  return out;
}
}  // namespace

std::vector<std::string> run_sweep(int64_t n_jobs, const std::function<std::string(int64_t job)>& run_job) {
  SHEARS_CHECK(n_jobs >= 0, "dist::run_sweep", "n_jobs must be >= 0, got ", n_jobs);
  const int ranks = size(), me = rank();
  std::vector<std::string> mine;
  for (int64_t j = 0; j < n_jobs; ++j)
    if (job_owner(j, ranks) == me) mine.push_back(run_job(j));
  if (ranks == 1) return mine;
  const std::vector<std::string> per_rank = gather_to_root(pack(mine));
  if (!is_root()) return {};
  std::vector<std::vector<std::string>> results(per_rank.size());
  for (size_t r = 0; r < per_rank.size(); ++r) results[r] = unpack(per_rank[r]);
  std::vector<std::string> out;
  std::vector<size_t> next(per_rank.size(), 0);
  for (int64_t j = 0; j < n_jobs; ++j) {
    const size_t r = size_t(job_owner(j, ranks));
    SHEARS_CHECK(next[r] < results[r].size(), "dist::run_sweep", "rank ", r, " returned too few results");
    out.push_back(results[r][next[r]++]);
  }
  return out;
}

void root_first(const std::function<void()>& fn) {
  if (is_root()) fn();
  barrier();
  if (!is_root()) fn();
}

}  // namespace shears::dist
