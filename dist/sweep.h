// Distributed sweeps: independent jobs (fine-tunes of a study's grid) assigned statically,
// round-robin, to the ranks of dist::world (job j on rank j % size), each returning its result
// as a string (e.g. JSON); the results are gathered on rank 0 in job order, so the tables a
// recipe builds from them are those of the one-process run. Without MPI every job runs here.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace shears::dist {

// The rank that runs job `job` of a sweep over `ranks` ranks.
int job_owner(int64_t job, int ranks);

// Collective. Runs this rank's jobs in increasing order and returns, on rank 0, the results of
// jobs 0 .. n_jobs-1 in job order; the other ranks return an empty vector. An exception in a job
// propagates on the rank that ran it (main's WorldSession::finish then aborts the job).
std::vector<std::string> run_sweep(int64_t n_jobs, const std::function<std::string(int64_t job)>& run_job);

// Collective. Runs `fn` on rank 0 first and on the other ranks after it finished (e.g. build a
// cached model on rank 0, then let the others load it from the cache). One rank: just fn().
void root_first(const std::function<void()>& fn);

}  // namespace shears::dist
