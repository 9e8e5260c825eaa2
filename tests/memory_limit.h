// Runs a callable in a forked child whose address space may grow by at most a given number of
// bytes (RLIMIT_AS), so a test can show that hostile input is refused WITHOUT first allocating
// gigabytes: an over-allocation shows up as "bad_alloc" instead of the expected error. Under
// AddressSanitizer (which reserves terabytes of shadow memory) the limit is not applied.
#pragma once
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <functional>
#include <new>
#include <string>

#include "tensor/error.h"

namespace shears::test {

#if defined(__SANITIZE_ADDRESS__)
#define SHEARS_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SHEARS_TEST_ASAN 1
#endif
#endif

// The outcome of fn: "ok", "error: <shears::Error what()>", "bad_alloc", "exception: <what>", or
// "child died" when the child did not report (killed, crashed).
inline std::string run_with_memory_limit(size_t extra_bytes, const std::function<void()>& fn) {
  auto outcome = [&]() -> std::string {
    try {
      fn();
      return "ok";
    } catch (const Error& e) {
      return std::string("error: ") + e.what();
    } catch (const std::bad_alloc&) {
      return "bad_alloc";
    } catch (const std::exception& e) {
      return std::string("exception: ") + e.what();
    }
  };
#ifdef SHEARS_TEST_ASAN
  (void)extra_bytes;
  return outcome();
#else
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(fds[0]);
    long pages = 0;
    if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
      if (std::fscanf(f, "%ld", &pages) != 1) pages = 0;
      std::fclose(f);
    }
    const rlim_t now = rlim_t(pages) * rlim_t(::sysconf(_SC_PAGESIZE));
    struct rlimit lim = {now + extra_bytes, now + extra_bytes};
    ::setrlimit(RLIMIT_AS, &lim);
    const std::string msg = outcome();
    size_t off = 0;
    while (off < msg.size()) {
      const ssize_t n = ::write(fds[1], msg.data() + off, msg.size() - off);
      if (n <= 0) break;
      off += size_t(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string msg;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) msg.append(buf, size_t(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return msg.empty() ? "child died" : msg;
#endif
}

}  // namespace shears::test
