// Tests of the IDX reader and the Fashion-MNIST loader: small IDX files (raw and
// gzipped) written to a temp folder and read back, and the error messages for a
// missing dataset, a wrong magic number, a truncated file and mismatched counts.
#include <catch2/catch.hpp>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "data/fashion_mnist.h"

namespace fs = std::filesystem;
using namespace shears;
using Catch::Contains;

namespace {

// A fresh, empty folder under the system temp dir, removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("shears_idx_test_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  out.push_back(uint8_t(v >> 24));
  out.push_back(uint8_t(v >> 16));
  out.push_back(uint8_t(v >> 8));
  out.push_back(uint8_t(v));
}

std::vector<uint8_t> idx_images(uint32_t n, uint32_t rows, uint32_t cols, uint32_t magic = 0x803) {
  std::vector<uint8_t> out;
  put_u32(out, magic);
  put_u32(out, n);
  put_u32(out, rows);
  put_u32(out, cols);
  for (uint32_t i = 0; i < n * rows * cols; ++i) out.push_back(uint8_t((i * 7) % 256));
  return out;
}

std::vector<uint8_t> idx_labels(uint32_t n, uint32_t magic = 0x801) {
  std::vector<uint8_t> out;
  put_u32(out, magic);
  put_u32(out, n);
  for (uint32_t i = 0; i < n; ++i) out.push_back(uint8_t(i % 10));
  return out;
}

void write_raw(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  REQUIRE(f.good());
}

void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

std::vector<uint8_t> cut(std::vector<uint8_t> bytes, size_t keep) {
  bytes.resize(keep);
  return bytes;
}

}  // namespace

TEST_CASE("read_idx_images reads raw and gzipped files into (N, 1, rows, cols) scaled to 0..1",
          "[data][idx]") {
  TempDir dir;
  auto bytes = idx_images(3, 4, 5);
  write_raw(dir.file("img"), bytes);
  write_gz(dir.file("img.gz"), bytes);

  for (const char* name : {"img", "img.gz"}) {
    Tensor x = data::read_idx_images(dir.file(name));
    REQUIRE(x.dtype() == DType::F32);
    REQUIRE(x.shape() == Shape{3, 1, 4, 5});
    std::vector<float> v = x.to_vector<float>();
    REQUIRE(v.size() == 60);
    for (size_t i = 0; i < v.size(); ++i) {
      REQUIRE(v[i] == Approx(float(bytes[16 + i]) / 255.0f));
      REQUIRE(v[i] >= 0.0f);
      REQUIRE(v[i] <= 1.0f);
    }
  }
}

TEST_CASE("read_idx_labels reads raw and gzipped files into i64 (N)", "[data][idx]") {
  TempDir dir;
  auto bytes = idx_labels(23);
  write_raw(dir.file("lbl"), bytes);
  write_gz(dir.file("lbl.gz"), bytes);
  for (const char* name : {"lbl", "lbl.gz"}) {
    Tensor y = data::read_idx_labels(dir.file(name));
    REQUIRE(y.dtype() == DType::I64);
    REQUIRE(y.shape() == Shape{23});
    std::vector<int64_t> v = y.to_vector<int64_t>();
    for (int64_t i = 0; i < 23; ++i) REQUIRE(v[size_t(i)] == i % 10);
  }
}

TEST_CASE("IDX reader rejects a wrong magic number and names both values", "[data][idx]") {
  TempDir dir;
  write_raw(dir.file("labels-as-images"), idx_labels(4));
  REQUIRE_THROWS_AS(data::read_idx_images(dir.file("labels-as-images")), Error);
  REQUIRE_THROWS_WITH(data::read_idx_images(dir.file("labels-as-images")),
                      Contains("wrong magic number") && Contains("0x00000801") &&
                          Contains("expected 0x00000803") && Contains("labels-as-images"));

  write_gz(dir.file("images-as-labels.gz"), idx_images(2, 3, 3));
  REQUIRE_THROWS_WITH(data::read_idx_labels(dir.file("images-as-labels.gz")),
                      Contains("wrong magic number") && Contains("expected 0x00000801"));
}

TEST_CASE("IDX reader rejects truncated files, raw and gzipped", "[data][idx]") {
  TempDir dir;
  auto images = idx_images(4, 6, 6);  // 16 + 144 bytes
  write_raw(dir.file("short-img"), cut(images, images.size() - 10));
  REQUIRE_THROWS_WITH(data::read_idx_images(dir.file("short-img")),
                      Contains("truncated") && Contains("4 images of 6 x 6") && Contains("short-img"));
  write_gz(dir.file("short-img.gz"), cut(images, 100));
  REQUIRE_THROWS_WITH(data::read_idx_images(dir.file("short-img.gz")), Contains("truncated"));

  // cut inside the header
  write_raw(dir.file("header-only"), cut(images, 10));
  REQUIRE_THROWS_WITH(data::read_idx_images(dir.file("header-only")),
                      Contains("truncated") && Contains("header"));

  auto labels = idx_labels(30);
  write_raw(dir.file("short-lbl"), cut(labels, labels.size() - 1));
  REQUIRE_THROWS_WITH(data::read_idx_labels(dir.file("short-lbl")),
                      Contains("truncated") && Contains("30 labels"));

  // a gzip stream cut off mid-way (the compressed bytes themselves are truncated)
  write_gz(dir.file("whole.gz"), images);
  std::ifstream f(dir.file("whole.gz"), std::ios::binary);
  std::vector<uint8_t> gz((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  write_raw(dir.file("cut.gz"), cut(gz, gz.size() / 2));
  REQUIRE_THROWS_AS(data::read_idx_images(dir.file("cut.gz")), Error);
}

TEST_CASE("IDX reader rejects trailing bytes beyond the header's count", "[data][idx]") {
  TempDir dir;
  auto labels = idx_labels(5);
  labels.push_back(7);
  write_raw(dir.file("long-lbl"), labels);
  REQUIRE_THROWS_WITH(data::read_idx_labels(dir.file("long-lbl")), Contains("longer than its header"));
}

TEST_CASE("IDX reader names a missing file", "[data][idx]") {
  TempDir dir;
  REQUIRE_THROWS_WITH(data::read_idx_images(dir.file("nope.gz")),
                      Contains("cannot open") && Contains("nope.gz"));
}

TEST_CASE("load_fashion_mnist prefers .gz, falls back to raw and checks the split", "[data][fashion_mnist]") {
  TempDir dir;
  write_gz(dir.file("t10k-images-idx3-ubyte.gz"), idx_images(7, 28, 28));
  write_raw(dir.file("t10k-labels-idx1-ubyte"), idx_labels(7));
  REQUIRE(data::fashion_mnist_file(dir.path.string(), false, true) == dir.file("t10k-images-idx3-ubyte.gz"));
  REQUIRE(data::fashion_mnist_file(dir.path.string(), false, false) == dir.file("t10k-labels-idx1-ubyte"));

  data::FashionMnist test = data::load_fashion_mnist(dir.path.string(), /*train=*/false);
  REQUIRE(test.size() == 7);
  REQUIRE(test.images.shape() == Shape{7, 1, 28, 28});
  REQUIRE(test.labels.shape() == Shape{7});

  SECTION("missing split names the Debian package and --data-dir") {
    REQUIRE_THROWS_WITH(data::load_fashion_mnist(dir.path.string(), /*train=*/true),
                        Contains("dataset-fashion-mnist") && Contains("--data-dir") &&
                            Contains("train-images-idx3-ubyte"));
  }
  SECTION("image and label counts must match") {
    write_raw(dir.file("train-images-idx3-ubyte"), idx_images(5, 28, 28));
    write_gz(dir.file("train-labels-idx1-ubyte.gz"), idx_labels(6));
    REQUIRE_THROWS_WITH(data::load_fashion_mnist(dir.path.string(), /*train=*/true),
                        Contains("5 images") && Contains("6 labels") && Contains("must match"));
  }
  SECTION("images must be 28 x 28") {
    write_raw(dir.file("train-images-idx3-ubyte"), idx_images(2, 27, 28));
    write_raw(dir.file("train-labels-idx1-ubyte"), idx_labels(2));
    REQUIRE_THROWS_WITH(data::load_fashion_mnist(dir.path.string(), /*train=*/true),
                        Contains("27 x 28") && Contains("28 x 28"));
  }
  SECTION("labels must be < 10") {
    write_raw(dir.file("train-images-idx3-ubyte"), idx_images(2, 28, 28));
    auto labels = idx_labels(2);
    labels.back() = 12;
    write_raw(dir.file("train-labels-idx1-ubyte"), labels);
    REQUIRE_THROWS_WITH(data::load_fashion_mnist(dir.path.string(), /*train=*/true),
                        Contains("label 12"));
  }
}
