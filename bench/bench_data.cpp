// DataLoader throughput (images/s) on Fashion-MNIST with the main job's augmentations
// (random crop with padding or RandomResizedCrop, horizontal flip, normalize, RandomErasing,
// Mixup/CutMix): a consumer that only pulls batches, median over samples of --batches each,
// with a no-augmentation row for context. Compare with bench_models' training img/s.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <cxxopts.hpp>

#include "data/data_loader.h"
#include "data/datasets.h"
#include "data/mixup.h"
#include "data/random_erasing.h"
#include "data/transforms.h"
#include "tensor/parallel.h"

using namespace shears;
using namespace shears::data;

#include "bench_util.h"

namespace {
using bench::median;
using bench::now_s;
struct Result {
  double images_per_s = 0, wait_fraction = 0;
};

// Pulls `batches` batches per sample (wrapping into the next epoch), `samples` times.
Result measure(DataLoader& loader, int64_t batches, int samples) {
  int64_t epoch = 0;
  loader.start_epoch(epoch);
  Batch batch;
  auto pull = [&] {
    if (!loader.next(batch)) {
      loader.start_epoch(++epoch);
      loader.next(batch);
    }
    return batch.size();
  };
  for (int i = 0; i < 3; ++i) pull();  // warm-up (thread start, allocator)
  loader.take_wait_seconds();
  std::vector<double> rates;
  double waited = 0, total = 0;
  for (int s = 0; s < samples; ++s) {
    int64_t images = 0;
    const double t0 = now_s();
    for (int64_t b = 0; b < batches; ++b) images += pull();
    const double dt = now_s() - t0;
    rates.push_back(double(images) / dt);
    total += dt;
    waited += loader.take_wait_seconds();
  }
  return {median(rates), total > 0 ? waited / total : 0};
}
}  // namespace

int main(int argc, char** argv) {
  cxxopts::Options options("bench_data", "DataLoader throughput on Fashion-MNIST with the main job's augmentations.");
  options.add_options()("data-dir", "Fashion-MNIST folder (Debian package dataset-fashion-mnist)",
                        cxxopts::value<std::string>()->default_value(kFashionMnistDefaultDir))(
      "batch", "batch size", cxxopts::value<int64_t>()->default_value("128"))(
      "threads", "worker threads (shears::set_num_threads)", cxxopts::value<int>()->default_value("2"))(
      "prefetch", "batches produced ahead", cxxopts::value<int64_t>()->default_value("2"))(
      "batches", "batches per timing sample", cxxopts::value<int64_t>()->default_value("100"))(
      "samples", "timing samples (median reported)", cxxopts::value<int>()->default_value("5"))(
      "crop", "crop: 'pad' (random_crop 28, padding 2) or 'rrc' (random_resized_crop 28, scale 0.35-1)",
      cxxopts::value<std::string>()->default_value("pad"))(
      "train-rate", "model training img/s to compare with (PERFORMANCE.md config (a))",
      cxxopts::value<double>()->default_value("80"))("h,help", "show help");
  auto args = options.parse(argc, argv);
  if (args.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return 0;
  }
  set_num_threads(args["threads"].as<int>());
  const std::string crop = args["crop"].as<std::string>();
  if (crop != "pad" && crop != "rrc") {
    std::fprintf(stderr, "bench_data: --crop must be pad or rrc, got '%s'\n", crop.c_str());
    return 2;
  }

  auto dataset = std::make_shared<FashionMnistDataset>(args["data-dir"].as<std::string>(), true);
  LoaderOptions opt;
  opt.batch_size = args["batch"].as<int64_t>();
  opt.prefetch = args["prefetch"].as<int64_t>();
  opt.seed = 0;
  opt.drop_last = true;

  const std::vector<double> mean{0.2860}, stdev{0.3530};
  Transform augment = compose({crop == "pad" ? random_crop(28, 2) : random_resized_crop(28, {0.35, 1.0}),
                               horizontal_flip(0.5), normalize(mean, stdev), random_erasing(0.25, "pixel")});
  MixupOptions mix;
  mix.num_classes = dataset->num_classes();
  DataLoader full(dataset, opt, augment, mixup_cutmix(mix));
  DataLoader plain(dataset, opt, normalize(mean, stdev));

  const int64_t batches = args["batches"].as<int64_t>();
  const int samples = args["samples"].as<int>();
  const Result r_full = measure(full, batches, samples);
  const Result r_plain = measure(plain, batches, samples);
  const double train_rate = args["train-rate"].as<double>();

  std::printf("DataLoader on %s: batch %lld, %d threads, prefetch %lld, %lld batches x %d samples (median)\n\n",
              dataset->describe().c_str(), static_cast<long long>(opt.batch_size), get_num_threads(),
              static_cast<long long>(opt.prefetch), static_cast<long long>(batches), samples);
  std::printf("| pipeline | images/s | consumer wait | x training (%.0f img/s) |\n|---|---|---|---|\n", train_rate);
  std::printf("| %s, hflip, normalize, erasing 0.25, mixup/cutmix | %.0f | %.0f%% | %.1f |\n",
              crop == "pad" ? "random_crop(28, pad 2)" : "random_resized_crop(28)", r_full.images_per_s,
              100 * r_full.wait_fraction, r_full.images_per_s / train_rate);
  std::printf("| normalize only | %.0f | %.0f%% | %.1f |\n", r_plain.images_per_s, 100 * r_plain.wait_fraction,
              r_plain.images_per_s / train_rate);
  return 0;
}
