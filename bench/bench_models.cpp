// End-to-end model benchmark: inference and training-step images/s of ViT configs from
// specs/PERFORMANCE.md, printed as one JSON line per measurement (bench/run_model_bench.sh
// runs this and the PyTorch twin side by side and prints the table).
//   (a) ViT-Tiny 28x28x1 patch 4, batch 128    (c) DeiT-S 224x224x3 patch 16, batch 32
// A training step is forward + cross-entropy + backward + AdamW. Method: warm-up steps,
// then samples of at least --min-time seconds, median reported, with peak memory.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <cxxopts.hpp>

#include "autograd/ops.h"
#include "nn/flop_count.h"
#include "nn/vision_transformer.h"
#include "tensor/profile.h"
#include "tensor/gemm.h"
#include "tensor/parallel.h"
#include "train/adamw.h"

using namespace shears;

#include "bench_util.h"

namespace {
using bench::median;
using bench::now_s;
// median seconds per call over `samples` samples of >= min_time each, after warm-up calls
double time_it(const std::function<void()>& fn, int warmup, int samples, double min_time) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> per_call;
  for (int s = 0; s < samples; ++s) {
    int n = 0;
    double t0 = now_s(), t = t0;
    do {
      fn();
      ++n;
      t = now_s();
    } while (t - t0 < min_time);
    per_call.push_back((t - t0) / n);
  }
  return median(per_call);
}
}  // namespace

int main(int argc, char** argv) {
  cxxopts::Options options("bench_models", "Inference and training-step throughput of ViT configs (JSON lines).");
  options.add_options()("config", "a (ViT-Tiny 28x28x1/4, batch 128), b (ViT-Tiny 32x32x3/4, batch 128), c (DeiT-S 224, batch 32) or all",
                        cxxopts::value<std::string>()->default_value("all"))(
      "samples", "samples per measurement", cxxopts::value<int>()->default_value("3"))(
      "min-time", "seconds per sample", cxxopts::value<double>()->default_value("1.5"))(
      "mode", "infer, train or both", cxxopts::value<std::string>()->default_value("both"))(
      "info", "print the compute config (threads, GEMM provider and its kernels) and exit")(
      "profile", "after each measurement, run >= 2 s more with the per-category time breakdown on and print it "
      "(GEMM, attention, norms, elementwise, optimizer, ...; tensor/profile.h)")("h,help", "show help");
  auto args = options.parse(argc, argv);
  if (args.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return 0;
  }
  if (args.count("info")) {
    std::printf("compute: %d threads (oneTBB); %s\n", get_num_threads(), gemm_backend_info().c_str());
    return 0;
  }
  const int samples = args["samples"].as<int>();
  const bool profiling = args.count("profile") > 0;
  // Runs `fn` for >= 2 s with the breakdown on (outside the timed samples) and prints it.
  auto print_profile = [&](const std::string& title, const std::function<void()>& fn) {
    if (!profiling) return;
    profile::start();
    int64_t steps = 0;
    const double t0 = now_s();
    do {
      fn();
      ++steps;
    } while (now_s() - t0 < 2.0);
    const profile::Report r = profile::stop();
    std::printf("\nprofile, %s (%ld steps):\n%s\n", title.c_str(), long(steps), profile::format(r, steps).c_str());
    if (!r.gemm_shapes.empty())
      std::printf("Linear layers by shape (rows M = batch x tokens, N outputs, K inputs):\n%s\n",
                  profile::format_gemm_shapes(r, steps).c_str());
    std::fflush(stdout);
  };
  const double min_time = args["min-time"].as<double>();
  const std::string which = args["config"].as<std::string>(), mode = args["mode"].as<std::string>();
  struct Cfg {
    std::string name;
    nn::ModelConfig model;
    int64_t batch;
  };
  std::vector<Cfg> cfgs;
  if (which == "a" || which == "all") cfgs.push_back({"a", nn::vit_tiny_patch4_28(10), 128});
  if (which == "b" || which == "all") cfgs.push_back({"b", nn::vit_tiny_patch4_32(10), 128});
  if (which == "c" || which == "all") cfgs.push_back({"c", nn::deit_small_patch16_224(1000), 32});
  for (auto& c : cfgs) {
    nn::VisionTransformer model(c.model, 0);
    const double gflops = nn::count_flops(c.model).total / 1e9;  // fvcore GMACs per image
    Generator gen(1);
    Tensor x = randn({c.batch, c.model.in_chans, c.model.image_size, c.model.image_size}, DType::F32, &gen);
    Tensor y = Tensor::empty({c.batch}, DType::I64);
    for (int64_t i = 0; i < c.batch; ++i) y.data<int64_t>()[i] = i % c.model.num_classes;
    if (mode != "train") {
      model.eval();
      reset_cpu_bytes_peak();
      size_t base = cpu_bytes_in_use();
      auto forward = [&] { NoGradGuard ng; Tensor out = model.forward(x); };
      double s = time_it(forward, 2, samples, min_time);
      double ips = c.batch / s;
      std::printf("{\"side\":\"shears\",\"config\":\"%s\",\"mode\":\"infer\",\"batch\":%ld,\"img_per_s\":%.2f,"
                  "\"gflops_per_s\":%.1f,\"peak_mb\":%.1f,\"threads\":%d}\n",
                  c.name.c_str(), (long)c.batch, ips, ips * gflops * 2, (cpu_bytes_peak() - base) / 1e6,
                  get_num_threads());
      std::fflush(stdout);
      print_profile("config " + c.name + ", inference", forward);
    }
    if (mode != "infer") {
      model.train();
      train::AdamWOptions o;
      o.lr = 1e-4;
      train::AdamW opt(train::decay_groups(model, 0.05), o);
      reset_cpu_bytes_peak();
      size_t base = cpu_bytes_in_use();
      auto step = [&] {
        opt.zero_grad();
        Tensor loss = cross_entropy(model.forward(x), y, 0.1);
        backward(loss);
        opt.step();
      };
      double s = time_it(step, 2, samples, min_time);
      double ips = c.batch / s;
      std::printf("{\"side\":\"shears\",\"config\":\"%s\",\"mode\":\"train\",\"batch\":%ld,\"img_per_s\":%.2f,"
                  "\"gflops_per_s\":%.1f,\"peak_mb\":%.1f,\"threads\":%d}\n",
                  c.name.c_str(), (long)c.batch, ips, ips * gflops * 2 * 3, (cpu_bytes_peak() - base) / 1e6,
                  get_num_threads());
      std::fflush(stdout);
      print_profile("config " + c.name + ", training step (forward, cross-entropy, backward, AdamW)", step);
    }
  }
  return 0;
}
