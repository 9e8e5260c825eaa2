// Atomic file replacement and dead-writer temp cleanup (see atomic_file.h).
#include "nn/io/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "tensor/error.h"

namespace shears::nn {
namespace {
namespace fs = std::filesystem;

// The folder of `target` ("." for a bare file name).
fs::path folder_of(const std::string& target) {
  const fs::path parent = fs::path(target).parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

// True when `pid` names a process that exists (or one we may not signal: still alive).
bool process_alive(long pid) {
  if (pid <= 0) return false;
  if (::kill(pid_t(pid), 0) == 0) return true;
  return errno != ESRCH;
}

// Closes and removes the temp file unless released (the rename happened).
struct TempFile {
  std::string path;
  std::FILE* f = nullptr;
  bool keep = false;
  ~TempFile() {
    if (f) std::fclose(f);
    if (!keep) std::remove(path.c_str());
  }
};
}  // namespace

std::string temp_path_for(const std::string& target) { return target + ".tmp." + std::to_string(::getpid()); }

std::vector<std::string> remove_dead_writer_temp_files(const std::string& target) {
  std::vector<std::string> removed;
  const std::string prefix = fs::path(target).filename().string() + ".tmp.";
  std::error_code ec;
  fs::directory_iterator it(folder_of(target), ec), end;
  if (ec) return removed;  // no folder yet: nothing to clean
  const long self = long(::getpid());
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const long pid = std::stol(digits);
    if (pid == self || process_alive(pid)) continue;
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;
    std::error_code rm_ec;
    if (fs::remove(it->path(), rm_ec)) removed.push_back(it->path().string());
  }
  return removed;
}

void write_file_atomic(const std::string& target, const char* op,
                       const std::function<void(const ByteSink& put)>& write) {
  remove_dead_writer_temp_files(target);
  TempFile tmp;
  tmp.path = temp_path_for(target);
  tmp.f = std::fopen(tmp.path.c_str(), "wb");
  if (!tmp.f) fail(op, target, ": cannot create the temporary file ", tmp.path, " (", std::strerror(errno), ")");
  const ByteSink put = [&](const void* p, size_t n) {
    if (n && std::fwrite(p, 1, n, tmp.f) != n)
      fail(op, target, ": write error on ", tmp.path, " (", std::strerror(errno), ")");
  };
  write(put);
  if (std::fflush(tmp.f) != 0 || ::fsync(::fileno(tmp.f)) != 0)
    fail(op, target, ": cannot flush ", tmp.path, " (", std::strerror(errno), ")");
  const int rc = std::fclose(tmp.f);
  tmp.f = nullptr;
  if (rc != 0) fail(op, target, ": cannot close ", tmp.path, " (", std::strerror(errno), ")");
  if (std::rename(tmp.path.c_str(), target.c_str()) != 0)
    fail(op, target, ": cannot rename ", tmp.path, " over it (", std::strerror(errno), ")");
  tmp.keep = true;
  // Make the rename itself durable (best effort: some file systems refuse fsync on folders).
  const int dir = ::open(folder_of(target).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace shears::nn
