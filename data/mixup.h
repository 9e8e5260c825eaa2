// Mixup / CutMix with timm's 'batch' mode semantics (specs/METHODS.md §7.2) and label
// smoothing folded into the soft targets, as a BatchTransform for the DataLoader. Also the
// pure pieces (Beta sampling, the CutMix box, smoothed/mixed targets) for property tests.
#pragma once
#include <cstdint>

#include "data/dataset.h"

namespace shears::data {

struct MixupOptions {
  double mixup_alpha = 0.8;      // Beta(α, α) for mixup; 0 disables mixup
  double cutmix_alpha = 1.0;     // Beta(α, α) for cutmix; 0 disables cutmix
  double prob = 1.0;             // probability that a batch is mixed at all
  double switch_prob = 0.5;      // when both are enabled: probability of cutmix instead of mixup
  double label_smoothing = 0.1;  // ε: off = ε/C, on = 1 − ε + ε/C
  int64_t num_classes = 0;       // C (required, > 0)
};

// A CutMix box on the last two dims: rows [y0, y1), columns [x0, x1).
struct CutBox {
  int64_t y0 = 0, y1 = 0, x0 = 0, x1 = 0;
  int64_t area() const { return (y1 - y0) * (x1 - x0); }
};

// What the last call of a mixup_cutmix transform did (filled when a record is given).
struct MixupRecord {
  bool mixed = false;    // false: lam = 1, targets are the smoothed one-hots
  bool cutmix = false;   // true: CutMix (box valid), false: Mixup
  double lambda = 1.0;   // the λ used for the targets (CutMix: corrected to the true box area)
  CutBox box;
};

// Gamma(shape, 1) by Marsaglia-Tsang (shape < 1 via the u^(1/shape) boost).
double sample_gamma(double shape, Generator& gen);
// Beta(a, b) = X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b).
double sample_beta(double a, double b, Generator& gen);

// timm's rand_bbox: r = sqrt(1 − lam), cut = int(side·r), centre uniform over the image,
// clipped to the image. The corrected λ is 1 − box.area() / (H·W).
CutBox cutmix_box(int64_t height, int64_t width, double lam, Generator& gen);

// labels: (B,) i64 -> (B, C) f32 with off = ε/C, on = 1 − ε + ε/C.
Tensor smooth_one_hot(const Tensor& labels, int64_t num_classes, double smoothing);
// lam·smooth_one_hot(y) + (1 − lam)·smooth_one_hot(flip(y)), flip pairing b with B−1−b.
Tensor mix_targets(const Tensor& labels, int64_t num_classes, double smoothing, double lam);

// The batch transform: with probability `prob` draws cutmix-or-mixup and λ ~ Beta, mixes
// batch.inputs in place with the flipped batch (sample b with B−1−b; CutMix pastes one box
// on the last two dims, so every frame of a clip gets the same box) and sets batch.targets.
// Odd batch sizes (e.g. a last partial batch): the middle sample pairs with itself, so its
// input is unchanged and its target is its own smoothed one-hot (timm requires an even
// batch; we self-pair instead). `record`, when given, receives the last call's draw; it is
// written from the loader's producer thread, so read it only with prefetch 0 or when
// calling the transform directly.
BatchTransform mixup_cutmix(MixupOptions options, MixupRecord* record = nullptr);

}  // namespace shears::data
