// Property tests of the batch and erasing augmentations: CutMix's corrected λ equals one
// minus the pasted box's area fraction, soft targets sum to 1 and carry the smoothing mass,
// Mixup blends constant images by λ, odd batches self-pair the middle sample, the erased
// box stays in bounds and is the same on every frame, and p = 0 is the identity.
#include <catch2/catch.hpp>

#include <cmath>

#include "data/mixup.h"
#include "data/random_erasing.h"
#include "tensor/creation.h"

using namespace shears;
using namespace shears::data;

namespace {

// A batch of B constant images (B, planes..., H, W): sample b is filled with value b + 1.
Batch constant_batch(int64_t batch, Shape sample_shape, int64_t classes) {
  Shape shape{batch};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  const int64_t per = shape_numel(sample_shape);
  std::vector<float> x(batch * per);
  std::vector<int64_t> y(batch);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < per; ++i) x[b * per + i] = static_cast<float>(b + 1);
    y[b] = b % classes;
  }
  Batch out;
  out.inputs = from_vector(x, shape);
  out.labels = from_vector(y);
  return out;
}

void check_targets(const Batch& batch, int64_t classes, double eps, double lam) {
  const auto t = batch.targets.to_vector<float>();
  const auto y = batch.labels.to_vector<int64_t>();
  const int64_t n = batch.size();
  REQUIRE(batch.targets.shape() == Shape{n, classes});
  const double off = eps / classes, on = 1.0 - eps + off;
  for (int64_t b = 0; b < n; ++b) {
    double sum = 0.0;
    std::vector<double> expect(classes, off);
    expect[y[b]] += lam * (on - off);
    expect[y[n - 1 - b]] += (1.0 - lam) * (on - off);
    for (int64_t c = 0; c < classes; ++c) {
      sum += t[b * classes + c];
      REQUIRE(t[b * classes + c] == Approx(expect[c]).margin(1e-6));
      REQUIRE(t[b * classes + c] >= off - 1e-6);  // the smoothing mass is never lost
    }
    REQUIRE(sum == Approx(1.0).margin(1e-5));
  }
}

}  // namespace

TEST_CASE("augment: Beta and Gamma samplers have the right moments", "[augment]") {
  Generator gen(5, 77);
  const int n = 20000;
  for (double a : {0.3, 0.8, 1.0, 2.5}) {
    double s = 0, s2 = 0;
    for (int i = 0; i < n; ++i) {
      const double v = sample_beta(a, a, gen);
      REQUIRE(v >= 0.0);
      REQUIRE(v <= 1.0);
      s += v;
      s2 += v * v;
    }
    const double mean = s / n, var = s2 / n - mean * mean;
    CHECK(mean == Approx(0.5).margin(0.01));
    CHECK(var == Approx(1.0 / (4.0 * (2.0 * a + 1.0))).epsilon(0.05));  // ab / ((a+b)^2 (a+b+1))
  }
  double s = 0;
  for (int i = 0; i < n; ++i) s += sample_gamma(0.5, gen);
  CHECK(s / n == Approx(0.5).epsilon(0.04));
}

TEST_CASE("augment: cutmix_box stays in the image and follows rand_bbox", "[augment]") {
  Generator gen(1, 2);
  for (int i = 0; i < 2000; ++i) {
    const int64_t h = 1 + gen.randint(0, 40), w = 1 + gen.randint(0, 40);
    const double lam = gen.uniform();
    const CutBox box = cutmix_box(h, w, lam, gen);
    REQUIRE(0 <= box.y0);
    REQUIRE(box.y0 <= box.y1);
    REQUIRE(box.y1 <= h);
    REQUIRE(0 <= box.x0);
    REQUIRE(box.x0 <= box.x1);
    REQUIRE(box.x1 <= w);
    const double r = std::sqrt(1.0 - lam);
    REQUIRE(box.y1 - box.y0 <= 2 * (static_cast<int64_t>(h * r) / 2));
    REQUIRE(box.x1 - box.x0 <= 2 * (static_cast<int64_t>(w * r) / 2));
  }
  const CutBox none = cutmix_box(10, 10, 1.0, gen);
  REQUIRE(none.area() == 0);
}

TEST_CASE("augment: CutMix corrected lambda equals 1 minus the box area fraction", "[augment]") {
  const int64_t classes = 5, n = 6, h = 12, w = 9;
  MixupOptions opt;
  opt.mixup_alpha = 0.0;  // cutmix only
  opt.num_classes = classes;
  MixupRecord rec;
  auto mix = mixup_cutmix(opt, &rec);
  for (uint64_t seed = 0; seed < 50; ++seed) {
    Batch batch = constant_batch(n, {2, h, w}, classes);
    Generator gen(seed, 1);
    mix(batch, gen);
    REQUIRE(rec.mixed);
    REQUIRE(rec.cutmix);
    REQUIRE(rec.lambda == Approx(1.0 - double(rec.box.area()) / double(h * w)));
    // The pixels that changed are exactly the box, filled from the partner B-1-b.
    const auto x = batch.inputs.to_vector<float>();
    for (int64_t b = 0; b < n; ++b) {
      int64_t changed = 0;
      for (int64_t c = 0; c < 2; ++c)
        for (int64_t y = 0; y < h; ++y)
          for (int64_t xx = 0; xx < w; ++xx) {
            const float v = x[((b * 2 + c) * h + y) * w + xx];
            const bool in_box = y >= rec.box.y0 && y < rec.box.y1 && xx >= rec.box.x0 && xx < rec.box.x1;
            REQUIRE(v == static_cast<float>(in_box ? n - b : b + 1));
            changed += v != static_cast<float>(b + 1);
          }
      REQUIRE(changed == 2 * rec.box.area());
      // Pixel fraction from the partner matches 1 - lambda.
      REQUIRE(double(changed) / (2.0 * h * w) == Approx(1.0 - rec.lambda));
    }
    check_targets(batch, classes, opt.label_smoothing, rec.lambda);
  }
}

TEST_CASE("augment: CutMix pastes the same box on every frame of a clip", "[augment]") {
  const int64_t n = 4, c = 3, t = 5, h = 8, w = 8;
  MixupOptions opt;
  opt.mixup_alpha = 0.0;
  opt.num_classes = 4;
  MixupRecord rec;
  auto mix = mixup_cutmix(opt, &rec);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Batch batch = constant_batch(n, {c, t, h, w}, 4);
    Generator gen(seed, 3);
    mix(batch, gen);
    const auto x = batch.inputs.to_vector<float>();
    for (int64_t b = 0; b < n; ++b)
      for (int64_t q = 0; q < c * t; ++q)
        for (int64_t y = 0; y < h; ++y)
          for (int64_t xx = 0; xx < w; ++xx) {
            const bool in_box = y >= rec.box.y0 && y < rec.box.y1 && xx >= rec.box.x0 && xx < rec.box.x1;
            REQUIRE(x[((b * c * t + q) * h + y) * w + xx] == static_cast<float>(in_box ? n - b : b + 1));
          }
  }
}

TEST_CASE("augment: Mixup of constant images gives the lambda blend", "[augment]") {
  const int64_t classes = 10, n = 8;
  MixupOptions opt;
  opt.cutmix_alpha = 0.0;  // mixup only
  opt.num_classes = classes;
  opt.label_smoothing = 0.2;
  MixupRecord rec;
  auto mix = mixup_cutmix(opt, &rec);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Batch batch = constant_batch(n, {1, 4, 4}, classes);
    Generator gen(seed, 9);
    mix(batch, gen);
    REQUIRE(rec.mixed);
    REQUIRE_FALSE(rec.cutmix);
    REQUIRE(rec.lambda > 0.0);
    REQUIRE(rec.lambda < 1.0);
    const auto x = batch.inputs.to_vector<float>();
    for (int64_t b = 0; b < n; ++b) {
      const double expect = rec.lambda * (b + 1) + (1.0 - rec.lambda) * (n - b);
      for (int64_t i = 0; i < 16; ++i) REQUIRE(x[b * 16 + i] == Approx(expect).margin(1e-5));
    }
    check_targets(batch, classes, opt.label_smoothing, rec.lambda);
  }
}

TEST_CASE("augment: no mixing gives smoothed one-hots", "[augment]") {
  const int64_t classes = 7;
  MixupOptions opt;
  opt.prob = 0.0;
  opt.num_classes = classes;
  MixupRecord rec;
  Batch batch = constant_batch(5, {1, 3, 3}, classes);
  const auto before = batch.inputs.to_vector<float>();
  Generator gen(0, 0);
  mixup_cutmix(opt, &rec)(batch, gen);
  REQUIRE_FALSE(rec.mixed);
  REQUIRE(rec.lambda == 1.0);
  REQUIRE(batch.inputs.to_vector<float>() == before);
  check_targets(batch, classes, opt.label_smoothing, 1.0);
  const auto t = batch.targets.to_vector<float>();
  REQUIRE(*std::min_element(t.begin(), t.end()) == Approx(0.1 / classes));
  REQUIRE(*std::max_element(t.begin(), t.end()) == Approx(1.0 - 0.1 + 0.1 / classes));
}

TEST_CASE("augment: switch_prob chooses cutmix about that often", "[augment]") {
  MixupOptions opt;
  opt.num_classes = 3;
  opt.switch_prob = 0.3;
  MixupRecord rec;
  auto mix = mixup_cutmix(opt, &rec);
  int cut = 0;
  const int trials = 2000;
  for (int i = 0; i < trials; ++i) {
    Batch batch = constant_batch(2, {1, 2, 2}, 3);
    Generator gen(7, static_cast<uint64_t>(i));
    mix(batch, gen);
    cut += rec.cutmix;
  }
  CHECK(double(cut) / trials == Approx(0.3).margin(0.04));
}

TEST_CASE("augment: odd batch self-pairs the middle sample", "[augment]") {
  const int64_t classes = 4, n = 5;
  for (bool cutmix : {false, true}) {
    MixupOptions opt;
    (cutmix ? opt.mixup_alpha : opt.cutmix_alpha) = 0.0;
    opt.num_classes = classes;
    MixupRecord rec;
    auto mix = mixup_cutmix(opt, &rec);
    for (uint64_t seed = 0; seed < 10; ++seed) {
      Batch batch = constant_batch(n, {1, 6, 6}, classes);
      Generator gen(seed, 4);
      mix(batch, gen);
      REQUIRE(rec.cutmix == cutmix);
      const auto x = batch.inputs.to_vector<float>();
      for (int64_t i = 0; i < 36; ++i) REQUIRE(x[2 * 36 + i] == 3.0f);  // middle sample unchanged
      check_targets(batch, classes, opt.label_smoothing, rec.lambda);
      const auto t = batch.targets.to_vector<float>();
      REQUIRE(t[2 * classes + 2] == Approx(1.0 - 0.1 + 0.1 / classes));  // own smoothed one-hot
    }
  }
  // A batch of one sample works too.
  MixupOptions opt;
  opt.num_classes = classes;
  Batch one = constant_batch(1, {1, 4, 4}, classes);
  Generator gen(0, 0);
  mixup_cutmix(opt)(one, gen);
  REQUIRE(one.inputs.to_vector<float>() == std::vector<float>(16, 1.0f));
}

TEST_CASE("augment: erase_box stays within the area bounds and inside the image", "[augment]") {
  Generator gen(3, 3);
  const double amin = 0.02, amax = 1.0 / 3;
  int valid = 0;
  for (int i = 0; i < 3000; ++i) {
    const int64_t h = 4 + gen.randint(0, 60), w = 4 + gen.randint(0, 60);
    const EraseBox b = erase_box(h, w, amin, amax, std::log(0.3), std::log(1 / 0.3), 1, gen);
    if (!b.valid) continue;
    ++valid;
    REQUIRE(b.top >= 0);
    REQUIRE(b.left >= 0);
    REQUIRE(b.top + b.height <= h);
    REQUIRE(b.left + b.width <= w);
    REQUIRE(b.height < h);
    REQUIRE(b.width < w);
    // h = round(sqrt(A r)), w = round(sqrt(A / r)) so h w is A up to 0.5 (h + w + 1).
    const double area = double(b.height * b.width), slack = 0.5 * (b.height + b.width + 1);
    REQUIRE(area >= amin * h * w - slack);
    REQUIRE(area <= amax * h * w + slack);
  }
  REQUIRE(valid > 2500);
}

TEST_CASE("augment: random erasing fills one box on every frame, never writes the input", "[augment]") {
  const int64_t c = 2, t = 4, h = 16, w = 12;
  Tensor clip = full({c, t, h, w}, 5.0, DType::F32);
  for (const char* mode : {"pixel", "rand", "const"}) {
    auto erase = random_erasing(1.0, mode);
    for (uint64_t seed = 0; seed < 20; ++seed) {
      Generator gen(seed, 8);
      Tensor out = erase(clip, gen);
      REQUIRE(clip.to_vector<float>() == std::vector<float>(c * t * h * w, 5.0f));
      const auto x = out.to_vector<float>();
      std::vector<int> mask0(h * w);
      for (int64_t i = 0; i < h * w; ++i) mask0[i] = x[i] != 5.0f;
      const int64_t erased = std::count(mask0.begin(), mask0.end(), 1);
      REQUIRE(erased > 0);
      REQUIRE(erased <= h * w / 3 + (h + w));
      for (int64_t q = 0; q < c * t; ++q) {
        for (int64_t i = 0; i < h * w; ++i) REQUIRE((x[q * h * w + i] != 5.0f) == bool(mask0[i]));
        if (std::string(mode) == "const")
          for (int64_t i = 0; i < h * w; ++i) REQUIRE((mask0[i] ? x[q * h * w + i] == 0.0f : true));
      }
      if (std::string(mode) == "rand") {  // one colour per channel, shared by all frames
        for (int64_t ch = 0; ch < c; ++ch) {
          float colour = 0;
          bool first = true;
          for (int64_t q = ch * t; q < (ch + 1) * t; ++q)
            for (int64_t i = 0; i < h * w; ++i)
              if (mask0[i]) {
                if (first) colour = x[q * h * w + i], first = false;
                REQUIRE(x[q * h * w + i] == colour);
              }
        }
      }
    }
  }
}

TEST_CASE("augment: random erasing with p = 0 is the identity, p = 0.25 erases about a quarter", "[augment]") {
  Tensor img = full({3, 10, 10}, 0.5, DType::F32);
  auto never = random_erasing(0.0);
  auto quarter = random_erasing(0.25);
  int erased = 0;
  const int trials = 2000;
  for (int i = 0; i < trials; ++i) {
    Generator g0(1, static_cast<uint64_t>(i)), g1(2, static_cast<uint64_t>(i));
    REQUIRE(never(img, g0).is_same(img));
    erased += !quarter(img, g1).is_same(img);
  }
  CHECK(double(erased) / trials == Approx(0.25).margin(0.03));
  REQUIRE_THROWS_WITH(random_erasing(0.5, "blur"), Catch::Contains("pixel, rand or const"));
}
