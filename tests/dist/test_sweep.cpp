// dist::run_sweep and root_first in one process: every job runs once, in order, results in job
// order; round-robin ownership over ranks.
#include <catch2/catch.hpp>

#include "dist/sweep.h"
#include "tensor/error.h"

using namespace shears;

TEST_CASE("round-robin job owners", "[dist]") {
  CHECK(dist::job_owner(0, 2) == 0);
  CHECK(dist::job_owner(1, 2) == 1);
  CHECK(dist::job_owner(4, 3) == 1);
  CHECK(dist::job_owner(5, 1) == 0);
  CHECK_THROWS_AS(dist::job_owner(-1, 2), Error);
  CHECK_THROWS_AS(dist::job_owner(0, 0), Error);
}

TEST_CASE("a sweep on one process runs every job in order and keeps the results' bytes", "[dist]") {
  std::vector<int64_t> ran;
  const auto results = dist::run_sweep(5, [&](int64_t j) {
    ran.push_back(j);
    return j == 2 ? std::string("{\"a\":1}\n2:x") : std::string(size_t(j), char('a' + j));
  });
  CHECK(ran == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(results == std::vector<std::string>{"", "b", "{\"a\":1}\n2:x", "ddd", "eeee"});
  CHECK(dist::run_sweep(0, [](int64_t) { return std::string("never"); }).empty());
  CHECK_THROWS_WITH(dist::run_sweep(2, [](int64_t j) -> std::string { throw Error("job failed"); }),
                    Catch::Contains("job failed"));
  int calls = 0;
  dist::root_first([&] { ++calls; });
  CHECK(calls == 1);
}
