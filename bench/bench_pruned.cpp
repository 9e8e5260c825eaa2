// Measured speedup of structurally pruned (or any transformed) checkpoints against their original:
// no-grad inference images/s of every model on the same fixed batch, samples interleaved
// (original, pruned 1, pruned 2, ..., repeated) and medians taken, next to the FLOP ratio from the
// models' real shapes and token counts (recipes::model_cost). The check of issues 10-12: realized
// speedup >= 0.9x the FLOP ratio. Models are reloaded from their files alone (pruning::load_model).
// Usage: bench_pruned --original A.safetensors --pruned B.safetensors[,C.safetensors] [--batch 128]
#include <algorithm>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include <cxxopts.hpp>

#include "bench_util.h"
#include "common/model_cost.h"
#include "common/throughput.h"
#include "pruning/provenance.h"
#include "tensor/gemm.h"
#include "tensor/profile.h"
#include "tensor/parallel.h"
#include "tensor/random.h"
#include "train/progress.h"

using namespace shears;

int main(int argc, char** argv) {
  cxxopts::Options options("bench_pruned", "Realized speedup vs FLOP ratio of pruned checkpoints (interleaved medians)");
  options.add_options()("original", "the unpruned checkpoint", cxxopts::value<std::string>())(
      "pruned", "pruned checkpoints, comma-separated", cxxopts::value<std::string>())(
      "batch", "images per forward", cxxopts::value<int64_t>()->default_value("128"))(
      "samples", "timed samples per model (median)", cxxopts::value<int>()->default_value("7"))(
      "min-time", "seconds per sample", cxxopts::value<double>()->default_value("1.0"))(
      "threads", "worker threads (0 = all cores)", cxxopts::value<int>()->default_value("0"))(
      "profile", "after the table, each model's forward by kernel category (tensor/profile.h), then each pruned model beside the original: per-category speedups")(
      "profile-seconds",
      "seconds of forwards per model for --profile, in 5 interleaved rounds (at least one forward each)",
      cxxopts::value<double>()->default_value("1.5"))(
      "h,help", "help");
  try {
    auto r = options.parse(argc, argv);
    if (r.count("help") || !r.count("original") || !r.count("pruned")) {
      std::printf("%s\n", options.help().c_str());
      return r.count("help") ? 0 : 2;
    }
    if (r["threads"].as<int>() > 0) set_num_threads(r["threads"].as<int>());
    std::vector<std::string> paths{r["original"].as<std::string>()};
    std::stringstream ss(r["pruned"].as<std::string>());
    for (std::string p; std::getline(ss, p, ',');)
      if (!p.empty()) paths.push_back(p);
    std::vector<std::shared_ptr<nn::VisionTransformer>> models;
    for (const auto& p : paths) models.push_back(pruning::load_model(p));
    const nn::ModelConfig cfg = models[0]->config();
    const int64_t B = r["batch"].as<int64_t>();
    Shape shape = cfg.arch == "videomae" ? Shape{B, cfg.in_chans, cfg.frames, cfg.image_size, cfg.image_size}
                                         : Shape{B, cfg.in_chans, cfg.image_size, cfg.image_size};
    Generator gen(7);
    const Tensor images = models[0]->normalize(uniform(shape, 0.0, 1.0, DType::F32, &gen));
    std::vector<recipes::ModelCost> costs;
    std::vector<std::function<void()>> variants;
    for (auto& m : models) {
      costs.push_back(recipes::model_cost(*m, images));
      variants.push_back(recipes::inference_forward(*m, images));
    }
    recipes::ThroughputOptions to;
    to.samples = r["samples"].as<int>();
    to.min_time = r["min-time"].as<double>();
    to.warmup = 2;
    const std::vector<std::vector<double>> rates = recipes::interleaved_rates(variants, B, to);
    std::vector<double> ips;
    for (const auto& r : rates) ips.push_back(bench::median(r));
    std::printf("bench_pruned: batch %ld, %d interleaved samples of >= %.1f s per model, %d threads, %s\n\n",
                long(B), to.samples, to.min_time, get_num_threads(), gemm_backend_info().c_str());
    // two estimates of each speedup: the ratio of the two models' median img/s, and the median of the per-round
    // ratios (paired samples taken back to back; robust to a drifting machine); ">= 0.9" needs both. The lowest and
    // highest paired ratio show the noise the pairs did not cancel (were the rounds independent, the interval between
    // them would hold the median of the pairs' distribution with probability 1 - 2 / 2^n: 98% for n = 7 rounds).
    std::printf("| model | params (M) | GFLOPs | FLOP ratio | img/s (median) | speedup (ratio of medians) | "
                "/ FLOP ratio | speedup (median of paired ratios) | / FLOP ratio | paired / FLOP ratio, min - max "
                "| >= 0.9 |\n");
    std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (size_t i = 0; i < models.size(); ++i) {
      const double flop_ratio = costs[0].gflops / costs[i].gflops, speedup = ips[i] / ips[0];
      const std::vector<double> pairs = recipes::paired_speedups(rates, i);
      const double paired = bench::median(pairs);  // = recipes::median_paired_speedup(rates, i)
      const auto [lo, hi] = std::minmax_element(pairs.begin(), pairs.end());
      std::printf("| %s | %.3f | %.5f | %.2f | %.1f | %.3f | %.3f | %.3f | %.3f | %.3f - %.3f | %s |\n",
                  paths[i].c_str(), costs[i].params / 1e6, costs[i].gflops, flop_ratio, ips[i], speedup,
                  speedup / flop_ratio, paired, paired / flop_ratio, *lo / flop_ratio, *hi / flop_ratio,
                  i == 0 ? "-" : (std::min(speedup, paired) / flop_ratio >= 0.9 ? "yes" : "NO"));
    }
    if (r.count("profile")) {
      // interleaved like the timed samples: kProfileRounds rounds, each model recorded for its share of the
      // seconds (at least one forward) in every round, so a slower minute of a shared machine falls on all of them
      const double profile_seconds = r["profile-seconds"].as<double>();
      constexpr int kProfileRounds = 5;
      std::vector<profile::Report> reports(models.size());
      std::vector<int64_t> steps(models.size(), 0);
      for (int round = 0; round < kProfileRounds; ++round)
        for (size_t i = 0; i < models.size(); ++i) {
          profile::start();
          const double t0 = train::now_s();
          do {
            variants[i]();
            ++steps[i];
          } while (train::now_s() - t0 < profile_seconds / kProfileRounds);
          profile::merge(reports[i], profile::stop());
        }
      for (size_t i = 0; i < models.size(); ++i) {
        std::printf("\nprofile, %s (%ld forwards in %d interleaved rounds):\n%s", paths[i].c_str(), long(steps[i]),
                    kProfileRounds, profile::format(reports[i], steps[i]).c_str());
        if (!reports[i].gemm_shapes.empty())
          std::printf("\nits Linear layers by shape (rows M = batch x tokens, N outputs, K inputs):\n%s",
                      profile::format_gemm_shapes(reports[i], steps[i]).c_str());
      }
      // where each pruned model's speedup comes from (and where it is lost), category by category
      for (size_t i = 1; i < models.size(); ++i)
        std::printf("\nper forward, the original vs %s (FLOP ratio %.2f):\n%s", paths[i].c_str(),
                    costs[0].gflops / costs[i].gflops,
                    profile::format_comparison(reports[0], steps[0], reports[i], steps[i], "original", "pruned").c_str());
      // the same speedups beside the FLOP ratio of the work each category runs (where the FLOP count is not met)
      for (size_t i = 1; i < models.size(); ++i)
        std::printf("\nspeedup by kind of work vs its FLOP ratio, %s:\n%s", paths[i].c_str(),
                    recipes::flop_reconciliation_markdown(costs[0], reports[0], steps[0], costs[i], reports[i], steps[i])
                        .c_str());
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
