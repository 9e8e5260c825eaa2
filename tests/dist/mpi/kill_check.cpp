// MPI failure driver (tests/dist/kill_rank.sh): every rank loops over all-reduces of a 1 MiB
// buffer; rank `victim` leaves after `after` iterations: `kill` (SIGKILL, as an OOM killer or a
// lost node would) or `error` (an error caught in main: WorldSession::finish(3) must abort the
// job rather than finalize). The surviving ranks must not hang: the job ends with a non-zero status.
//   dist_kill_check VICTIM AFTER [kill|error]
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "dist/world.h"

using namespace shears;

int main(int argc, char** argv) {
  dist::WorldSession world(argc, argv);
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: dist_kill_check VICTIM AFTER [kill|error]\n");
    return world.finish(2);
  }
  const int victim = std::stoi(argv[1]);
  const int after = std::stoi(argv[2]);
  const std::string how = argc == 4 ? argv[3] : "kill";
  std::vector<float> buf(1 << 18, 1.0f);
  for (int i = 0;; ++i) {
    if (i == after && dist::rank() == victim && how == "error") {
      std::printf("rank %d: failing with status 3 after %d all-reduces\n", victim, i);
      std::fflush(stdout);
      return world.finish(3);
    }
    if (i == after && dist::rank() == victim) {
      std::printf("rank %d: killing myself (SIGKILL) after %d all-reduces\n", victim, i);
      std::fflush(stdout);
      std::raise(SIGKILL);
    }
    dist::allreduce_sum(buf.data(), int64_t(buf.size()));
    for (float& x : buf) x = 1.0f;
    if (i == 100000) break;  // never reached within the test's bound unless the job is not ended
  }
  std::printf("rank %d: finished all iterations: the job was NOT ended\n", dist::rank());
  return world.finish(0);
}
