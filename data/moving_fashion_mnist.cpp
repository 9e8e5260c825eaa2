// MovingFashionMnist: synthetic clips of Fashion-MNIST items moving with constant velocity
// and bouncing off the borders, each item a pure function of (seed, index); the label
// rule (5 appearance groups x horizontal/vertical motion) is documented in datasets.h.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "data/datasets.h"
#include "tensor/kernels.h"

namespace shears::data {
namespace {
constexpr std::array<int64_t, 10> kGroupOfClass = {0, 2, 1, 2, 1, 3, 0, 3, 4, 3};
constexpr std::array<const char*, 5> kGroupNames = {"tops", "warm-tops", "long-garments", "footwear", "bags"};

// Area (adaptive average pool) downscale of an (in x in) image to (out x out).
std::vector<float> area_resize(const float* src, int64_t in, int64_t out) {
  std::vector<float> dst(out * out);
  for (int64_t oy = 0; oy < out; ++oy) {
    const int64_t y0 = oy * in / out, y1 = ((oy + 1) * in + out - 1) / out;
    for (int64_t ox = 0; ox < out; ++ox) {
      const int64_t x0 = ox * in / out, x1 = ((ox + 1) * in + out - 1) / out;
      float acc = 0.f;
      for (int64_t y = y0; y < y1; ++y)
        for (int64_t x = x0; x < x1; ++x) acc += src[y * in + x];
      dst[oy * out + ox] = acc / float((y1 - y0) * (x1 - x0));
    }
  }
  return dst;
}

// dst (side x side) = max(dst, item) with the item's top-left corner at (top, left).
void paste_max(float* dst, int64_t side, const std::vector<float>& item, int64_t item_side, int64_t top, int64_t left) {
  for (int64_t y = 0; y < item_side; ++y)
    for (int64_t x = 0; x < item_side; ++x) {
      float& d = dst[(top + y) * side + (left + x)];
      d = std::max(d, item[y * item_side + x]);
    }
}

// One axis of constant-velocity motion bouncing inside [0, limit].
void step_bounce(double& pos, double& vel, double limit) {
  pos += vel;
  if (pos < 0) { pos = -pos; vel = -vel; }
  if (pos > limit) { pos = 2 * limit - pos; vel = -vel; }
  pos = std::min(std::max(pos, 0.0), limit);
}
}  // namespace

int64_t MovingFashionMnist::group_of_class(int64_t fashion_class) {
  SHEARS_CHECK(fashion_class >= 0 && fashion_class < 10, "MovingFashionMnist", "class ", fashion_class, " not in [0, 10)");
  return kGroupOfClass[fashion_class];
}
const char* MovingFashionMnist::group_name(int64_t group) {
  SHEARS_CHECK(group >= 0 && group < kGroups, "MovingFashionMnist", "group ", group, " not in [0, 5)");
  return kGroupNames[group];
}
std::string MovingFashionMnist::class_name(int64_t label) {
  SHEARS_CHECK(label >= 0 && label < kGroups * kMotions, "MovingFashionMnist", "label ", label, " not in [0, 10)");
  return std::string(kGroupNames[label / 2]) + (label % 2 ? "/vertical" : "/horizontal");
}

MovingFashionMnist::MovingFashionMnist(const std::string& dir, bool train, MovingFashionMnistOptions options)
    : MovingFashionMnist(load_fashion_mnist(dir, train), options) {}

MovingFashionMnist::MovingFashionMnist(FashionMnist source, MovingFashionMnistOptions options)
    : source_(std::move(source)), options_(options), by_group_(kGroups) {
  const char* op = "MovingFashionMnist";
  const auto& o = options_;
  SHEARS_CHECK(o.size >= 0 && o.num_frames >= 1 && o.item_side >= 1 && o.side >= o.item_side, op,
               "bad options: size ", o.size, ", num_frames ", o.num_frames, ", side ", o.side, ", item_side ",
               o.item_side, " (need side >= item_side >= 1)");
  SHEARS_CHECK(o.channels == 1 || o.channels == 3, op, "channels must be 1 or 3, got ", o.channels);
  SHEARS_CHECK(o.distractor_prob >= 0 && o.distractor_prob <= 1, op, "distractor_prob not in [0, 1]");
  SHEARS_CHECK(source_.images.defined() && source_.images.dim() == 4 && source_.images.size(1) == 1 &&
                   source_.images.size(2) == source_.images.size(3),
               op, "source images must be (N, 1, S, S)");
  source_.images = kernels::contiguous(source_.images);
  const Tensor labels = kernels::contiguous(source_.labels);
  const int64_t* lab = labels.data<int64_t>();
  for (int64_t i = 0; i < source_.size(); ++i) by_group_[group_of_class(lab[i])].push_back(i);
  for (int64_t g = 0; g < kGroups; ++g)
    SHEARS_CHECK(!by_group_[g].empty(), op, "the source split has no image of group '", kGroupNames[g], "'");
}

Sample MovingFashionMnist::get(int64_t index) const {
  const auto& o = options_;
  SHEARS_CHECK(index >= 0 && index < o.size, "MovingFashionMnist", "index ", index, " out of range [0, ", o.size, ")");
  Generator gen(o.seed, uint64_t(index));
  const int64_t src_side = source_.images.size(-1);
  auto item_of = [&](int64_t group) {
    const auto& pool = by_group_[group];
    const int64_t i = pool[gen.randint(0, int64_t(pool.size()))];
    return area_resize(source_.images.data<float>() + i * src_side * src_side, src_side, o.item_side);
  };
  const int64_t group = gen.randint(0, kGroups), motion = gen.randint(0, kMotions);
  const std::vector<float> item = item_of(group);
  const double limit = double(o.side - o.item_side);
  const double major = 1.0 + 1.5 * gen.uniform(), minor = major * 0.5 * gen.uniform();
  double vx = motion == 0 ? major : minor, vy = motion == 0 ? minor : major;
  if (gen.uniform() < 0.5) vx = -vx;
  if (gen.uniform() < 0.5) vy = -vy;
  double px = limit * gen.uniform(), py = limit * gen.uniform();
  std::vector<float> distractor;
  int64_t dtop = 0, dleft = 0;
  if (gen.uniform() < o.distractor_prob) {
    distractor = item_of((group + 1 + gen.randint(0, kGroups - 1)) % kGroups);
    dtop = gen.randint(0, o.side - o.item_side + 1);
    dleft = gen.randint(0, o.side - o.item_side + 1);
  }
  const int64_t T = o.num_frames, plane = o.side * o.side;
  Tensor out = Tensor::empty({o.channels, T, o.side, o.side});
  float* base = out.data<float>();
  std::fill(base, base + T * plane, 0.f);
  for (int64_t t = 0; t < T; ++t) {
    float* frame = base + t * plane;
    if (!distractor.empty()) paste_max(frame, o.side, distractor, o.item_side, dtop, dleft);
    paste_max(frame, o.side, item, o.item_side, std::lround(py), std::lround(px));
    step_bounce(px, vx, limit);
    step_bounce(py, vy, limit);
  }
  for (int64_t c = 1; c < o.channels; ++c) std::memcpy(base + c * T * plane, base, sizeof(float) * T * plane);
  return {out, kMotions * group + motion, -1};
}

std::string MovingFashionMnist::describe() const {
  return str_cat("moving fashion-mnist: ", options_.size, " clips of ", options_.num_frames, " x ", options_.side, "x",
                 options_.side, ", seed ", options_.seed, ", 10 classes (5 groups x horizontal/vertical)");
}

}  // namespace shears::data
