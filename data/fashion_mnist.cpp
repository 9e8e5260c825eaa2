// IDX reader (gzipped or raw, through zlib's transparent gzread) and the Fashion-MNIST
// loader. Every error names the file and what was expected; a missing dataset points
// at the Debian package and the --data-dir flag.
#include "data/fashion_mnist.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "tensor/error.h"

namespace shears::data {
namespace {

constexpr const char* kOp = "fashion_mnist";
constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned byte, 3 dims
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned byte, 1 dim
// Largest payload we accept (16 GiB): guards against garbage headers (docs/DESIGN.md, Hostile input).
constexpr uint64_t kMaxPayload = uint64_t(1) << 34;
// The payload buffer starts at this size and doubles as data arrives (gzip gives no size up front).
constexpr uint64_t kFirstChunk = uint64_t(1) << 24;

// a * b, or false when it overflows uint64 (IDX dims are three 32-bit words).
bool mul_fits(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

// A gzFile that closes itself. gzread reads raw (non-gzip) files unchanged.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
      fail(kOp, "cannot open '", path, "': no such file");
    if (std::filesystem::is_directory(path, ec))
      fail(kOp, "cannot open '", path, "': it is a directory, expected an IDX file");
    errno = 0;
    file_ = gzopen(path.c_str(), "rb");
    if (!file_)
      fail(kOp, "cannot open '", path, "': ", errno ? std::strerror(errno) : "gzopen failed");
    gzbuffer(file_, 1 << 18);
  }
  ~GzReader() {
    if (file_) gzclose(file_);
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads up to n bytes into dst; returns the count read (short only at end of data).
  uint64_t read(uint8_t* dst, uint64_t n) {
    uint64_t total = 0;
    while (total < n) {
      unsigned chunk = static_cast<unsigned>(std::min<uint64_t>(n - total, 1u << 30));
      int got = gzread(file_, dst + total, chunk);
      if (got < 0) {
        int code = 0;
        const char* msg = gzerror(file_, &code);
        fail(kOp, "'", path_, "' is not readable gzip/IDX data: ", msg ? msg : "read error");
      }
      if (got == 0) break;
      total += static_cast<uint64_t>(got);
    }
    if (total < n) {
      // A cut-off gzip stream reports Z_BUF_ERROR; treat it like a short raw file.
      int code = 0;
      const char* msg = gzerror(file_, &code);
      if (code != Z_OK && code != Z_BUF_ERROR)
        fail(kOp, "'", path_, "' is not readable gzip/IDX data: ", msg ? msg : "read error");
    }
    return total;
  }

  // Reads a big-endian 32-bit word; `what` names it in the error on a short file.
  uint32_t read_u32(const char* what) {
    uint8_t b[4];
    uint64_t got = read(b, 4);
    if (got < 4)
      fail(kOp, "'", path_, "' is truncated: it ends inside the IDX header (reading the ", what,
           "); expected a 4-byte big-endian value");
    return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | uint32_t(b[3]);
  }

  // Reads exactly n payload bytes; `layout` describes what the header promised. Memory follows
  // the data actually present, never the header's claim: a raw file's size is checked before
  // anything is allocated, and a gzip stream is read in chunks, the buffer growing as bytes arrive.
  std::vector<uint8_t> read_payload(uint64_t n, const std::string& layout, uint64_t header_bytes) {
    if (n > kMaxPayload)
      fail(kOp, "'", path_, "' has an implausible IDX header: ", layout, " would be ", n,
           " bytes, above the limit of ", kMaxPayload, " bytes; the file is corrupt or not an IDX file");
    if (gzdirect(file_)) {  // not gzipped: the file size says how much follows
      std::error_code ec;
      const uint64_t size = std::filesystem::file_size(path_, ec);
      if (!ec && size >= header_bytes && size - header_bytes < n)
        fail(kOp, "'", path_, "' is truncated: the header says ", layout, " (", n,
             " bytes after the header) but only ", size - header_bytes, " bytes follow");
    }
    std::vector<uint8_t> buf;
    uint64_t got = 0;
    while (got < n) {
      const uint64_t want = std::min<uint64_t>(n, std::max<uint64_t>(got * 2, kFirstChunk));
      buf.resize(want);
      const uint64_t chunk = read(buf.data() + got, want - got);
      got += chunk;
      if (got < want) break;  // end of data
    }
    if (got < n)
      fail(kOp, "'", path_, "' is truncated: the header says ", layout, " (", n,
           " bytes after the header) but only ", got, " bytes follow");
    uint8_t extra;
    if (read(&extra, 1) != 0)
      fail(kOp, "'", path_, "' is longer than its header says: expected ", layout, " (", n,
           " bytes after the header) and then the end of the file");
    return buf;
  }

  void check_magic(uint32_t expected, const char* kind) {
    uint32_t magic = read_u32("magic number");
    if (magic == expected) return;
    std::string hint;
    if (magic == kLabelsMagic) hint = " (that is the magic of an IDX label file)";
    if (magic == kImagesMagic) hint = " (that is the magic of an IDX image file)";
    fail(kOp, "'", path_, "' has the wrong magic number ", hex32(magic), hint, ": expected ",
         hex32(expected), " (IDX ", kind, ", unsigned bytes)");
  }

 private:
  std::string path_;
  gzFile file_ = nullptr;
};

bool file_exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

}  // namespace

const std::array<const char*, 10>& fashion_mnist_class_names() {
  static const std::array<const char*, 10> names = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                                    "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                                    "Bag",         "Ankle boot"};
  return names;
}

// -> (N, 1, rows, cols) f32 in [0, 1]
Tensor read_idx_images(const std::string& path) {
  GzReader in(path);
  in.check_magic(kImagesMagic, "images");
  uint64_t n = in.read_u32("image count");
  uint64_t rows = in.read_u32("row count");
  uint64_t cols = in.read_u32("column count");
  if (rows == 0 || cols == 0)
    fail(kOp, "'", path, "' declares images of ", rows, " x ", cols, " pixels; expected both > 0");
  std::string layout = str_cat(n, " images of ", rows, " x ", cols);
  uint64_t pixels = 0;
  if (!mul_fits(n, rows, pixels) || !mul_fits(pixels, cols, pixels))
    fail(kOp, "'", path, "' has an implausible IDX header: ", layout, " overflows a 64-bit byte count");
  std::vector<uint8_t> bytes = in.read_payload(pixels, layout, 16);

  Tensor images = Tensor::empty({int64_t(n), 1, int64_t(rows), int64_t(cols)}, DType::F32);
  float* dst = images.data<float>();
  for (size_t i = 0; i < bytes.size(); ++i) dst[i] = float(bytes[i]) / 255.0f;
  return images;
}

// -> (N,) i64
Tensor read_idx_labels(const std::string& path) {
  GzReader in(path);
  in.check_magic(kLabelsMagic, "labels");
  uint64_t n = in.read_u32("label count");
  std::vector<uint8_t> bytes = in.read_payload(n, str_cat(n, " labels"), 8);

  Tensor labels = Tensor::empty({int64_t(n)}, DType::I64);
  int64_t* dst = labels.data<int64_t>();
  for (size_t i = 0; i < bytes.size(); ++i) dst[i] = bytes[i];
  return labels;
}

std::string fashion_mnist_file(const std::string& dir, bool train, bool images) {
  std::string name = str_cat(train ? "train" : "t10k", images ? "-images-idx3" : "-labels-idx1", "-ubyte");
  std::string raw = (std::filesystem::path(dir) / name).string();
  return file_exists(raw + ".gz") ? raw + ".gz" : raw;
}

FashionMnist load_fashion_mnist(const std::string& dir, bool train) {
  const char* split = train ? "train" : "test";
  std::string image_path = fashion_mnist_file(dir, train, true);
  std::string label_path = fashion_mnist_file(dir, train, false);
  for (const std::string& p : {image_path, label_path}) {
    if (!file_exists(p))
      fail(kOp, "the Fashion-MNIST ", split, " split is missing: neither '", p, ".gz' nor '", p,
           "' exists. Install the Debian package dataset-fashion-mnist (sudo apt-get install "
           "dataset-fashion-mnist, which puts the files in ", kFashionMnistDefaultDir,
           ") or point --data-dir at a folder holding the IDX files");
  }

  FashionMnist ds;
  ds.images = read_idx_images(image_path);
  ds.labels = read_idx_labels(label_path);
  if (ds.images.size(2) != kFashionMnistSide || ds.images.size(3) != kFashionMnistSide)
    fail(kOp, "'", image_path, "' holds images of ", ds.images.size(2), " x ", ds.images.size(3),
         " pixels; Fashion-MNIST images are ", kFashionMnistSide, " x ", kFashionMnistSide);
  if (ds.images.size(0) != ds.labels.size(0))
    fail(kOp, "the ", split, " split has ", ds.images.size(0), " images in '", image_path, "' but ",
         ds.labels.size(0), " labels in '", label_path, "'; the counts must match");
  const int64_t* y = ds.labels.data<int64_t>();
  for (int64_t i = 0; i < ds.labels.size(0); ++i) {
    if (y[i] >= kFashionMnistClasses)
      fail(kOp, "'", label_path, "' has label ", y[i], " at index ", i, "; expected labels in [0, ",
           kFashionMnistClasses, ")");
  }
  return ds;
}

}  // namespace shears::data
