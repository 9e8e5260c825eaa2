// Hostile data files (issue 15): an IDX header with huge dims (used to allocate and zero ~12 GB
// before noticing the file is short) and image headers claiming huge sizes (used to decode
// gigabytes of garbage with success). Each runs under an address-space limit (tests/memory_limit.h):
// the error must come before any big allocation, naming the file.
#include <catch2/catch.hpp>
#include <stb/stb_image_write.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "data/datasets.h"
#include "data/fashion_mnist.h"
#include "memory_limit.h"

namespace fs = std::filesystem;
using namespace shears;
using Catch::Contains;

namespace {

constexpr size_t kLimit = size_t(256) << 20;  // the child may grow by 256 MiB

struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("shears_hostile_data_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

void put_u32_be(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(v >> s));
}
void put_le(std::vector<uint8_t>& out, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  REQUIRE(f.good());
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

// An IDX image header (n, rows, cols) followed by `payload` bytes.
std::vector<uint8_t> idx_header(uint32_t n, uint32_t rows, uint32_t cols, size_t payload) {
  std::vector<uint8_t> out;
  put_u32_be(out, 0x803);
  put_u32_be(out, n);
  put_u32_be(out, rows);
  put_u32_be(out, cols);
  out.resize(out.size() + payload, 7);
  return out;
}

// A BMP (BITMAPINFOHEADER, 24 bits) whose header claims w x h but holds `payload` bytes of pixels.
std::vector<uint8_t> bmp_header(uint32_t w, uint32_t h, size_t payload) {
  std::vector<uint8_t> out = {'B', 'M'};
  put_le(out, uint32_t(54 + payload), 4);
  put_le(out, 0, 4);
  put_le(out, 54, 4);   // pixel data offset
  put_le(out, 40, 4);   // info header size
  put_le(out, w, 4);
  put_le(out, h, 4);
  put_le(out, 1, 2);    // planes
  put_le(out, 24, 2);   // bits per pixel
  put_le(out, 0, 4);    // BI_RGB
  put_le(out, uint32_t(payload), 4);
  put_le(out, 2835, 4);
  put_le(out, 2835, 4);
  put_le(out, 0, 4);
  put_le(out, 0, 4);
  out.resize(out.size() + payload, 0x40);
  return out;
}

}  // namespace

TEST_CASE("hostile: an IDX header claiming ~12 GB in a short raw file fails before allocating", "[data][hostile]") {
  TempDir dir;
  const std::string path = dir.file("huge-idx");
  write_bytes(path, idx_header(15000000, 28, 28, 100));  // 11.76 GB claimed, 100 bytes present
  const std::string out = test::run_with_memory_limit(kLimit, [&] { data::read_idx_images(path); });
  CHECK_THAT(out, Contains("error:") && Contains("truncated") && Contains("huge-idx") &&
                      Contains("15000000 images of 28 x 28"));
}

TEST_CASE("hostile: an IDX header claiming ~12 GB in a short gzip file fails before allocating", "[data][hostile]") {
  TempDir dir;
  const std::string path = dir.file("huge-idx.gz");
  write_gz(path, idx_header(15000000, 28, 28, 5000));
  const std::string out = test::run_with_memory_limit(kLimit, [&] { data::read_idx_images(path); });
  CHECK_THAT(out, Contains("error:") && Contains("truncated") && Contains("huge-idx.gz") &&
                      Contains("only 5000 bytes follow"));
  // labels too
  std::vector<uint8_t> labels;
  put_u32_be(labels, 0x801);
  put_u32_be(labels, 0xFFFFFFFFu);
  labels.resize(labels.size() + 10, 1);
  write_gz(dir.file("huge-labels.gz"), labels);
  const std::string out2 = test::run_with_memory_limit(kLimit, [&] { data::read_idx_labels(dir.file("huge-labels.gz")); });
  CHECK_THAT(out2, Contains("error:") && Contains("truncated") && Contains("huge-labels.gz"));
}

TEST_CASE("hostile: IDX dims whose product overflows or exceeds the cap are refused", "[data][hostile]") {
  TempDir dir;
  write_bytes(dir.file("overflow"), idx_header(0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 16));
  REQUIRE_THROWS_WITH(data::read_idx_images(dir.file("overflow")),
                      Contains("implausible") && Contains("overflows") && Contains("overflow"));
  write_bytes(dir.file("over-cap"), idx_header(0xFFFFFFFFu, 0xFFFF, 2, 16));
  REQUIRE_THROWS_WITH(data::read_idx_images(dir.file("over-cap")),
                      Contains("implausible") && Contains("above the limit") && Contains("over-cap"));
}

TEST_CASE("hostile: a BMP header claiming a huge image in a tiny file is refused", "[data][hostile]") {
  TempDir dir;
  const std::string path = dir.file("huge.bmp");
  write_bytes(path, bmp_header(16000, 4000, 64));  // 64 M pixels (within the caps), 64 bytes of data
  const std::string out = test::run_with_memory_limit(kLimit, [&] { data::load_image_rgb(path); });
  CHECK_THAT(out, Contains("error:") && Contains("huge.bmp") && Contains("truncated") && Contains("16000 x 4000"));
  // beyond the side cap
  write_bytes(path, bmp_header(20000, 2, 20000 * 2 * 3 + 4));
  REQUIRE_THROWS_WITH(data::load_image_rgb(path), Contains("huge.bmp") && Contains("caps"));
  // beyond the pixel cap with sides under the cap
  write_bytes(path, bmp_header(16384, 16384, 64));
  REQUIRE_THROWS_WITH(data::load_image_rgb(path), Contains("huge.bmp") && Contains("caps"));
  // a complete small BMP still decodes: 4 x 2 at 24 bits, rows of 12 bytes
  write_bytes(path, bmp_header(4, 2, 24));
  Tensor img = data::load_image_rgb(path);
  REQUIRE(img.shape() == Shape{3, 2, 4});
  CHECK(img.data<float>()[0] == Approx(0x40 / 255.0));
}

TEST_CASE("hostile: PNG and JPEG headers patched to claim a huge size are refused", "[data][hostile]") {
  TempDir dir;
  std::vector<uint8_t> px(8 * 8 * 3, 100);
  const std::string png = dir.file("small.png"), jpg = dir.file("small.jpg");
  REQUIRE(stbi_write_png(png.c_str(), 8, 8, 3, px.data(), 8 * 3) != 0);
  REQUIRE(stbi_write_jpg(jpg.c_str(), 8, 8, 3, px.data(), 90) != 0);
  REQUIRE(data::load_image_rgb(png).shape() == Shape{3, 8, 8});
  REQUIRE(data::load_image_rgb(jpg).shape() == Shape{3, 8, 8});

  // PNG: IHDR width/height at bytes 16..23 (big-endian); stb ignores the CRC
  std::vector<uint8_t> b = read_bytes(png);
  REQUIRE(b.size() > 24);
  for (int i = 0; i < 4; ++i) b[16 + i] = uint8_t(8000u >> (24 - 8 * i)), b[20 + i] = uint8_t(8000u >> (24 - 8 * i));
  const std::string huge_png = dir.file("huge.png");
  write_bytes(huge_png, b);
  const std::string out = test::run_with_memory_limit(kLimit, [&] { data::load_image_rgb(huge_png); });
  CHECK_THAT(out, Contains("error:") && Contains("huge.png") && Contains("8000 x 8000"));

  // JPEG: SOF0 (FF C0): length(2) precision(1) height(2) width(2), big-endian
  b = read_bytes(jpg);
  size_t sof = 0;
  for (size_t i = 2; i + 9 < b.size(); ++i)
    if (b[i] == 0xFF && b[i + 1] == 0xC0) {
      sof = i;
      break;
    }
  REQUIRE(sof > 0);
  b[sof + 5] = uint8_t(8000 >> 8), b[sof + 6] = uint8_t(8000 & 0xFF);
  b[sof + 7] = uint8_t(8000 >> 8), b[sof + 8] = uint8_t(8000 & 0xFF);
  const std::string huge_jpg = dir.file("huge.jpg");
  write_bytes(huge_jpg, b);
  const std::string out2 = test::run_with_memory_limit(kLimit, [&] { data::load_image_rgb(huge_jpg); });
  CHECK_THAT(out2, Contains("error:") && Contains("huge.jpg") && Contains("8000 x 8000"));
}

TEST_CASE("hostile: formats other than JPEG, PNG and BMP are refused naming the file", "[data][hostile]") {
  TempDir dir;
  const std::string path = dir.file("image.pgm");
  const std::string pgm = "P5\n2 2\n255\n\x01\x02\x03\x04";
  write_bytes(path, std::vector<uint8_t>(pgm.begin(), pgm.end()));
  REQUIRE_THROWS_WITH(data::load_image_rgb(path), Contains("image.pgm") && Contains("JPEG, PNG and BMP"));
}

TEST_CASE("the memory-limit harness reports an over-allocation as bad_alloc", "[data][hostile]") {
#ifndef SHEARS_TEST_ASAN
  const std::string out = test::run_with_memory_limit(kLimit, [] {
    std::vector<uint8_t> big(size_t(1) << 30);  // 1 GiB: over the 256 MiB the child may grow
    big[big.size() - 1] = 1;
  });
  CHECK(out == "bad_alloc");
#endif
  CHECK(test::run_with_memory_limit(kLimit, [] {}) == "ok");
}

TEST_CASE("hostile: a PNG chunk claiming more bytes than the file holds is refused before stb", "[data][hostile]") {
  TempDir dir;
  std::vector<uint8_t> px(8 * 8 * 3, 100);
  const std::string png = dir.file("small.png");
  REQUIRE(stbi_write_png(png.c_str(), 8, 8, 3, px.data(), 8 * 3) != 0);
  std::vector<uint8_t> b = read_bytes(png);
  // the first chunk after IHDR (8 signature + 25 IHDR bytes) claims 2^31 bytes (stb reallocated that much)
  const size_t chunk = 8 + 25;
  REQUIRE(b.size() > chunk + 8);
  b[chunk] = 0x80, b[chunk + 1] = 0, b[chunk + 2] = 0, b[chunk + 3] = 0;
  const std::string bad = dir.file("idat_2gb.png");
  write_bytes(bad, b);
  const std::string out = test::run_with_memory_limit(kLimit, [&] { data::load_image_rgb(bad); });
  CHECK_THAT(out, Contains("error:") && Contains("idat_2gb.png") && Contains("claims 2147483648 bytes"));
  // the fuzzer's file (tests/fuzz/corpus/fuzz_image/regression_png_idat_length_oom.png)
  const std::string found = std::string(SHEARS_FIXTURES_DIR) + "/../fuzz/corpus/fuzz_image/regression_png_idat_length_oom.png";
  CHECK_THROWS_WITH(data::load_image_rgb(found), Contains("remain"));
}
