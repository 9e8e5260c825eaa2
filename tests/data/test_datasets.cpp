// Tests of the datasets: ImageFolder on PNGs written by stb_image_write (grey, RGB, RGBA;
// corrupt file, missing root, empty class), VideoFolder clip sampling (evenly spaced,
// center, train-mode starts, short-video padding, group ids, natural frame order), the
// Fashion-MNIST wrapper, and MovingFashionMnist determinism, label rule and shapes.
#include <catch2/catch.hpp>
#include <stb/stb_image_write.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "data/datasets.h"
#include "tensor/creation.h"
#include "tensor/kernels.h"

namespace fs = std::filesystem;
using namespace shears;
using namespace shears::data;
using Catch::Contains;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("shears_ds_test_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string dir(const std::string& rel) const {
    fs::create_directories(path / rel);
    return (path / rel).string();
  }
};

// Writes a w x h PNG with `comp` channels; pixel (x, y, c) = f(x, y, c).
template <typename F>
void write_png(const std::string& file, int w, int h, int comp, F f) {
  std::vector<unsigned char> px(size_t(w) * h * comp);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < comp; ++c) px[(size_t(y) * w + x) * comp + c] = (unsigned char)f(x, y, c);
  REQUIRE(stbi_write_png(file.c_str(), w, h, comp, px.data(), w * comp) != 0);
}

void write_frame(const std::string& file, int value, int side = 4) {
  write_png(file, side, side, 3, [&](int, int, int) { return value; });
}

float at(const Tensor& t, const Shape& idx) {
  Tensor c = kernels::contiguous(t);
  int64_t off = 0;
  for (size_t d = 0; d < idx.size(); ++d) off = off * t.size(int64_t(d)) + idx[d];
  return c.data<float>()[off];
}

// A tiny Fashion-MNIST stand-in: image i is constant (class + 1) / 10, class = i % 10.
FashionMnist fake_fashion(int64_t n, int64_t side = 28) {
  std::vector<float> px;
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    labels.push_back(i % 10);
    for (int64_t k = 0; k < side * side; ++k) px.push_back(float(i % 10 + 1) / 10.f);
  }
  return {from_vector(px, {n, 1, side, side}), from_vector(labels, {n})};
}

}  // namespace

TEST_CASE("natural_less orders digit runs by value", "[datasets]") {
  REQUIRE(natural_less("frame_2.png", "frame_10.png"));
  REQUIRE_FALSE(natural_less("frame_10.png", "frame_2.png"));
  REQUIRE(natural_less("img_00009.jpg", "img_00010.jpg"));
  REQUIRE(natural_less("a", "b"));
  REQUIRE(natural_less("a1", "a1b"));
  REQUIRE_FALSE(natural_less("x", "x"));
}

TEST_CASE("ImageFolder: classes, labels, grey/RGB/RGBA decoding", "[datasets]") {
  TempDir tmp;
  const std::string cats = tmp.dir("root/cat"), dogs = tmp.dir("root/dog");
  write_png(cats + "/grey.png", 3, 2, 1, [](int x, int y, int) { return 10 * x + 100 * y; });
  write_png(dogs + "/b_rgb.png", 2, 2, 3, [](int x, int y, int c) { return 50 * c + x + 2 * y; });
  write_png(dogs + "/a_rgba.png", 2, 1, 4, [](int x, int, int c) { return c == 3 ? 7 : 20 * c + x; });
  std::ofstream(dogs + "/notes.txt") << "not an image";
  ImageFolder ds((tmp.path / "root").string());
  REQUIRE(ds.classes() == std::vector<std::string>{"cat", "dog"});
  REQUIRE(ds.size() == 3);
  REQUIRE(ds.num_classes() == 2);

  Sample grey = ds.get(0);
  REQUIRE(grey.label == 0);
  REQUIRE(grey.input.shape() == Shape{3, 2, 3});
  for (int64_t c = 0; c < 3; ++c) REQUIRE(at(grey.input, {c, 1, 2}) == Approx(120 / 255.0));

  Sample rgba = ds.get(1);  // a_rgba sorts first: alpha dropped
  REQUIRE(rgba.label == 1);
  REQUIRE(rgba.input.shape() == Shape{3, 1, 2});
  REQUIRE(at(rgba.input, {2, 0, 1}) == Approx(41 / 255.0));
  Sample rgb = ds.get(2);
  REQUIRE(rgb.input.shape() == Shape{3, 2, 2});
  REQUIRE(at(rgb.input, {1, 1, 1}) == Approx(53 / 255.0));
  REQUIRE(rgb.group == -1);
}

TEST_CASE("ImageFolder: errors name the file or folder", "[datasets]") {
  TempDir tmp;
  REQUIRE_THROWS_WITH(ImageFolder((tmp.path / "nope").string()), Contains("does not exist"));
  tmp.dir("empty_root");
  REQUIRE_THROWS_WITH(ImageFolder((tmp.path / "empty_root").string()), Contains("no class folders"));

  const std::string a = tmp.dir("r/a");
  tmp.dir("r/b");
  write_png(a + "/ok.png", 2, 2, 3, [](int, int, int) { return 1; });
  REQUIRE_THROWS_WITH(ImageFolder((tmp.path / "r").string()), Contains("r/b"));

  write_png(tmp.dir("r/b") + "/fine.png", 2, 2, 3, [](int, int, int) { return 1; });
  std::ofstream(a + "/broken.png") << "garbage, not a png";
  ImageFolder ds((tmp.path / "r").string());
  REQUIRE(ds.path(0).find("broken.png") != std::string::npos);
  REQUIRE_THROWS_WITH(ds.get(0), Contains("broken.png") && Contains("cannot decode"));
  REQUIRE_NOTHROW(ds.get(1));
  REQUIRE_THROWS_WITH(load_image_rgb(a + "/missing.png"), Contains("missing.png"));
}

TEST_CASE("VideoFolder: evenly spaced clips, padding, groups, natural frame order", "[datasets]") {
  TempDir tmp;
  // pixel value of frame f = 10 * f, file names unpadded so natural order matters
  auto make_video = [&](const std::string& rel, int frames) {
    const std::string d = tmp.dir(rel);
    for (int f = 0; f < frames; ++f) write_frame(d + "/frame_" + std::to_string(f + 1) + ".png", 10 * f);
  };
  make_video("root/jump/v1", 10);
  make_video("root/jump/v2", 3);
  make_video("root/run/v3", 25);
  VideoFolderOptions opt;
  opt.num_frames = 4;
  opt.sampling_rate = 2;  // span 7
  opt.num_clips = 3;
  VideoFolder ds((tmp.path / "root").string(), opt);
  REQUIRE(ds.num_videos() == 3);
  REQUIRE(ds.size() == 9);
  REQUIRE(ds.num_classes() == 2);
  using V = std::vector<int64_t>;
  // v1: room 3 -> starts 0, 1, 3
  REQUIRE(ds.clip_frame_indices(0) == V{0, 2, 4, 6});
  REQUIRE(ds.clip_frame_indices(1) == V{1, 3, 5, 7});
  REQUIRE(ds.clip_frame_indices(2) == V{3, 5, 7, 9});
  // v2: too short, last frame repeated
  REQUIRE(ds.clip_frame_indices(4) == V{0, 2, 2, 2});
  // v3: room 18 -> starts 0, 9, 18
  REQUIRE(ds.clip_frame_indices(7) == V{9, 11, 13, 15});
  REQUIRE(ds.clip_frame_indices(8) == V{18, 20, 22, 24});

  for (int64_t i = 0; i < ds.size(); ++i) {
    Sample s = ds.get(i);
    REQUIRE(s.input.shape() == Shape{3, 4, 4, 4});
    REQUIRE(s.group == i / 3);
    REQUIRE(s.label == (i < 6 ? 0 : 1));
    const V idx = ds.clip_frame_indices(i);
    for (int64_t t = 0; t < 4; ++t)
      for (int64_t c = 0; c < 3; ++c) REQUIRE(at(s.input, {c, t, 3, 1}) == Approx(10 * idx[t] / 255.0));
  }

  opt.num_clips = 1;
  VideoFolder center((tmp.path / "root").string(), opt);
  REQUIRE(center.size() == 3);
  REQUIRE(center.clip_frame_indices(0) == V{1, 3, 5, 7});  // room 3 -> floor(3 / 2)
  REQUIRE(center.get(2).group == 2);
}

TEST_CASE("VideoFolder: train-mode starts are seeded, in range and change with the epoch", "[datasets]") {
  TempDir tmp;
  const std::string d = tmp.dir("root/a/v");
  for (int f = 0; f < 40; ++f) write_frame(d + "/img_" + std::to_string(1000 + f) + ".png", f);
  VideoFolderOptions opt;
  opt.num_frames = 3;
  opt.sampling_rate = 5;  // span 11, room 29
  opt.num_clips = 8;
  opt.train = true;
  opt.seed = 9;
  VideoFolder a((tmp.path / "root").string(), opt), b((tmp.path / "root").string(), opt);
  std::set<int64_t> starts;
  for (int64_t i = 0; i < a.size(); ++i) {
    const auto idx = a.clip_frame_indices(i);
    REQUIRE(idx == b.clip_frame_indices(i));
    REQUIRE(idx[0] >= 0);
    REQUIRE(idx[0] <= 29);
    REQUIRE(idx[2] - idx[0] == 10);
    starts.insert(idx[0]);
  }
  REQUIRE(starts.size() > 1);
  std::vector<std::vector<int64_t>> epoch0, epoch1;
  for (int64_t i = 0; i < a.size(); ++i) epoch0.push_back(a.clip_frame_indices(i));
  a.set_epoch(1);
  for (int64_t i = 0; i < a.size(); ++i) epoch1.push_back(a.clip_frame_indices(i));
  REQUIRE(epoch0 != epoch1);
}

TEST_CASE("VideoFolder: errors name the folder or file", "[datasets]") {
  TempDir tmp;
  REQUIRE_THROWS_WITH(VideoFolder((tmp.path / "missing").string()), Contains("missing"));
  const std::string v = tmp.dir("root/a/v1");
  tmp.dir("root/a/v_empty");
  write_frame(v + "/0.png", 0);
  REQUIRE_THROWS_WITH(VideoFolder((tmp.path / "root").string()), Contains("v_empty"));
  fs::remove(tmp.path / "root/a/v_empty");
  write_frame(v + "/1.png", 0, 6);  // a different size
  VideoFolderOptions opt;
  opt.num_frames = 2;
  opt.sampling_rate = 1;
  VideoFolder ds((tmp.path / "root").string(), opt);
  REQUIRE_THROWS_WITH(ds.get(0), Contains("1.png"));
}

TEST_CASE("FashionMnistDataset: copies, labels, limit", "[datasets]") {
  FashionMnistDataset ds(fake_fashion(30), 12);
  REQUIRE(ds.size() == 12);
  REQUIRE(ds.num_classes() == 10);
  Sample s = ds.get(7);
  REQUIRE(s.label == 7);
  REQUIRE(s.input.shape() == Shape{1, 28, 28});
  REQUIRE(at(s.input, {0, 5, 5}) == Approx(0.8));
  kernels::fill_(s.input, 0.0);  // a copy: the dataset is untouched
  REQUIRE(at(ds.get(7).input, {0, 5, 5}) == Approx(0.8));
  REQUIRE_THROWS(ds.get(12));
}

TEST_CASE("MovingFashionMnist: deterministic from (seed, index), shape and range", "[datasets]") {
  MovingFashionMnistOptions opt;
  opt.size = 64;
  opt.seed = 7;
  MovingFashionMnist a(fake_fashion(50), opt), b(fake_fashion(50), opt);
  opt.seed = 8;
  MovingFashionMnist c(fake_fashion(50), opt);
  int differing = 0;
  for (int64_t i = 0; i < 64; ++i) {
    Sample sa = a.get(i), sb = b.get(i), sc = c.get(i);
    REQUIRE(sa.input.shape() == Shape{3, 16, 32, 32});
    REQUIRE(sa.input.to_vector<float>() == sb.input.to_vector<float>());
    REQUIRE(sa.label == sb.label);
    REQUIRE(sa.input.to_vector<float>() == a.get(i).input.to_vector<float>());
    differing += sa.input.to_vector<float>() != sc.input.to_vector<float>();
    const auto v = sa.input.to_vector<float>();
    const size_t plane = v.size() / 3;
    bool in_range = true, replicated = true;  // grey replicated to RGB
    for (size_t k = 0; k < plane; ++k) {
      in_range = in_range && v[k] >= 0.f && v[k] <= 1.f;
      replicated = replicated && v[k + plane] == v[k] && v[k + 2 * plane] == v[k];
    }
    REQUIRE(in_range);
    REQUIRE(replicated);
  }
  REQUIRE(differing >= 60);
  opt.channels = 1;
  REQUIRE(MovingFashionMnist(fake_fashion(50), opt).get(0).input.shape() == Shape{1, 16, 32, 32});
}

TEST_CASE("MovingFashionMnist: label = 2 * appearance group + dominant motion axis", "[datasets]") {
  MovingFashionMnistOptions opt;
  opt.size = 300;
  opt.seed = 3;
  opt.distractor_prob = 0.0;
  MovingFashionMnist ds(fake_fashion(40), opt);
  std::map<int64_t, int> counts;
  for (int64_t i = 0; i < ds.size(); ++i) {
    Sample s = ds.get(i);
    ++counts[s.label];
    const auto v = s.input.to_vector<float>();
    // appearance: the item's constant value encodes its class
    float vmax = 0;
    for (int64_t k = 0; k < 32 * 32; ++k) vmax = std::max(vmax, v[k]);
    const int64_t cls = int64_t(std::lround(vmax * 10)) - 1;
    REQUIRE(MovingFashionMnist::group_of_class(cls) == s.label / 2);
    // motion: path length of the centroid along each axis
    double path_x = 0, path_y = 0, px = 0, py = 0;
    for (int64_t t = 0; t < 16; ++t) {
      double m = 0, mx = 0, my = 0;
      for (int64_t y = 0; y < 32; ++y)
        for (int64_t x = 0; x < 32; ++x) {
          const double p = v[t * 1024 + y * 32 + x];
          m += p, mx += p * x, my += p * y;
        }
      REQUIRE(m > 0);
      if (t > 0) path_x += std::fabs(mx / m - px), path_y += std::fabs(my / m - py);
      px = mx / m, py = my / m;
    }
    if (s.label % 2 == 0) REQUIRE(path_x > path_y);
    else REQUIRE(path_y > path_x);
  }
  REQUIRE(counts.size() == 10);
  for (auto [label, n] : counts) REQUIRE(n >= 10);
  REQUIRE(MovingFashionMnist::class_name(7) == "footwear/vertical");
}

TEST_CASE("MovingFashionMnist: the distractor is stationary and from another group", "[datasets]") {
  MovingFashionMnistOptions opt;
  opt.size = 40;
  opt.seed = 5;
  opt.distractor_prob = 1.0;
  MovingFashionMnist ds(fake_fashion(40), opt);
  for (int64_t i = 0; i < ds.size(); ++i) {
    Sample s = ds.get(i);
    const auto v = s.input.to_vector<float>();
    std::set<int64_t> classes;
    for (int64_t k = 0; k < 16 * 1024; ++k)
      if (v[k] > 0) classes.insert(std::lround(v[k] * 10) - 1);
    std::set<int64_t> groups;
    for (int64_t c : classes) groups.insert(MovingFashionMnist::group_of_class(c));
    REQUIRE(groups.count(s.label / 2) == 1);
    REQUIRE(groups.size() == 2);
  }
  REQUIRE_THROWS_WITH(MovingFashionMnist(fake_fashion(8), opt), Contains("bags"));  // no class 8 image
}
