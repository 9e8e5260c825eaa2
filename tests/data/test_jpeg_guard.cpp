// The JPEG Huffman-table pre-check (data/jpeg_guard.h): a DHT table with more than 256 codes is
// refused before stb_image decodes the file (found by tests/fuzz/fuzz_image: Debian's stb wrote
// past its Huffman arrays); valid JPEGs and non-JPEG bytes pass.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "data/datasets.h"
#include "data/jpeg_guard.h"

using namespace shears;
using Catch::Matchers::Contains;

namespace {
const std::string kCorpus = std::string(SHEARS_FIXTURES_DIR) + "/../fuzz/corpus/fuzz_image/";

// SOI, one DHT segment holding one table with the given 16 counts (values zero), EOI.
std::vector<unsigned char> jpeg_with_dht(const std::vector<unsigned>& counts) {
  unsigned n = 0;
  for (unsigned c : counts) n += c;
  const unsigned length = 2 + 17 + n;
  std::vector<unsigned char> b = {0xFF, 0xD8, 0xFF, 0xC4, (unsigned char)(length >> 8), (unsigned char)(length & 255),
                                  0x10};
  for (unsigned c : counts) b.push_back((unsigned char)c);
  b.resize(b.size() + n, 0);
  b.push_back(0xFF);
  b.push_back(0xD9);
  return b;
}
}  // namespace

TEST_CASE("jpeg_guard: a Huffman table with more than 256 codes is refused", "[data][jpeg][hostile]") {
  std::vector<unsigned> ok(16, 0), bad(16, 0);
  ok[7] = 200;
  ok[8] = 56;  // 256: the JPEG limit
  bad[7] = 200;
  bad[8] = 57;
  const auto good = jpeg_with_dht(ok), hostile = jpeg_with_dht(bad);
  CHECK(data::jpeg_huffman_problem(good.data(), good.size()).empty());
  CHECK_THAT(data::jpeg_huffman_problem(hostile.data(), hostile.size()), Contains("257 codes"));
  // stb skips 0xFF fill bytes before SOI too (found by the fuzzer: FF FF D8 ...).
  std::vector<unsigned char> filled = hostile;
  filled.insert(filled.begin(), 0xFF);
  CHECK_THAT(data::jpeg_huffman_problem(filled.data(), filled.size()), Contains("257 codes"));
  const unsigned char png[] = {0x89, 'P', 'N', 'G'};
  CHECK(data::jpeg_huffman_problem(png, sizeof png).empty());  // not a JPEG: left to the decoder
}

TEST_CASE("jpeg_guard: load_image_rgb refuses the fuzzer's file, still reads valid JPEGs", "[data][jpeg][hostile]") {
  REQUIRE_THROWS_WITH(data::load_image_rgb(kCorpus + "regression_jpeg_dht_overflow.jpg"),
                      Contains("regression_jpeg_dht_overflow.jpg") && Contains("Huffman table") &&
                          Contains("at most 256"));
  REQUIRE_THROWS_WITH(data::load_image_rgb(kCorpus + "regression_jpeg_fill_before_soi.jpg"),
                      Contains("Huffman table") && Contains("at most 256"));
  // A table that stb already built while reading only the header (stbi_info, the size check).
  REQUIRE_THROWS_WITH(data::load_image_rgb(kCorpus + "regression_jpeg_dht_in_header.jpg"),
                      Contains("Huffman table") && Contains("at most 256"));
  const Tensor rgb = data::load_image_rgb(kCorpus + "rgb.jpg");
  CHECK(rgb.shape() == Shape{3, 3, 5});
  const Tensor grey = data::load_image_rgb(kCorpus + "grey.jpg");
  CHECK(grey.shape() == Shape{3, 8, 8});
}
