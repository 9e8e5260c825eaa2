// shears::Error, the one exception type of the library, and the check macro that
// builds messages of the form "[op] message". Every user-facing op validates its
// inputs with SHEARS_CHECK and names itself and the offending shapes or dtypes.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace shears {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
inline void append(std::ostringstream&) {}
template <typename T, typename... Rest>
void append(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  append(os, rest...);
}
}  // namespace detail

// Concatenates its arguments with operator<< into one string.
template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  detail::append(os, args...);
  return os.str();
}

// Throws shears::Error("[op] message...").
template <typename... Args>
[[noreturn]] void fail(const char* op, const Args&... args) {
  throw Error(str_cat("[", op, "] ", args...));
}

}  // namespace shears

// SHEARS_CHECK(cond, "op", parts...) throws "[op] parts..." when cond is false.
#define SHEARS_CHECK(cond, op, ...)            \
  do {                                         \
    if (!(cond)) ::shears::fail(op, __VA_ARGS__); \
  } while (0)
