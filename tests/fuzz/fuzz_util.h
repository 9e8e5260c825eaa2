// Shared helpers of the libFuzzer targets: the input as a temp file (for readers that take a
// path), the rule for which exceptions are acceptable (shears::Error only: anything else that
// escapes is a finding and aborts), and a byte reader that splits an input into fields.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "tensor/error.h"

namespace shears::fuzz {

// A per-process file under $TMPDIR (or /tmp) holding the input; overwritten on every call,
// removed at exit. `suffix` lets a reader see an extension (".png").
inline std::string write_temp_file(const uint8_t* data, size_t size, const std::string& suffix = "") {
  const char* dir = std::getenv("TMPDIR");
  static const std::string base =
      std::string(dir && *dir ? dir : "/tmp") + "/shears_fuzz_" + std::to_string(::getpid());
  const std::string path = base + suffix;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  static bool registered = false;
  static std::string last;
  last = path;
  if (!registered) {
    registered = true;
    std::atexit([] { std::remove(last.c_str()); });
  }
  return path;
}

// SHEARS_FUZZ_VERBOSE=1 prints every refusal (to check what a corpus file exercises).
inline bool verbose() {
  static const bool on = std::getenv("SHEARS_FUZZ_VERBOSE") != nullptr;
  return on;
}

// Runs `body`; a shears::Error is the documented way to refuse bad input. Any other exception
// escaping is a bug (a missing check that let a std::out_of_range, nlohmann or bad_alloc
// through): print it and abort so libFuzzer records the input.
template <typename F>
void expect_shears_errors_only(const char* target, F&& body) {
  try {
    body();
    if (verbose()) std::fprintf(stderr, "%s: accepted\n", target);
  } catch (const shears::Error& e) {
    if (verbose()) std::fprintf(stderr, "%s: refused: %.300s\n", target, e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: non-shears exception escaped: %s\n", target, e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "%s: unknown exception escaped\n", target);
    std::abort();
  }
}

// Consumes an input from the front: bytes, bounded integers and the rest as a string.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  // A string up to the next `sep` (consumed) or the end.
  std::string until(char sep) {
    std::string s;
    while (pos_ < size_ && char(data_[pos_]) != sep) s.push_back(char(data_[pos_++]));
    if (pos_ < size_) ++pos_;
    return s;
  }
  std::string rest() {
    std::string s(reinterpret_cast<const char*>(data_ + pos_), size_ - pos_);
    pos_ = size_;
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Aborts with a message when a property the target checks does not hold.
inline void require(bool ok, const char* target, const std::string& what) {
  if (ok) return;
  std::fprintf(stderr, "%s: property violated: %s\n", target, what.c_str());
  std::abort();
}

}  // namespace shears::fuzz
