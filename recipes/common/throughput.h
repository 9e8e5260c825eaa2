// Measured inference throughput for recipes: images/s of a model's no-grad forward on a fixed
// batch, and side-by-side measurements of several variants whose samples are interleaved (A B A
// B ...) so that load from other processes hits every variant alike; medians are reported.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "nn/vision_transformer.h"

namespace shears::recipes {

struct ThroughputOptions {
  int warmup = 1;          // untimed forwards per variant before the first sample
  int samples = 3;         // timed samples per variant (median taken)
  double min_time = 0.5;   // seconds per sample (whole forwards, at least one)
};

// Images/s of each variant: variants[i]() runs one forward of `batch` images. Samples are
// taken round-robin over the variants; the result holds one median per variant.
std::vector<double> interleaved_images_per_second(const std::vector<std::function<void()>>& variants, int64_t batch,
                                                  const ThroughputOptions& options = {});

// The same measurement with every sample kept: rates[v][s] = images/s of variant v in round s.
std::vector<std::vector<double>> interleaved_rates(const std::vector<std::function<void()>>& variants, int64_t batch,
                                                   const ThroughputOptions& options = {});
// Variant v's per-round speedups over variant 0, rates[v][s] / rates[0][s] in round order. Each ratio compares
// two samples taken one after the other, so a slow drift of the machine's speed (other tenants of a VM) cancels
// out of it, where the ratio of the two medians keeps it; their spread shows the noise left in the pairs.
std::vector<double> paired_speedups(const std::vector<std::vector<double>>& rates, size_t v);
// The paired estimate of variant v's speedup over variant 0: the median of paired_speedups(rates, v).
double median_paired_speedup(const std::vector<std::vector<double>>& rates, size_t v);

// One no-grad eval-mode forward of `model` on `images` as a variant for the function above.
std::function<void()> inference_forward(nn::VisionTransformer& model, const Tensor& images);

}  // namespace shears::recipes
