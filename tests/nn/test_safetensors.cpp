// safetensors tests: round trips (f32/f64/i64/bool, metadata, non-contiguous, 0-d, empty),
// F16/BF16 decoding from hand-built bytes, one test per malformed-file error (message names
// the file and the problem), and atomic writes that leave a previous file intact.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "nn/io/safetensors.h"
#include "tensor/creation.h"
#include "tensor/kernels.h"

namespace fs = std::filesystem;
using namespace shears;
using Catch::Contains;

namespace {

// A unique path in the temp directory, removed (with any temp siblings) on scope exit.
struct TempPath {
  std::string path;
  explicit TempPath(const std::string& tag) {
    static int counter = 0;
    path = (fs::temp_directory_path() /
            ("shears_st_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + tag + ".safetensors"))
               .string();
  }
  ~TempPath() {
    std::error_code ec;
    fs::remove_all(path, ec);
    fs::remove_all(path + ".tmp." + std::to_string(::getpid()), ec);
  }
};

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

// A file with the given header JSON and data buffer.
void write_raw(const std::string& path, const std::string& header, const std::string& data) {
  write_file(path, le64(header.size()) + header + data);
}

std::string u16_bytes(const std::vector<uint16_t>& v) {
  std::string s(v.size() * 2, '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

// Reference binary16 decoding: (-1)^s * 2^(e-15) * (1 + m/1024), subnormals 2^-14 * m/1024.
double half_reference(uint16_t h) {
  const int s = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  double v;
  if (e == 0) v = std::ldexp(m, -24);
  else if (e == 31) v = m ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else v = std::ldexp(1024 + m, e - 25);
  return s ? -v : v;
}

void check_throws(const std::string& path, const std::string& problem) {
  REQUIRE_THROWS_WITH(nn::read_safetensors(path), Contains(path) && Contains(problem) && Contains("[safetensors]"));
}

}  // namespace

TEST_CASE("safetensors round trip keeps dtypes, shapes, values and metadata", "[nn][io]") {
  TempPath tmp("roundtrip");
  Tensor a = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor at = kernels::transpose(a, 0, 1);  // non-contiguous (3, 2)
  Tensor d = from_vector(std::vector<double>{0.1, -1e300, 3.25}, {3});
  Tensor i = from_vector(std::vector<int64_t>{-7, int64_t(1) << 40}, {1, 2});
  Tensor s = scalar_tensor(2.5);
  Tensor e = zeros({0, 4});
  Tensor b = kernels::compare_scalar(kernels::CompareOp::Gt, a, 3.0);
  std::map<std::string, std::string> meta{{"config", "{\"dim\": 384}"}, {"format", "pt"}};
  nn::write_safetensors(tmp.path, {{"z.weight", at}, {"a.f64", d}, {"m.i64", i}, {"scalar", s}, {"empty", e},
                                   {"mask", b}}, meta);

  nn::SafetensorsFile f = nn::read_safetensors(tmp.path);
  REQUIRE(f.tensors.size() == 6);
  REQUIRE(f.metadata == meta);
  const Tensor* rt = f.find("z.weight");
  REQUIRE(rt);
  CHECK(rt->dtype() == DType::F32);
  CHECK(rt->shape() == Shape{3, 2});
  CHECK(rt->to_vector<float>() == std::vector<float>{1, 4, 2, 5, 3, 6});
  CHECK(f.find("a.f64")->dtype() == DType::F64);
  CHECK(f.find("a.f64")->to_vector<double>() == d.to_vector<double>());
  CHECK(f.find("m.i64")->dtype() == DType::I64);
  CHECK(f.find("m.i64")->shape() == Shape{1, 2});
  CHECK(f.find("m.i64")->to_vector<int64_t>() == i.to_vector<int64_t>());
  CHECK(f.find("scalar")->dim() == 0);
  CHECK(f.find("scalar")->item<float>() == 2.5f);
  CHECK(f.find("empty")->shape() == Shape{0, 4});
  CHECK(f.find("mask")->dtype() == DType::Bool);
  CHECK(f.find("mask")->to_vector<bool>() == b.to_vector<bool>());
  CHECK(f.find("nope") == nullptr);
  CHECK(nn::read_safetensors_metadata(tmp.path) == meta);

  // Layout: header length a multiple of 8, padded with spaces, data in sorted name order.
  std::string bytes = read_file(tmp.path);
  uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = (n << 8) | static_cast<unsigned char>(bytes[k]);
  CHECK(n % 8 == 0);
  std::string header = bytes.substr(8, n);
  CHECK(header.find("\"a.f64\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[0,24]}") != std::string::npos);
  CHECK(header.find_last_not_of(' ') == header.find_last_of('}'));
  CHECK(bytes.size() == 8 + n + 24 + 16 + 0 + 6 + 4 + 24);
  CHECK_FALSE(fs::exists(tmp.path + ".tmp." + std::to_string(::getpid())));
}

TEST_CASE("half_to_float matches the binary16 definition for all 65536 patterns", "[nn][io]") {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float got = nn::half_to_float(static_cast<uint16_t>(h));
    const double want = half_reference(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      REQUIRE(std::isnan(got));
    } else {
      REQUIRE(double(got) == want);
      REQUIRE(std::signbit(got) == bool(h >> 15));
    }
  }
}

TEST_CASE("safetensors decodes hand-built F16 and BF16 bytes to f32", "[nn][io]") {
  TempPath tmp("halves");
  // F16: 1.0, -2.5, 65504 (max), 2^-24 (smallest subnormal), 1023*2^-24 (largest subnormal), -0, inf, -inf, nan
  std::vector<uint16_t> f16{0x3C00, 0xC100, 0x7BFF, 0x0001, 0x03FF, 0x8000, 0x7C00, 0xFC00, 0x7E00};
  // BF16: 1.0, -2.5, 65280, 2^-24, 2^-133 (smallest subnormal), inf, nan
  std::vector<uint16_t> bf16{0x3F80, 0xC020, 0x477F, 0x3380, 0x0001, 0x7F80, 0x7FC0};
  std::string header = "{\"h\":{\"dtype\":\"F16\",\"shape\":[9],\"data_offsets\":[0,18]},"
                       "\"b\":{\"dtype\":\"BF16\",\"shape\":[7],\"data_offsets\":[18,32]}}";
  write_raw(tmp.path, header, u16_bytes(f16) + u16_bytes(bf16));
  nn::SafetensorsFile f = nn::read_safetensors(tmp.path);
  REQUIRE(f.tensors.size() == 2);
  CHECK(f.tensors[0].first == "h");  // data order
  auto h = f.find("h")->to_vector<float>();
  CHECK(f.find("h")->dtype() == DType::F32);
  CHECK(h[0] == 1.0f);
  CHECK(h[1] == -2.5f);
  CHECK(h[2] == 65504.0f);
  CHECK(h[3] == std::ldexp(1.0f, -24));
  CHECK(h[4] == std::ldexp(1023.0f, -24));
  CHECK((h[5] == 0.0f && std::signbit(h[5])));
  CHECK(h[6] == std::numeric_limits<float>::infinity());
  CHECK(h[7] == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(h[8]));
  auto b = f.find("b")->to_vector<float>();
  CHECK(b[0] == 1.0f);
  CHECK(b[1] == -2.5f);
  CHECK(b[2] == 65280.0f);
  CHECK(b[3] == std::ldexp(1.0f, -24));
  CHECK(b[4] == std::ldexp(1.0f, -133));
  CHECK(b[5] == std::numeric_limits<float>::infinity());
  CHECK(std::isnan(b[6]));
}

TEST_CASE("safetensors errors name the file and the problem", "[nn][io]") {
  TempPath tmp("bad");
  const std::string ok_entry = "\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]";
  const std::string data16(16, '\0');

  SECTION("missing file") { check_throws(tmp.path, "file not found"); }
  SECTION("shorter than 8 bytes") {
    write_file(tmp.path, "abc");
    check_throws(tmp.path, "shorter than the 8-byte header length");
  }
  SECTION("header length beyond the file") {
    write_file(tmp.path, le64(1000) + "{}");
    check_throws(tmp.path, "header length 1000 is beyond the file");
  }
  SECTION("malformed header JSON") {
    write_raw(tmp.path, "{\"w\": {\"dtype\": ", "");
    check_throws(tmp.path, "malformed header JSON");
  }
  SECTION("header not an object") {
    write_raw(tmp.path, "[1, 2]", "");
    check_throws(tmp.path, "header JSON is not an object");
  }
  SECTION("entry missing dtype") {
    write_raw(tmp.path, "{\"w\":{\"shape\":[2,2],\"data_offsets\":[0,16]}}", data16);
    check_throws(tmp.path, "tensor 'w': header entry is missing \"dtype\"");
  }
  SECTION("entry missing shape") {
    write_raw(tmp.path, "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,16]}}", data16);
    check_throws(tmp.path, "tensor 'w': header entry is missing \"shape\"");
  }
  SECTION("entry missing data_offsets") {
    write_raw(tmp.path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2]}}", data16);
    check_throws(tmp.path, "tensor 'w': header entry is missing \"data_offsets\"");
  }
  SECTION("negative shape") {
    write_raw(tmp.path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2,2],\"data_offsets\":[0,16]}}", data16);
    check_throws(tmp.path, "\"shape\" must hold non-negative integers");
  }
  SECTION("unknown dtype is named") {
    write_raw(tmp.path, "{\"w\":{\"dtype\":\"Q4_K\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", data16);
    check_throws(tmp.path, "tensor 'w': unsupported dtype 'Q4_K'");
  }
  SECTION("data offsets out of range") {
    write_raw(tmp.path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", std::string(8, '\0'));
    check_throws(tmp.path, "tensor 'w': data offsets [0, 16] out of range of the 8-byte data buffer");
  }
  SECTION("data offsets reversed") {
    write_raw(tmp.path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,0]}}", data16);
    check_throws(tmp.path, "out of range");
  }
  SECTION("data offsets not matching shape * dtype size") {
    write_raw(tmp.path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", data16);
    check_throws(tmp.path, "tensor 'w': data offsets [0, 12] hold 12 bytes but shape (2, 2) needs 16 bytes");
  }
  SECTION("overflowing shape") {
    write_raw(tmp.path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,8],\"data_offsets\":[0,16]}}",
              data16);
    check_throws(tmp.path, "needs an overflowing number of bytes");
  }
  SECTION("overlapping tensors") {
    write_raw(tmp.path, "{\"a\":{" + ok_entry + "},\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
              std::string(24, '\0'));
    check_throws(tmp.path, "tensor 'b': data offsets [8, 24] overlap tensor 'a' [0, 16]");
  }
  SECTION("non-string metadata value") {
    write_raw(tmp.path, "{\"__metadata__\":{\"ok\":\"x\",\"epochs\":3},\"w\":{" + ok_entry + "}}", data16);
    check_throws(tmp.path, "metadata value for \"epochs\" is not a string");
    REQUIRE_THROWS_WITH(nn::read_safetensors_metadata(tmp.path), Contains(tmp.path) && Contains("epochs"));
  }
  SECTION("a good hand-built file reads") {
    write_raw(tmp.path, "{\"__metadata__\":{\"format\":\"pt\"},\"w\":{" + ok_entry + "}}", data16);
    nn::SafetensorsFile f = nn::read_safetensors(tmp.path);
    CHECK(f.tensors.size() == 1);
    CHECK(f.metadata.at("format") == "pt");
  }
}

TEST_CASE("safetensors writes are atomic: a failed write keeps the previous file", "[nn][io]") {
  TempPath tmp("atomic");
  const std::string tmp_file = tmp.path + ".tmp." + std::to_string(::getpid());
  Tensor v1 = from_vector(std::vector<float>{1, 2, 3});
  nn::write_safetensors(tmp.path, {{"w", v1}}, {{"version", "1"}});
  const std::string before = read_file(tmp.path);

  SECTION("the temporary file cannot be created") {
    fs::create_directory(tmp_file);  // occupies the temp path
    REQUIRE_THROWS_WITH(nn::write_safetensors(tmp.path, {{"w", zeros({3})}}, {{"version", "2"}}),
                        Contains(tmp.path) && Contains("cannot create the temporary file"));
    fs::remove(tmp_file);
  }
  SECTION("the tensor list is bad half-way") {
    REQUIRE_THROWS_WITH(nn::write_safetensors(tmp.path, {{"a", zeros({3})}, {"b", Tensor()}, {"c", zeros({2})}}),
                        Contains(tmp.path) && Contains("tensor 'b' is undefined"));
    REQUIRE_THROWS_WITH(nn::write_safetensors(tmp.path, {{"a", zeros({3})}, {"a", zeros({2})}}),
                        Contains("duplicate tensor name 'a'"));
    CHECK_FALSE(fs::exists(tmp_file));
  }
  CHECK(read_file(tmp.path) == before);
  nn::SafetensorsFile f = nn::read_safetensors(tmp.path);
  CHECK(f.metadata.at("version") == "1");
  CHECK(f.find("w")->to_vector<float>() == std::vector<float>{1, 2, 3});

  // A successful write replaces it and leaves no temp file.
  nn::write_safetensors(tmp.path, {{"w", zeros({2})}}, {{"version", "2"}});
  CHECK(nn::read_safetensors_metadata(tmp.path).at("version") == "2");
  CHECK_FALSE(fs::exists(tmp_file));
}
