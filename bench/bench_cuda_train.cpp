// DeiT-S training (and inference) images/s on a CUDA GPU, with the fraction of the GPU's FP32
// and TF32 peaks that the step's FLOPs reach. A training step is forward + cross-entropy +
// backward + AdamW on a batch already on the GPU (the data path is measured elsewhere); each
// sample is timed to a device synchronization. FLOPs: fvcore multiply-adds x 2, training = 3x
// forward. Peaks are flags (defaults: the H200 SXM datasheet, 67 TFLOP/s FP32 and 495 dense
// TF32). Run with SHEARS_CUDA_TF32=1 to let cuBLAS use TF32 tensor cores (default: full f32).
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <cxxopts.hpp>

#include "autograd/engine.h"
#include "autograd/ops.h"
#include "nn/flop_count.h"
#include "nn/vision_transformer.h"
#include "tensor/backend.h"
#include "train/adamw.h"

using namespace shears;

#include "bench_util.h"

int main(int argc, char** argv) {
  cxxopts::Options options("bench_cuda_train", "DeiT-S training and inference images/s on a CUDA GPU (JSON lines)");
  options.add_options()("model", "preset", cxxopts::value<std::string>()->default_value("deit_small_patch16_224"))(
      "batch", "batch size", cxxopts::value<int64_t>()->default_value("128"))(
      "device", "cuda or cuda:N", cxxopts::value<std::string>()->default_value("cuda"))(
      "samples", "timed samples (median reported)", cxxopts::value<int>()->default_value("5"))(
      "steps", "steps per sample", cxxopts::value<int>()->default_value("5"))(
      "peak-fp32", "FP32 peak of the GPU in TFLOP/s", cxxopts::value<double>()->default_value("67"))(
      "peak-tf32", "dense TF32 tensor-core peak in TFLOP/s", cxxopts::value<double>()->default_value("495"))(
      "h,help", "show help");
  auto args = options.parse(argc, argv);
  if (args.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return 0;
  }
  const Device dev = parse_device(args["device"].as<std::string>(), "--device");
  Backend& be = backend_for(dev);
  std::printf("# device %s: %s\n", dev.str().c_str(), be.describe(dev.index).c_str());
  const nn::ModelConfig cfg = nn::preset(args["model"].as<std::string>(), 1000);
  const int64_t B = args["batch"].as<int64_t>();
  const int samples = args["samples"].as<int>(), steps = args["steps"].as<int>();
  const double gflop_fwd = 2.0 * nn::count_flops(cfg).total / 1e9;  // per image
  nn::VisionTransformer model(cfg, 0);
  model.to(dev);
  Generator gen(1);
  Tensor x = randn({B, cfg.in_chans, cfg.image_size, cfg.image_size}, DType::F32, &gen).to(dev);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < B; ++i) labels.push_back(i % 1000);
  Tensor y = from_vector(labels).to(dev);

  auto measure = [&](const std::function<void()>& fn) {
    for (int i = 0; i < 3; ++i) fn();  // warm-up: allocator cache, cuBLAS heuristics
    be.synchronize(dev.index);
    std::vector<double> per_step;
    for (int s = 0; s < samples; ++s) {
      const double t0 = bench::now_s();
      for (int i = 0; i < steps; ++i) fn();
      be.synchronize(dev.index);
      per_step.push_back((bench::now_s() - t0) / steps);
    }
    return bench::median(per_step);
  };
  const double peak32 = args["peak-fp32"].as<double>(), peak_tf32 = args["peak-tf32"].as<double>();
  auto report = [&](const char* mode, double sec, double flop_mult) {
    const double ips = double(B) / sec;
    const double tflops = ips * gflop_fwd * flop_mult / 1e3;
    std::printf("{\"side\":\"shears\",\"model\":\"%s\",\"mode\":\"%s\",\"batch\":%ld,\"img_per_s\":%.1f,"
                "\"tflops\":%.2f,\"pct_fp32_peak\":%.1f,\"pct_tf32_peak\":%.1f,\"peak_gpu_mb\":%.0f}\n",
                args["model"].as<std::string>().c_str(), mode, long(B), ips, tflops, 100 * tflops / peak32,
                100 * tflops / peak_tf32, be.bytes_peak(dev.index) / 1e6);
    std::fflush(stdout);
  };
  {
    model.eval();
    NoGradGuard no_grad;
    report("infer", measure([&] { model.forward(x); }), 1.0);
  }
  model.train();
  train::AdamWOptions o;
  o.lr = 1e-4;
  train::AdamW opt(train::decay_groups(model, 0.05), o);
  report("train", measure([&] {
           opt.zero_grad();
           Tensor loss = cross_entropy(model.forward(x), y, 0.1);
           backward(loss);
           opt.step();
         }),
         3.0);
  return 0;
}
