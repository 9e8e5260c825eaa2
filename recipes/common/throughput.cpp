// Interleaved throughput measurements (see throughput.h).
#include "common/throughput.h"

#include <algorithm>
#include <chrono>

#include "autograd/ops.h"
#include "train/median.h"
#include "train/progress.h"

namespace shears::recipes {

namespace {
using train::now_s;
using train::median;
}  // namespace

std::vector<std::vector<double>> interleaved_rates(const std::vector<std::function<void()>>& variants, int64_t batch,
                                                   const ThroughputOptions& options) {
  SHEARS_CHECK(options.samples >= 1 && options.min_time >= 0, "throughput", "need samples >= 1 and min_time >= 0, got ",
               options.samples, " and ", options.min_time);
  SHEARS_CHECK(batch >= 1, "throughput", "need a batch of at least 1 image, got ", batch);
  for (const auto& run : variants)
    for (int i = 0; i < options.warmup; ++i) run();
  std::vector<std::vector<double>> rates(variants.size());
  for (int s = 0; s < options.samples; ++s)
    for (size_t v = 0; v < variants.size(); ++v) {
      int64_t n = 0;
      const double t0 = now_s();
      double t = t0;
      do {
        variants[v]();
        ++n;
        t = now_s();
      } while (t - t0 < options.min_time);
      rates[v].push_back(double(n * batch) / std::max(1e-12, t - t0));
    }
  return rates;
}

std::vector<double> interleaved_images_per_second(const std::vector<std::function<void()>>& variants, int64_t batch,
                                                  const ThroughputOptions& options) {
  std::vector<double> out;
  for (auto& r : interleaved_rates(variants, batch, options)) out.push_back(median(r));
  return out;
}

std::vector<double> paired_speedups(const std::vector<std::vector<double>>& rates, size_t v) {
  SHEARS_CHECK(v < rates.size() && !rates.empty() && !rates[0].empty() && rates[v].size() == rates[0].size(),
               "throughput", "paired speedup of variant ", v, " needs equal, non-empty sample lists for it and variant 0");
  std::vector<double> ratios;
  for (size_t s = 0; s < rates[0].size(); ++s) ratios.push_back(rates[v][s] / rates[0][s]);
  return ratios;
}

double median_paired_speedup(const std::vector<std::vector<double>>& rates, size_t v) {
  return median(paired_speedups(rates, v));
}

std::function<void()> inference_forward(nn::VisionTransformer& model, const Tensor& images) {
  return [&model, images] {
    model.eval();
    NoGradGuard no_grad;
    Tensor logits = model.forward(images);
    (void)logits;
  };
}

}  // namespace shears::recipes
