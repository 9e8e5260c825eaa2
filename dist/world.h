// The process group of a distributed run (MPI_COMM_WORLD): rank, size and the few collectives
// shears needs. Under an MPI launcher (mpirun / srun) in a build with the MPI backend
// (SHEARS_WITH_MPI) the group is the launched ranks; otherwise it is this process alone and no
// MPI call is made, so every program runs unchanged without mpirun. Only world.cpp includes mpi.h.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace shears::dist {

// True when this build has the MPI backend.
bool built_with_mpi();

// Starts the group for the program's lifetime: MPI_Init_thread (funneled) when the process was
// started by an MPI launcher (OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_RANK in the environment) and
// MPI is built in; a group of one otherwise. One per program, in main(); end main with finish().
class WorldSession {
 public:
  WorldSession(int& argc, char**& argv);
  ~WorldSession();  // finalizes when finish() was not called (an exception left main)
  WorldSession(const WorldSession&) = delete;
  WorldSession& operator=(const WorldSession&) = delete;
  // The program's exit status. A failing rank of a multi-rank run aborts the whole job
  // (MPI_Abort) so that the other ranks do not wait forever in a collective; a successful one
  // finalizes. Returns `status` (for `return session.finish(status);`).
  int finish(int status);

 private:
  bool finished_ = false;
};

int rank();       // 0 without MPI
int size();       // 1 without MPI
bool is_root();   // rank() == 0: the rank that prints and writes files
bool distributed();  // size() > 1

// ---- collectives: every rank must call them in the same order (no-ops on a group of one) ----
void barrier();
// In place: data[i] = sum over ranks of data[i]. The summation order is fixed for a given rank
// count (Open MPI's choice of algorithm depends only on the size and the rank count), so results
// are reproducible run to run, and every rank receives the same bits.
void allreduce_sum(float* data, int64_t n);
void allreduce_sum(int64_t* data, int64_t n);
// True on every rank when `value` is the same on all ranks.
bool all_ranks_equal(uint64_t value);
// Root receives every rank's string in rank order; the other ranks receive an empty vector.
std::vector<std::string> gather_to_root(const std::string& local);
// Every rank receives root's `value` (the others' argument is ignored).
std::string broadcast_from_root(const std::string& value);
// Sends stdout of every rank but 0 to /dev/null (stderr is kept: errors name their rank), so a
// program's report is printed once under mpirun.
void quiet_non_root_stdout();
// Ends the whole job from any rank: prints "[dist] rank r: <why>" on stderr, then MPI_Abort
// (or std::exit without MPI).
[[noreturn]] void abort_job(int status, const std::string& why);

}  // namespace shears::dist
