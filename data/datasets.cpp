// Dataset implementations: the Fashion-MNIST wrapper, ImageFolder and VideoFolder (stb_image
// decoding, folder validation with errors naming the path). get() is lock-free and safe to
// call from many threads (stb keeps its failure reason thread-local). MovingFashionMnist
// lives in moving_fashion_mnist.cpp.
#include "data/datasets.h"

#include <stb_image.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "data/jpeg_guard.h"
#include "data/png_guard.h"
#include "tensor/kernels.h"

namespace fs = std::filesystem;

namespace shears::data {
namespace {

bool has_image_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

bool hidden(const fs::path& p) { return !p.filename().empty() && p.filename().string()[0] == '.'; }

void check_root(const std::string& root, const char* op) {
  std::error_code ec;
  if (!fs::exists(root, ec)) fail(op, "root folder '", root, "' does not exist");
  if (!fs::is_directory(root, ec)) fail(op, "root '", root, "' is not a folder");
}

// Names of the entries of `dir` that are folders (dirs = true) or image files, sorted.
std::vector<std::string> list_entries(const std::string& dir, bool dirs, const char* op) {
  std::vector<std::string> names;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  if (ec) fail(op, "cannot list '", dir, "': ", ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) fail(op, "cannot list '", dir, "': ", ec.message());
    const fs::path& p = it->path();
    if (hidden(p)) continue;
    std::error_code ec2;
    if (dirs ? it->is_directory(ec2) : (it->is_regular_file(ec2) && has_image_extension(p)))
      names.push_back(p.filename().string());
  }
  std::sort(names.begin(), names.end(), natural_less);
  return names;
}

// 8-bit RGB pixels (H, W, 3) owned by stb.
struct Rgb8 {
  std::unique_ptr<unsigned char, void (*)(void*)> pixels{nullptr, stbi_image_free};
  int width = 0, height = 0;
};

uint32_t le_u32(const unsigned char* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
uint16_t le_u16(const unsigned char* p) { return uint16_t(p[0] | p[1] << 8); }

// Refuses a header whose size is beyond the caps or beyond what the file's bytes can hold,
// before anything is decoded (stbi_info reads only the header).
void check_image_size(const std::string& path, uint64_t file_size) {
  int w = 0, h = 0, comp = 0;
  if (!stbi_info(path.c_str(), &w, &h, &comp)) {
    const char* why = stbi_failure_reason();
    fail("load_image", "cannot decode '", path, "': ", why ? why : "unknown error",
         " (corrupt or unsupported image file; JPEG, PNG and BMP are read)");
  }
  const int64_t pixels = int64_t(w) * int64_t(h);
  if (w < 1 || h < 1 || w > kMaxImageSide || h > kMaxImageSide || pixels > kMaxImagePixels)
    fail("load_image", "'", path, "' claims a ", w, " x ", h, " image; the caps are ", kMaxImageSide,
         " pixels a side and ", kMaxImagePixels, " pixels in all (corrupt or hostile file?)");
  unsigned char head[32] = {};
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    const size_t got = std::fread(head, 1, sizeof head, f);
    std::fclose(f);
    if (got < sizeof head) std::memset(head + got, 0, sizeof head - got);
  }
  uint64_t max_pixels = 0;  // most pixels the file's bytes can encode
  const char* why = "";
  if (head[0] == 'B' && head[1] == 'M') {  // uncompressed (stb reads no RLE): every row is stored
    const uint32_t data_offset = le_u32(head + 10), info_size = le_u32(head + 14);
    const uint64_t bpp = info_size == 12 ? le_u16(head + 24) : le_u16(head + 28);
    const uint64_t row_bytes = ((uint64_t(w) * std::max<uint64_t>(bpp, 1) + 31) / 32) * 4;
    const uint64_t need = uint64_t(data_offset) + row_bytes * uint64_t(h);
    if (need > file_size)
      fail("load_image", "'", path, "' is truncated or corrupt: its BMP header claims ", w, " x ", h, " pixels at ",
           bpp, " bits (", need, " bytes) but the file has ", file_size, " bytes");
    return;
  } else if (head[0] == 0x89 && head[1] == 'P') {  // deflate expands at most 1032:1, 1 bit a pixel at least
    max_pixels = file_size * 1032 * 8;
    why = "PNG (deflate expands at most 1032:1, 1 bit per pixel at least)";
  } else {  // JPEG: at least 1 bit for each 8 x 8 block of the full-resolution component
    max_pixels = file_size * 8 * 64;
    why = "JPEG (at least 1 bit per 8 x 8 block)";
  }
  if (uint64_t(pixels) > max_pixels)
    fail("load_image", "'", path, "' is truncated or corrupt: it claims ", w, " x ", h, " pixels, more than its ",
         file_size, " bytes can encode as ", why);
}

Rgb8 decode_rgb8(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) fail("load_image", "cannot open '", path, "': no such file");
  const uint64_t file_size = fs::file_size(path, ec);
  if (ec) fail("load_image", "cannot read the size of '", path, "': ", ec.message());
  // Debian's stb_image builds JPEG Huffman tables past its arrays when a table has > 256 codes,
  // already while reading the header (stbi_info), and trusts PNG chunk lengths (png_guard.h):
  // check before stb sees the file.
  if (const std::string why = jpeg_file_huffman_problem(path); !why.empty())
    fail("load_image", "cannot decode '", path, "': ", why, " (corrupt or hostile JPEG)");
  if (const std::string why = png_file_chunk_problem(path); !why.empty())
    fail("load_image", "cannot decode '", path, "': ", why, " (truncated, corrupt or hostile PNG)");
  check_image_size(path, file_size);
  Rgb8 img;
  int channels = 0;
  img.pixels.reset(stbi_load(path.c_str(), &img.width, &img.height, &channels, 3));
  if (!img.pixels) {
    const char* why = stbi_failure_reason();
    fail("load_image", "cannot decode '", path, "': ", why ? why : "unknown error",
         " (corrupt or unsupported image file)");
  }
  return img;
}

// Byte value / 255 as a table: exact and branch-free.
const std::array<float, 256>& byte_to_unit() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int i = 0; i < 256; ++i) t[i] = float(i) / 255.f;
    return t;
  }();
  return table;
}

// Writes the (H, W, 3) bytes as planes dst[c * plane_stride + y * W + x].
void to_planes(const Rgb8& img, float* dst, int64_t plane_stride) {
  const auto& lut = byte_to_unit();
  const int64_t n = int64_t(img.width) * img.height;
  const unsigned char* s = img.pixels.get();
  float* r = dst;
  float* g = dst + plane_stride;
  float* b = dst + 2 * plane_stride;
  for (int64_t i = 0; i < n; ++i) {
    r[i] = lut[s[3 * i]];
    g[i] = lut[s[3 * i + 1]];
    b[i] = lut[s[3 * i + 2]];
  }
}

// A 64-bit mix (splitmix64 finalizer) to derive per-epoch keys.
uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const bool da = std::isdigit(static_cast<unsigned char>(a[i])), db = std::isdigit(static_cast<unsigned char>(b[j]));
    if (da && db) {
      size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      size_t is = i, js = j;  // skip leading zeros, then compare by length and digits
      while (is + 1 < ie && a[is] == '0') ++is;
      while (js + 1 < je && b[js] == '0') ++js;
      if (ie - is != je - js) return ie - is < je - js;
      const int c = a.compare(is, ie - is, b, js, je - js);
      if (c != 0) return c < 0;
      if (ie - i != je - j) return ie - i > je - j;  // more leading zeros first ("01" < "1")
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

Tensor load_image_rgb(const std::string& path) {
  const Rgb8 img = decode_rgb8(path);
  Tensor out = Tensor::empty({3, img.height, img.width});
  to_planes(img, out.data<float>(), int64_t(img.width) * img.height);
  return out;
}

// ---------------------------------------------------------------- Fashion-MNIST
FashionMnistDataset::FashionMnistDataset(const std::string& dir, bool train, int64_t limit)
    : FashionMnistDataset(load_fashion_mnist(dir, train), limit,
                          std::string("fashion-mnist ") + (train ? "train" : "test") + " (" + dir + ")") {}

FashionMnistDataset::FashionMnistDataset(FashionMnist data, int64_t limit, std::string name)
    : data_(std::move(data)), name_(std::move(name)) {
  SHEARS_CHECK(data_.images.defined() && data_.images.dim() == 4, "FashionMnistDataset",
               "expects images (N, 1, H, W)");
  data_.images = kernels::contiguous(data_.images);
  data_.labels = kernels::contiguous(data_.labels);
  size_ = data_.size();
  if (limit > 0) size_ = std::min(size_, limit);
}

Sample FashionMnistDataset::get(int64_t index) const {
  SHEARS_CHECK(index >= 0 && index < size_, "FashionMnistDataset", "index ", index, " out of range [0, ", size_, ")");
  const Shape& s = data_.images.shape();
  const int64_t per = s[1] * s[2] * s[3];
  Tensor x = Tensor::empty({s[1], s[2], s[3]});
  std::memcpy(x.data<float>(), data_.images.data<float>() + index * per, sizeof(float) * per);
  return {x, data_.labels.data<int64_t>()[index], -1};
}

std::string FashionMnistDataset::describe() const { return str_cat(name_, ": ", size_, " images, 10 classes"); }

// ---------------------------------------------------------------- ImageFolder
ImageFolder::ImageFolder(const std::string& root) : root_(root) {
  const char* op = "ImageFolder";
  check_root(root, op);
  classes_ = list_entries(root, /*dirs=*/true, op);
  std::sort(classes_.begin(), classes_.end());
  if (classes_.empty()) fail(op, "no class folders in '", root, "' (expected ", root, "/<class>/<image files>)");
  std::vector<std::string> empty;
  for (size_t c = 0; c < classes_.size(); ++c) {
    const std::string dir = (fs::path(root) / classes_[c]).string();
    std::vector<std::string> files = list_entries(dir, /*dirs=*/false, op);
    std::sort(files.begin(), files.end());
    if (files.empty()) empty.push_back(dir);
    for (const auto& f : files) items_.push_back({(fs::path(dir) / f).string(), int64_t(c)});
  }
  if (!empty.empty()) {
    std::string list;
    for (const auto& d : empty) list += (list.empty() ? "'" : ", '") + d + "'";
    fail(op, "no images (.jpg .jpeg .png .bmp) in class folder(s) ", list);
  }
}

Sample ImageFolder::get(int64_t index) const {
  return {load_image_rgb(path(index)), label(index), -1};
}

const std::string& ImageFolder::path(int64_t index) const {
  SHEARS_CHECK(index >= 0 && index < size(), "ImageFolder", "index ", index, " out of range [0, ", size(), ")");
  return items_[index].path;
}

int64_t ImageFolder::label(int64_t index) const {
  path(index);  // range check
  return items_[index].label;
}

std::string ImageFolder::describe() const {
  return str_cat("image folder '", root_, "': ", size(), " images, ", classes_.size(), " classes");
}

// ---------------------------------------------------------------- VideoFolder
VideoFolder::VideoFolder(const std::string& root, VideoFolderOptions options) : root_(root), options_(options) {
  const char* op = "VideoFolder";
  SHEARS_CHECK(options_.num_frames >= 1 && options_.sampling_rate >= 1 && options_.num_clips >= 1, op,
               "num_frames, sampling_rate and num_clips must be >= 1, got ", options_.num_frames, ", ",
               options_.sampling_rate, ", ", options_.num_clips);
  check_root(root, op);
  classes_ = list_entries(root, /*dirs=*/true, op);
  std::sort(classes_.begin(), classes_.end());
  if (classes_.empty())
    fail(op, "no class folders in '", root, "' (expected ", root, "/<class>/<video>/<frame images>)");
  for (size_t c = 0; c < classes_.size(); ++c) {
    const std::string class_dir = (fs::path(root) / classes_[c]).string();
    const std::vector<std::string> videos = list_entries(class_dir, /*dirs=*/true, op);
    if (videos.empty()) fail(op, "no video folders in class folder '", class_dir, "'");
    for (const auto& v : videos) {
      const std::string dir = (fs::path(class_dir) / v).string();
      const int64_t n = int64_t(list_entries(dir, /*dirs=*/false, op).size());
      if (n == 0) fail(op, "no frame images (.jpg .jpeg .png .bmp) in video folder '", dir, "'");
      videos_.push_back({dir, int64_t(c), n});
    }
  }
}

const std::string& VideoFolder::video_path(int64_t video) const {
  SHEARS_CHECK(video >= 0 && video < num_videos(), "VideoFolder", "video ", video, " out of range [0, ",
               num_videos(), ")");
  return videos_[video].path;
}
int64_t VideoFolder::video_label(int64_t video) const {
  video_path(video);  // range check
  return videos_[video].label;
}
int64_t VideoFolder::video_frames(int64_t video) const {
  video_path(video);
  return videos_[video].num_frames;
}

std::vector<int64_t> VideoFolder::clip_frame_indices(int64_t index) const {
  SHEARS_CHECK(index >= 0 && index < size(), "VideoFolder", "index ", index, " out of range [0, ", size(), ")");
  const int64_t video = index / options_.num_clips, clip = index % options_.num_clips;
  const int64_t n = videos_[video].num_frames;
  const int64_t span = (options_.num_frames - 1) * options_.sampling_rate + 1;
  const int64_t room = std::max<int64_t>(0, n - span);
  int64_t start;
  if (options_.train) {
    Generator gen(mix64(options_.seed ^ mix64(uint64_t(epoch_.load()))), uint64_t(index));
    start = gen.randint(0, room + 1);
  } else {
    start = options_.num_clips == 1 ? room / 2 : clip * room / (options_.num_clips - 1);
  }
  std::vector<int64_t> idx(options_.num_frames);
  for (int64_t t = 0; t < options_.num_frames; ++t) idx[t] = std::min(start + t * options_.sampling_rate, n - 1);
  return idx;
}

Sample VideoFolder::get(int64_t index) const {
  const char* op = "VideoFolder";
  const std::vector<int64_t> idx = clip_frame_indices(index);
  const Video& video = videos_[index / options_.num_clips];
  const std::vector<std::string> frames = list_entries(video.path, /*dirs=*/false, op);
  if (int64_t(frames.size()) != video.num_frames)
    fail(op, "video folder '", video.path, "' now holds ", frames.size(), " frames, not ", video.num_frames,
         " (changed since the dataset was built)");
  const int64_t T = options_.num_frames;
  Tensor out;
  int64_t h = 0, w = 0;
  for (int64_t t = 0; t < T; ++t) {
    float* base = out.defined() ? out.data<float>() : nullptr;
    if (t > 0 && idx[t] == idx[t - 1]) {  // repeated frame (padding): copy the previous one
      for (int64_t c = 0; c < 3; ++c)
        std::memcpy(base + (c * T + t) * h * w, base + (c * T + t - 1) * h * w, sizeof(float) * h * w);
      continue;
    }
    const std::string file = (fs::path(video.path) / frames[idx[t]]).string();
    const Rgb8 img = decode_rgb8(file);
    if (!out.defined()) {
      h = img.height;
      w = img.width;
      out = Tensor::empty({3, T, h, w});
      base = out.data<float>();
    } else if (img.height != h || img.width != w) {
      fail(op, "frame '", file, "' is ", img.width, " x ", img.height, " but the clip's first frame is ", w, " x ", h);
    }
    to_planes(img, base + t * h * w, T * h * w);
  }
  return {out, video.label, index / options_.num_clips};
}

std::string VideoFolder::describe() const {
  return str_cat("video folder '", root_, "': ", num_videos(), " videos x ", options_.num_clips, " clips, ",
                 classes_.size(), " classes, ", options_.num_frames, " frames every ", options_.sampling_rate,
                 options_.train ? " (train: random start)" : " (test: evenly spaced clips)");
}

}  // namespace shears::data
