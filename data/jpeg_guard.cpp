// JPEG marker walk for the Huffman-table check of jpeg_guard.h: segments are skipped by their
// length, DHT tables are read the way stb_image reads them (table after table while the segment
// length lasts, the stream position following what was read), entropy-coded data byte by byte.
#include "data/jpeg_guard.h"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <vector>

#include "tensor/error.h"

namespace shears::data {

std::string jpeg_huffman_problem(const unsigned char* b, size_t size) {
  // stb takes any run of 0xFF fill bytes before a marker, the first one (SOI, D8) included.
  size_t pos = 0;
  while (pos < size && b[pos] == 0xFF) ++pos;
  if (pos == 0 || pos >= size || b[pos] != 0xD8) return "";
  ++pos;
  auto at = [&](size_t i) -> unsigned { return i < size ? b[i] : 0u; };  // stb reads 0 past the end
  while (pos < size) {
    if (b[pos] != 0xFF) {  // entropy-coded data (or junk between segments)
      ++pos;
      continue;
    }
    while (pos < size && b[pos] == 0xFF) ++pos;  // fill bytes
    if (pos >= size) break;
    const unsigned marker = b[pos++];
    if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;  // no length
    if (marker == 0xD9) break;  // end of image
    if (pos + 2 > size) break;
    const int64_t length = int64_t(at(pos)) << 8 | at(pos + 1);
    if (marker != 0xC4) {
      pos += size_t(length < 2 ? 2 : length);
      continue;
    }
    int64_t left = length - 2;  // DHT: stb builds table after table while left > 0
    size_t q = pos + 2;
    while (left > 0 && q < size) {
      const unsigned table = at(q);
      int64_t n = 0;
      for (int i = 1; i <= 16; ++i) n += at(q + size_t(i));
      if (n > 256)
        return str_cat("Huffman table ", table & 15, " (class ", table >> 4, ") at byte ", q, " has ", n,
                       " codes; JPEG allows at most 256");
      q += 17 + size_t(n);
      left -= 17 + n;
    }
    pos = q;
  }
  return "";
}

std::string jpeg_file_huffman_problem(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return "";
  char first = 0;
  if (!f.get(first) || static_cast<unsigned char>(first) != 0xFF) return "";  // no JPEG starts otherwise
  f.seekg(0);
  const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return jpeg_huffman_problem(bytes.data(), bytes.size());
}

}  // namespace shears::data
