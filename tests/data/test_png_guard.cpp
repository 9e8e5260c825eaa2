// The PNG chunk pre-check (data/png_guard.h): a chunk claiming more bytes than the file holds and
// an empty IDAT chunk before any image data are refused before stb_image sees the file (found by
// tests/fuzz/fuzz_image: a 2 GB realloc, a memcpy from a null buffer); valid PNGs pass.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "data/datasets.h"
#include "data/png_guard.h"

using namespace shears;
using Catch::Matchers::Contains;

namespace {
const std::string kCorpus = std::string(SHEARS_FIXTURES_DIR) + "/../fuzz/corpus/fuzz_image/";

struct Chunk {
  std::string type;
  uint32_t length;  // as written in the file
  size_t data_bytes;  // as present in the file
};

// The PNG signature, then each chunk as length, type, data (zeros) and a CRC (zeros: not checked).
std::vector<unsigned char> png_with(const std::vector<Chunk>& chunks) {
  std::vector<unsigned char> b = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  for (const Chunk& c : chunks) {
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back((unsigned char)(c.length >> shift));
    b.insert(b.end(), c.type.begin(), c.type.end());
    b.resize(b.size() + c.data_bytes + 4, 0);
  }
  return b;
}
std::string problem(const std::vector<unsigned char>& b) { return data::png_chunk_problem(b.data(), b.size()); }
}  // namespace

TEST_CASE("png_guard: chunks that fit pass, a chunk longer than the bytes left is refused", "[data][png][hostile]") {
  CHECK(problem(png_with({{"IHDR", 13, 13}, {"IDAT", 20, 20}, {"IEND", 0, 0}})).empty());
  CHECK(problem(png_with({{"IHDR", 13, 13}, {"IDAT", 20, 20}})).empty());  // no IEND: stb reports it
  CHECK_THAT(problem(png_with({{"IHDR", 13, 13}, {"IDAT", 0x80000000u, 20}})),
             Contains("'IDAT' at byte 33") && Contains("claims 2147483648 bytes") && Contains("only 24 remain"));
  CHECK_THAT(problem(png_with({{"IHDR", 18, 13}})), Contains("'IHDR'") && Contains("claims 18 bytes"));
  const unsigned char jpeg[] = {0xFF, 0xD8, 0xFF, 0xD9};
  CHECK(data::png_chunk_problem(jpeg, sizeof jpeg).empty());  // not a PNG: left to the decoder
}

TEST_CASE("png_guard: an empty IDAT chunk before any image data is refused", "[data][png][hostile]") {
  CHECK_THAT(problem(png_with({{"IHDR", 13, 13}, {"tEXt", 3, 3}, {"IDAT", 0, 0}, {"IEND", 0, 0}})),
             Contains("'IDAT' at byte 48 is empty") && Contains("before any image data"));
  // after image data an empty IDAT is harmless (stb's buffer exists by then)
  CHECK(problem(png_with({{"IHDR", 13, 13}, {"IDAT", 5, 5}, {"IDAT", 0, 0}, {"IEND", 0, 0}})).empty());
}

TEST_CASE("png_guard: load_image_rgb refuses the fuzzer's files naming them, still reads valid PNGs",
          "[data][png][hostile]") {
  REQUIRE_THROWS_WITH(data::load_image_rgb(kCorpus + "regression_png_empty_idat.png"),
                      Contains("regression_png_empty_idat.png") && Contains("'IDAT'") && Contains("is empty"));
  REQUIRE_THROWS_WITH(data::load_image_rgb(kCorpus + "regression_png_idat_length_oom.png"),
                      Contains("regression_png_idat_length_oom.png") && Contains("remain"));
  const Tensor rgb = data::load_image_rgb(kCorpus + "rgb.png");
  CHECK(rgb.dim() == 3);
  CHECK(rgb.size(0) == 3);
}
