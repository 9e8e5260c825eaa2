// Tests of the image/clip transforms: resize against hand-computed PyTorch values
// (bilinear and bicubic 2x upscales, a downscale, identity) and a naive 2-D reference,
// crop geometry and padding, flip as a mirror, normalize math, RandomResizedCrop bounds,
// one crop/flip for every frame of a clip, and determinism under a fixed Generator.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "data/transforms.h"
#include "tensor/creation.h"
#include "tensor/kernels.h"
#include "tensor/random.h"

using namespace shears;
using namespace shears::data;

namespace {

std::vector<float> values(const Tensor& t) { return kernels::contiguous(t).to_vector<float>(); }

void require_close(const Tensor& a, const std::vector<float>& expected, double tol = 1e-6) {
  const std::vector<float> got = values(a);
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == Approx(expected[i]).margin(tol));
}

// A (C, H, W) tensor with distinct values.
Tensor ramp(const Shape& shape) {
  Tensor t = arange(0.0, double(shape_numel(shape)), 1.0, DType::F32);
  return kernels::reshape(t, shape);
}

// Naive 2-D PyTorch interpolate(align_corners=False, antialias=False), one plane.
double ref_weight_bicubic(double x) {
  const double a = -0.75;
  x = std::fabs(x);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0;
}
std::vector<double> ref_resize(const std::vector<float>& in, int64_t h, int64_t w, int64_t oh, int64_t ow, bool cubic) {
  std::vector<double> out(oh * ow);
  auto at = [&](int64_t y, int64_t x) {
    y = std::min(std::max<int64_t>(y, 0), h - 1);
    x = std::min(std::max<int64_t>(x, 0), w - 1);
    return double(in[y * w + x]);
  };
  for (int64_t oy = 0; oy < oh; ++oy)
    for (int64_t ox = 0; ox < ow; ++ox) {
      double sy = (oy + 0.5) * double(h) / oh - 0.5, sx = (ox + 0.5) * double(w) / ow - 0.5;
      double acc = 0;
      if (cubic) {
        const int64_t fy = int64_t(std::floor(sy)), fx = int64_t(std::floor(sx));
        for (int64_t j = -1; j <= 2; ++j)
          for (int64_t i = -1; i <= 2; ++i)
            acc += ref_weight_bicubic(sy - (fy + j)) * ref_weight_bicubic(sx - (fx + i)) * at(fy + j, fx + i);
      } else {
        sy = std::max(sy, 0.0);
        sx = std::max(sx, 0.0);
        const int64_t y0 = int64_t(sy), x0 = int64_t(sx);
        const double ly = sy - y0, lx = sx - x0;
        acc = (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x0 + 1)) +
              ly * ((1 - lx) * at(y0 + 1, x0) + lx * at(y0 + 1, x0 + 1));
      }
      out[oy * ow + ox] = acc;
    }
  return out;
}

}  // namespace

TEST_CASE("resize: bilinear 2x upscale of a 2x2 image matches hand values", "[transforms]") {
  Tensor x = from_vector(std::vector<float>{0, 1, 2, 3}, {1, 2, 2});
  // per axis: source coords -0.25 (clamped to 0), 0.25, 0.75, 1.25 (upper tap clamped)
  require_close(resize_image(x, 4, 4, Interpolation::Bilinear),
                {0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3});
}

TEST_CASE("resize: bicubic 2x upscale of a 2x2 image matches hand values", "[transforms]") {
  // 1-D result on [0, 1] with a = -0.75 and clamped taps: weights for t = 0.75 are
  // (-0.03515625, 0.26171875, 0.87890625, -0.10546875), for t = 0.25 the reverse.
  const std::vector<float> c = {-0.10546875f, 0.2265625f, 0.7734375f, 1.10546875f};
  Tensor x = from_vector(std::vector<float>{0, 1, 2, 3}, {1, 2, 2});  // = x + 2y
  std::vector<float> expected;
  for (int y = 0; y < 4; ++y)
    for (int xx = 0; xx < 4; ++xx) expected.push_back(c[xx] + 2 * c[y]);
  require_close(resize_image(x, 4, 4, Interpolation::Bicubic), expected);
  // Bicubic overshoots: values below 0 and above 1 are kept, as in PyTorch.
  Tensor row = from_vector(std::vector<float>{0, 1}, {1, 1, 2});
  require_close(resize_image(row, 1, 4, Interpolation::Bicubic), c);
}

TEST_CASE("resize: bilinear downscale and identity", "[transforms]") {
  Tensor x = from_vector(std::vector<float>{0, 1, 2, 3}, {1, 1, 4});
  require_close(resize_image(x, 1, 2, Interpolation::Bilinear), {0.5, 2.5});
  Tensor img = ramp({3, 5, 7});
  for (auto interp : {Interpolation::Bilinear, Interpolation::Bicubic})
    require_close(resize_image(img, 5, 7, interp), values(img));
}

TEST_CASE("resize: matches a naive 2-D reference on odd sizes and strided inputs", "[transforms]") {
  Generator gen(3);
  Tensor img = rand({2, 9, 13}, DType::F32, &gen);
  Tensor strided = kernels::transpose(kernels::contiguous(kernels::transpose(img, 1, 2)), 1, 2);
  REQUIRE_FALSE(strided.is_contiguous());
  const std::vector<float> all = values(img);
  for (bool cubic : {false, true})
    for (auto [oh, ow] : {std::pair<int64_t, int64_t>{20, 6}, {4, 31}, {9, 5}, {1, 1}}) {
      Tensor out = resize_image(strided, oh, ow, cubic ? Interpolation::Bicubic : Interpolation::Bilinear);
      REQUIRE(out.shape() == Shape{2, oh, ow});
      const std::vector<float> got = values(out);
      for (int64_t p = 0; p < 2; ++p) {
        std::vector<float> plane(all.begin() + p * 9 * 13, all.begin() + (p + 1) * 9 * 13);
        const std::vector<double> ref = ref_resize(plane, 9, 13, oh, ow, cubic);
        for (int64_t i = 0; i < oh * ow; ++i) REQUIRE(got[p * oh * ow + i] == Approx(ref[i]).margin(1e-5));
      }
    }
}

TEST_CASE("resize transforms: shapes", "[transforms]") {
  Generator gen(0);
  Tensor img = ramp({3, 10, 20});
  REQUIRE(resize(6, 9)(img, gen).shape() == Shape{3, 6, 9});
  REQUIRE(resize_shorter(5)(img, gen).shape() == Shape{3, 5, 10});
  REQUIRE(resize_shorter(5)(ramp({3, 20, 10}), gen).shape() == Shape{3, 10, 5});
  REQUIRE(resize_shorter(5)(ramp({3, 7, 10}), gen).shape() == Shape{3, 5, 7});  // int(5 * 10 / 7)
  REQUIRE(resize(4, 4)(ramp({3, 2, 8, 8}), gen).shape() == Shape{3, 2, 4, 4});
  REQUIRE_THROWS_WITH(resize(4, 4)(ramp({8, 8}), gen), Catch::Contains("(C, H, W) or (C, T, H, W)"));
}

TEST_CASE("center_crop: offsets round half to even, pads small images", "[transforms]") {
  Generator gen(0);
  Tensor img = ramp({1, 6, 6});
  // (6 - 3) / 2 = 1.5 -> 2 (Python round)
  require_close(center_crop(3)(img, gen), {14, 15, 16, 20, 21, 22, 26, 27, 28});
  Tensor small = ramp({1, 2, 2});  // padded by (4 - 2) / 2 = 1 on the top/left
  require_close(center_crop(4)(small, gen), {0, 0, 0, 0, 0, 0, 1, 0, 0, 2, 3, 0, 0, 0, 0, 0});
}

TEST_CASE("random_crop: size, zero padding and a valid window", "[transforms]") {
  Tensor img = kernels::binary_scalar(kernels::BinaryOp::Add, ramp({2, 8, 8}), 1.0);  // no zeros inside
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Generator gen(seed);
    Tensor out = random_crop(8, 2)(img, gen);
    REQUIRE(out.shape() == Shape{2, 8, 8});
    bool found = false;
    for (int64_t dy = -2; dy <= 2 && !found; ++dy)
      for (int64_t dx = -2; dx <= 2 && !found; ++dx) found = values(crop_image(img, dy, dx, 8, 8)) == values(out);
    REQUIRE(found);
  }
  Generator gen(0);
  REQUIRE_THROWS_WITH(random_crop(9)(img, gen), Catch::Contains("larger than the padded image"));
}

TEST_CASE("horizontal_flip: a mirror with p = 1, identity with p = 0", "[transforms]") {
  Generator gen(1);
  Tensor img = ramp({3, 4, 5});
  Tensor out = horizontal_flip(1.0)(img, gen);
  const std::vector<float> a = values(img), b = values(out);
  for (int64_t r = 0; r < 12; ++r)
    for (int64_t x = 0; x < 5; ++x) REQUIRE(b[r * 5 + x] == a[r * 5 + (4 - x)]);
  REQUIRE(values(horizontal_flip(0.0)(img, gen)) == a);
  REQUIRE(values(flip_horizontal(out)) == a);
}

TEST_CASE("normalize: (x - mean) / std per channel", "[transforms]") {
  Generator gen(0);
  Tensor img = ramp({2, 1, 3});  // channel 0: 0 1 2, channel 1: 3 4 5
  require_close(normalize({1.0, 2.0}, {2.0, 0.5})(img, gen), {-0.5, 0, 0.5, 2, 4, 6});
  require_close(normalize({1.0}, {2.0})(img, gen), {-0.5, 0, 0.5, 1, 1.5, 2});
  Tensor clip = ramp({2, 2, 1, 1});  // (C, T, H, W): channel 0 frames 0 1, channel 1 frames 2 3
  require_close(normalize({1.0, 2.0}, {1.0, 2.0})(clip, gen), {-1, 0, 0, 0.5});
  REQUIRE_THROWS_WITH(normalize({0, 0, 0}, {1, 1, 1})(img, gen), Catch::Contains("3 mean/std values for 2 channels"));
}

TEST_CASE("random_resized_crop: box area and aspect within bounds", "[transforms]") {
  const int64_t H = 90, W = 120;
  int fallbacks = 0;
  for (uint64_t seed = 0; seed < 500; ++seed) {
    Generator gen(seed);
    CropBox b = random_resized_crop_box(H, W, {0.08, 1.0}, {3.0 / 4, 4.0 / 3}, gen);
    REQUIRE(b.top >= 0);
    REQUIRE(b.left >= 0);
    REQUIRE(b.height > 0);
    REQUIRE(b.width > 0);
    REQUIRE(b.top + b.height <= H);
    REQUIRE(b.left + b.width <= W);
    const double area = double(b.height) * b.width / (H * W);
    if (b.height == H && b.width == W) ++fallbacks;
    // rounding w and h moves the area by at most about one row and column
    REQUIRE(area >= 0.08 - (double(b.height) + b.width + 1) / (H * W));
    REQUIRE(double(b.width) / b.height >= 3.0 / 4 - 1.0 / b.height - 1e-9);
    REQUIRE(double(b.width) / b.height <= 4.0 / 3 + 1.0 / b.height + 1e-9);
  }
  REQUIRE(fallbacks < 50);
  // An impossible scale forces the center-crop fallback clamped to the ratio range.
  Generator gen(0);
  CropBox f = random_resized_crop_box(10, 100, {2.0, 3.0}, {0.5, 2.0}, gen);
  REQUIRE(f.height == 10);
  REQUIRE(f.width == 20);
  REQUIRE(f.left == 40);
  Tensor out = random_resized_crop(16, {0.08, 1.0}, {0.75, 4.0 / 3}, Interpolation::Bicubic)(ramp({3, 40, 50}), gen);
  REQUIRE(out.shape() == Shape{3, 16, 16});
}

TEST_CASE("transforms: one crop and flip for every frame of a clip", "[transforms]") {
  Generator g0(11);
  Tensor frame0 = rand({3, 1, 24, 30}, DType::F32, &g0);
  // frame t = frame0 + t, stacked along T
  TensorList frames;
  for (int t = 0; t < 4; ++t) frames.push_back(kernels::binary_scalar(kernels::BinaryOp::Add, frame0, double(t)));
  Tensor clip = kernels::concat(frames, 1);  // (3, 4, 24, 30)
  const std::vector<Transform> ts = {random_resized_crop(12), random_crop(16, 3), horizontal_flip(0.5),
                                     center_crop(10), resize_shorter(8, Interpolation::Bicubic)};
  for (const Transform& tf : ts)
    for (uint64_t seed = 0; seed < 6; ++seed) {
      Generator gc(seed);
      Tensor out = tf(clip, gc);
      REQUIRE(out.dim() == 4);
      REQUIRE(out.size(1) == 4);
      for (int64_t t = 0; t < 4; ++t) {
        Generator gf(seed);
        Tensor single = tf(kernels::squeeze(kernels::narrow(clip, 1, t, 1), 1), gf);
        Tensor from_clip = kernels::squeeze(kernels::narrow(out, 1, t, 1), 1);
        REQUIRE(single.shape() == from_clip.shape());
        const std::vector<float> a = values(single), b = values(from_clip);
        float max_diff = 0.f;
        for (size_t i = 0; i < a.size(); ++i) max_diff = std::max(max_diff, std::fabs(a[i] - b[i]));
        REQUIRE(max_diff <= 1e-6f);
      }
    }
}

TEST_CASE("transforms: deterministic given the same Generator", "[transforms]") {
  Generator g0(5);
  Tensor img = rand({3, 33, 47}, DType::F32, &g0);
  const Transform tf = random_resized_crop(20, {0.08, 1.0}, {0.75, 4.0 / 3}, Interpolation::Bicubic);
  Generator a(42, 7), b(42, 7), c(43, 7);
  const std::vector<float> va = values(tf(img, a)), vb = values(tf(img, b)), vc = values(tf(img, c));
  REQUIRE(va == vb);
  REQUIRE(va != vc);
}
