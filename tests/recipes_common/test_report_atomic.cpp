// write_text_atomic (result tables): writes through "<path>.tmp.<pid>" + rename, removes temp
// files that dead writers of the same path left, and names the file when it cannot write.
#include <catch2/catch.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/report.h"

namespace fs = std::filesystem;
using namespace shears;

TEST_CASE("write_text_atomic replaces the file and removes dead writers' temp files", "[recipes][report]") {
  const fs::path dir = fs::temp_directory_path() / ("shears_report_atomic_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "table.csv").string();
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);  // reaped: its pid names no process
  const fs::path dead_tmp = path + ".tmp." + std::to_string(long(child));
  std::ofstream(dead_tmp) << "a,b\n1,";  // what a killed writer left
  recipes::write_text_atomic(path, "a,b\n1,2\n");
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  CHECK(s.str() == "a,b\n1,2\n");
  CHECK_FALSE(fs::exists(dead_tmp));
  CHECK_FALSE(fs::exists(path + ".tmp." + std::to_string(long(::getpid()))));
  CHECK_THROWS_WITH(recipes::write_text_atomic((dir / "no_such_dir" / "t.csv").string(), "x"),
                    Catch::Contains((dir / "no_such_dir" / "t.csv").string()));
  fs::remove_all(dir);
}
