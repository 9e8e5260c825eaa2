// PNG chunk walk for the pre-check of png_guard.h: chunk after chunk from byte 8 until IEND or
// the end of the bytes, each length compared with the bytes left, IDAT chunks counted as stb
// gathers them (its buffer stays null until an IDAT with bytes arrives).
#include "data/png_guard.h"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <vector>

#include "tensor/error.h"

namespace shears::data {

std::string png_chunk_problem(const unsigned char* b, size_t size) {
  if (size < 4 || b[0] != 0x89 || b[1] != 'P' || b[2] != 'N' || b[3] != 'G') return "";
  uint64_t pos = 8;
  uint64_t image_bytes = 0;  // IDAT bytes so far
  while (pos + 8 <= size) {
    const uint64_t length = uint64_t(b[pos]) << 24 | uint64_t(b[pos + 1]) << 16 | uint64_t(b[pos + 2]) << 8 | b[pos + 3];
    const std::string type(reinterpret_cast<const char*>(b + pos + 4), 4);
    const uint64_t left = size - pos - 8;
    if (length > left)
      return str_cat("PNG chunk '", type, "' at byte ", pos, " claims ", length, " bytes but only ", left, " remain");
    if (type == "IDAT") {
      if (length == 0 && image_bytes == 0)
        return str_cat("PNG chunk 'IDAT' at byte ", pos, " is empty and comes before any image data");
      image_bytes += length;
    }
    if (type == "IEND") break;
    pos += 12 + length;
  }
  return "";
}

std::string png_file_chunk_problem(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return "";
  char first = 0;
  if (!f.get(first) || static_cast<unsigned char>(first) != 0x89) return "";  // no PNG starts otherwise
  f.seekg(0);
  const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return png_chunk_problem(bytes.data(), bytes.size());
}

}  // namespace shears::data
