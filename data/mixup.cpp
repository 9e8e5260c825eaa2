// Mixup / CutMix (timm 'batch' mode): Beta draws from two Marsaglia-Tsang Gamma draws,
// timm's rand_bbox with the corrected λ, in-place mixing of a batch with its flip
// (b <-> B−1−b), and the label-smoothed soft targets.
#include "data/mixup.h"
#include "tensor/kernels.h"

#include <cmath>

#include "tensor/creation.h"
#include "tensor/parallel.h"

namespace shears::data {

double sample_gamma(double shape, Generator& gen) {
  SHEARS_CHECK(shape > 0.0 && std::isfinite(shape), "sample_gamma", "shape must be > 0, got ", shape);
  if (shape < 1.0) {
    // Gamma(a) = Gamma(a + 1) · U^(1/a)
    const double g = sample_gamma(shape + 1.0, gen);
    double u = gen.uniform();
    while (u <= 0.0) u = gen.uniform();
    return g * std::pow(u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    const double x = gen.normal();
    double v = 1.0 + c * x;
    if (v <= 0.0) continue;
    v = v * v * v;
    const double u = gen.uniform();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (u > 0.0 && std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

double sample_beta(double a, double b, Generator& gen) {
  const double x = sample_gamma(a, gen), y = sample_gamma(b, gen);
  const double s = x + y;
  if (!(s > 0.0)) return gen.uniform() < a / (a + b) ? 1.0 : 0.0;  // both underflowed (tiny α)
  return x / s;
}

CutBox cutmix_box(int64_t height, int64_t width, double lam, Generator& gen) {
  SHEARS_CHECK(height > 0 && width > 0, "cutmix_box", "image size must be positive, got ", height, " x ", width);
  SHEARS_CHECK(lam >= 0.0 && lam <= 1.0, "cutmix_box", "lambda must be in [0, 1], got ", lam);
  const double r = std::sqrt(1.0 - lam);
  const int64_t cut_h = static_cast<int64_t>(height * r), cut_w = static_cast<int64_t>(width * r);
  const int64_t cy = gen.randint(0, height), cx = gen.randint(0, width);
  auto clip = [](int64_t v, int64_t hi) { return std::min(std::max(v, int64_t{0}), hi); };
  CutBox box;
  box.y0 = clip(cy - cut_h / 2, height);
  box.y1 = clip(cy + cut_h / 2, height);
  box.x0 = clip(cx - cut_w / 2, width);
  box.x1 = clip(cx + cut_w / 2, width);
  return box;
}

Tensor smooth_one_hot(const Tensor& labels, int64_t num_classes, double smoothing) {
  return kernels::smoothed_one_hot(labels, num_classes, smoothing, DType::F32);
}

Tensor mix_targets(const Tensor& labels, int64_t num_classes, double smoothing, double lam) {
  Tensor t = smooth_one_hot(labels, num_classes, smoothing);
  if (lam == 1.0) return t;
  const int64_t n = t.size(0);
  Tensor out = Tensor::empty({n, num_classes}, DType::F32);
  const float* a = t.data<float>();
  float* o = out.data<float>();
  for (int64_t b = 0; b < n; ++b) {
    const float* mine = a + b * num_classes;
    const float* partner = a + (n - 1 - b) * num_classes;
    for (int64_t c = 0; c < num_classes; ++c)
      o[b * num_classes + c] = static_cast<float>(lam * mine[c] + (1.0 - lam) * partner[c]);
  }
  return out;
}

namespace {

// x: (B, ...) f32 contiguous. x[b] <- lam·x[b] + (1−lam)·x[B−1−b] for all b at once.
void mix_inputs(const Tensor& x, double lam) {
  const int64_t n = x.size(0), per = x.numel() / std::max<int64_t>(n, 1);
  float* p = x.data<float>();
  const float l = static_cast<float>(lam), m = static_cast<float>(1.0 - lam);
  parallel_for(n / 2, grain_for(per), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      float* u = p + b * per;
      float* v = p + (n - 1 - b) * per;
      for (int64_t i = 0; i < per; ++i) {
        const float xu = u[i], xv = v[i];
        u[i] = l * xu + m * xv;
        v[i] = l * xv + m * xu;
      }
    }
  });
}

// x: (B, ..., H, W) f32 contiguous. Swaps the box between samples b and B−1−b, i.e. each
// sample receives its partner's box on every leading plane (channels, frames).
void paste_box(const Tensor& x, const CutBox& box) {
  const int64_t n = x.size(0), h = x.size(-2), w = x.size(-1);
  const int64_t per = x.numel() / std::max<int64_t>(n, 1), planes = per / (h * w);
  float* p = x.data<float>();
  parallel_for(n / 2, grain_for(planes * box.area() + 1), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      float* u = p + b * per;
      float* v = p + (n - 1 - b) * per;
      for (int64_t q = 0; q < planes; ++q)
        for (int64_t y = box.y0; y < box.y1; ++y)
          for (int64_t xx = box.x0; xx < box.x1; ++xx) {
            const int64_t i = (q * h + y) * w + xx;
            std::swap(u[i], v[i]);
          }
    }
  });
}

}  // namespace

BatchTransform mixup_cutmix(MixupOptions o, MixupRecord* record) {
  SHEARS_CHECK(o.num_classes > 0, "mixup_cutmix", "num_classes must be > 0, got ", o.num_classes);
  SHEARS_CHECK(o.mixup_alpha >= 0.0 && o.cutmix_alpha >= 0.0, "mixup_cutmix", "alphas must be >= 0, got mixup ",
               o.mixup_alpha, ", cutmix ", o.cutmix_alpha);
  SHEARS_CHECK(o.prob >= 0.0 && o.prob <= 1.0 && o.switch_prob >= 0.0 && o.switch_prob <= 1.0, "mixup_cutmix",
               "prob and switch_prob must be in [0, 1], got ", o.prob, ", ", o.switch_prob);
  SHEARS_CHECK(o.label_smoothing >= 0.0 && o.label_smoothing < 1.0, "mixup_cutmix",
               "label_smoothing must be in [0, 1), got ", o.label_smoothing);
  return [o, record](Batch& batch, Generator& gen) {
    SHEARS_CHECK(batch.inputs.defined() && batch.labels.defined() && batch.inputs.dim() >= 1 &&
                     batch.inputs.size(0) == batch.labels.size(0),
                 "mixup_cutmix", "batch inputs and labels must share the batch dimension");
    SHEARS_CHECK(batch.inputs.dtype() == DType::F32 && batch.inputs.is_contiguous(), "mixup_cutmix",
                 "inputs must be contiguous f32");
    // timm Mixup._params_per_batch: the draw order is fixed, so a batch's mix depends only on gen.
    const bool mix_enabled = o.mixup_alpha > 0.0 || o.cutmix_alpha > 0.0;
    MixupRecord rec;
    if (mix_enabled && gen.uniform() < o.prob) {
      if (o.mixup_alpha > 0.0 && o.cutmix_alpha > 0.0) {
        rec.cutmix = gen.uniform() < o.switch_prob;
      } else {
        rec.cutmix = o.cutmix_alpha > 0.0;
      }
      const double alpha = rec.cutmix ? o.cutmix_alpha : o.mixup_alpha;
      rec.lambda = sample_beta(alpha, alpha, gen);
      rec.mixed = true;
    }
    // timm Mixup._mix_batch: lam == 1 means no change to the inputs.
    if (rec.mixed && rec.lambda != 1.0) {
      if (rec.cutmix) {
        SHEARS_CHECK(batch.inputs.dim() >= 3, "mixup_cutmix", "CutMix needs (B, ..., H, W) inputs, got ",
                     shape_str(batch.inputs.shape()));
        const int64_t h = batch.inputs.size(-2), w = batch.inputs.size(-1);
        rec.box = cutmix_box(h, w, rec.lambda, gen);
        paste_box(batch.inputs, rec.box);
        rec.lambda = 1.0 - static_cast<double>(rec.box.area()) / static_cast<double>(h * w);  // correct_lam
      } else {
        mix_inputs(batch.inputs, rec.lambda);
      }
    }
    batch.targets = mix_targets(batch.labels, o.num_classes, o.label_smoothing, rec.lambda);
    if (record) *record = rec;
  };
}

}  // namespace shears::data
