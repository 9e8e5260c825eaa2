// The process group of a distributed run (see world.h): the only file that includes mpi.h, and
// only when the MPI backend is built (SHEARS_DIST_MPI); otherwise a group of one.
#include "dist/world.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <thread>

#include "tensor/error.h"

#ifdef SHEARS_DIST_MPI
#include <mpi.h>
#endif

namespace shears::dist {

namespace {
int g_rank = 0, g_size = 1;
bool g_mpi_started = false;  // MPI_Init called by a WorldSession (and not finalized yet)

// An MPI launcher exported its rank variables: Open MPI's mpirun, PMIx (Slurm srun, prterun) or PMI.
bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(v) != nullptr) return true;
  return false;
}

#ifdef SHEARS_DIST_MPI
void check_mpi(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  abort_job(1, std::string(what) + " failed: " + std::string(text, size_t(len)));
}

// MPI counts are int: long buffers go in pieces of at most 2^30 elements.
constexpr int64_t kMaxCount = int64_t(1) << 30;
#endif
}  // namespace

bool built_with_mpi() {
#ifdef SHEARS_DIST_MPI
  return true;
#else
  return false;
#endif
}

WorldSession::WorldSession(int& argc, char**& argv) {
  SHEARS_CHECK(!g_mpi_started && g_size == 1, "dist", "a program may start only one WorldSession");
#ifdef SHEARS_DIST_MPI
  if (launched_by_mpi()) {
    int provided = 0;
    check_mpi(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    g_mpi_started = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  }
#else
  if (launched_by_mpi() && std::getenv("OMPI_COMM_WORLD_SIZE") && std::atoi(std::getenv("OMPI_COMM_WORLD_SIZE")) > 1) {
    // N copies of a one-process program would each train the whole job and race on the files.
    std::fprintf(stderr, "error: [dist] started by mpirun with %s ranks, but this build has no MPI backend "
                 "(configure with -DSHEARS_WITH_MPI=ON and libopenmpi-dev installed)\n",
                 std::getenv("OMPI_COMM_WORLD_SIZE"));
    std::exit(2);
  }
#endif
}

WorldSession::~WorldSession() {
  if (!finished_) finish(0);
}

int WorldSession::finish(int status) {
  finished_ = true;
#ifdef SHEARS_DIST_MPI
  if (!g_mpi_started) return status;
  if (status != 0 && g_size > 1)
    abort_job(status, "exit status " + std::to_string(status) + "; aborting the other ranks");
  // Ranks that are done early (the non-root ranks of shears_main leave after training) wait here
  // for the others, sleeping between polls: MPI_Finalize alone would poll and yield, burning a
  // share of a core the still-working ranks need.
  if (g_size > 1) {
    MPI_Request request;
    check_mpi(MPI_Ibarrier(MPI_COMM_WORLD, &request), "MPI_Ibarrier");
    for (int done = 0;;) {
      check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
      if (done) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  g_mpi_started = false;
  MPI_Finalize();
#endif
  return status;
}

int rank() { return g_rank; }
int size() { return g_size; }
bool is_root() { return g_rank == 0; }
bool distributed() { return g_size > 1; }

void barrier() {
#ifdef SHEARS_DIST_MPI
  if (g_size > 1) check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#endif
}

void allreduce_sum(float* data, int64_t n) {
  SHEARS_CHECK(n >= 0, "dist::allreduce_sum", "negative count ", n);
#ifdef SHEARS_DIST_MPI
  if (g_size == 1) return;
  for (int64_t at = 0; at < n; at += kMaxCount)
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, data + at, int(std::min(kMaxCount, n - at)), MPI_FLOAT, MPI_SUM,
                            MPI_COMM_WORLD),
              "MPI_Allreduce (float sum)");
#else
  (void)data;
#endif
}

void allreduce_sum(int64_t* data, int64_t n) {
  SHEARS_CHECK(n >= 0, "dist::allreduce_sum", "negative count ", n);
#ifdef SHEARS_DIST_MPI
  if (g_size == 1) return;
  for (int64_t at = 0; at < n; at += kMaxCount)
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, data + at, int(std::min(kMaxCount, n - at)), MPI_INT64_T, MPI_SUM,
                            MPI_COMM_WORLD),
              "MPI_Allreduce (int64 sum)");
#else
  (void)data;
#endif
}

bool all_ranks_equal(uint64_t value) {
#ifdef SHEARS_DIST_MPI
  if (g_size == 1) return true;
  uint64_t v[2] = {value, ~value};  // max of both = (max, ~min): equal iff max == min
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce (max)");
  return v[0] == ~v[1];
#else
  (void)value;
  return true;
#endif
}

std::vector<std::string> gather_to_root(const std::string& local) {
#ifdef SHEARS_DIST_MPI
  if (g_size > 1) {
    SHEARS_CHECK(local.size() < size_t(std::numeric_limits<int>::max()), "dist::gather_to_root",
                 "a result of ", local.size(), " bytes is too long for one message");
    int len = int(local.size());
    std::vector<int> lens(static_cast<size_t>(g_size)), offsets(static_cast<size_t>(g_size));
    check_mpi(MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather (lengths)");
    std::string all;
    if (g_rank == 0) {
      int64_t total = 0;
      for (int r = 0; r < g_size; ++r) offsets[size_t(r)] = int(total), total += lens[size_t(r)];
      SHEARS_CHECK(total < std::numeric_limits<int>::max(), "dist::gather_to_root", "results of ", total,
                   " bytes in all are too long for one message");
      all.resize(size_t(total));
    }
    check_mpi(MPI_Gatherv(local.data(), len, MPI_CHAR, all.data(), lens.data(), offsets.data(), MPI_CHAR, 0,
                          MPI_COMM_WORLD),
              "MPI_Gatherv (results)");
    std::vector<std::string> out;
    if (g_rank == 0)
      for (int r = 0; r < g_size; ++r) out.push_back(all.substr(size_t(offsets[size_t(r)]), size_t(lens[size_t(r)])));
    return out;
  }
#endif
  return {local};
}

std::string broadcast_from_root(const std::string& value) {
#ifdef SHEARS_DIST_MPI
  if (g_size > 1) {
    SHEARS_CHECK(value.size() < size_t(std::numeric_limits<int>::max()), "dist::broadcast_from_root",
                 "a value of ", value.size(), " bytes is too long for one message");
    int len = int(value.size());
    check_mpi(MPI_Bcast(&len, 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Bcast (length)");
    std::string out = g_rank == 0 ? value : std::string(size_t(len), '\0');
    check_mpi(MPI_Bcast(out.data(), len, MPI_CHAR, 0, MPI_COMM_WORLD), "MPI_Bcast (value)");
    return out;
  }
#endif
  return value;
}

void quiet_non_root_stdout() {
  if (is_root()) return;
  std::fflush(stdout);
  SHEARS_CHECK(std::freopen("/dev/null", "w", stdout) != nullptr, "dist", "cannot redirect stdout of rank ", g_rank,
               " to /dev/null");
}

void abort_job(int status, const std::string& why) {
  std::fprintf(stderr, "[dist] rank %d of %d: %s\n", g_rank, g_size, why.c_str());
  std::fflush(stderr);
  std::fflush(stdout);
#ifdef SHEARS_DIST_MPI
  if (g_mpi_started) MPI_Abort(MPI_COMM_WORLD, status == 0 ? 1 : status);
#endif
  std::exit(status == 0 ? 1 : status);
}

}  // namespace shears::dist
