// bench_dist: the gradient all-reduce of data-parallel training (dist::allreduce_gradients, 4 MiB
// buckets in parameter order) for the main job's ViT, ViT-Tiny (DeiT-Ti) and DeiT-S gradient sizes.
// Run under mpirun (e.g. mpirun -np 2 --oversubscribe bench_dist): prints a Markdown table with the
// median time per all-reduce over --reps samples (barrier before each), the algorithm bandwidth
// (bytes / time) and the bus bandwidth of a ring all-reduce (2 (N-1) / N x bytes / time).
#include <cstdio>
#include <string>
#include <vector>

#include <cxxopts.hpp>

#include "bench_util.h"
#include "dist/data_parallel.h"
#include "dist/world.h"
#include "nn/config.h"
#include "nn/vision_transformer.h"
#include "tensor/creation.h"

using namespace shears;

int main(int argc, char** argv) {
  dist::WorldSession world(argc, argv);
  cxxopts::Options options("bench_dist", "gradient all-reduce time per step (run under mpirun)");
  options.add_options()("reps", "timed all-reduces per model", cxxopts::value<int>()->default_value("10"))(
      "bucket-mib", "bucket size in MiB", cxxopts::value<double>()->default_value("4"));
  const auto r = options.parse(argc, argv);
  const int reps = r["reps"].as<int>();
  const int64_t bucket_bytes = int64_t(r["bucket-mib"].as<double>() * 1024 * 1024);

  nn::ModelConfig main_job = nn::vit_tiny_patch4_28(10);  // shears_main's defaults
  main_job.patch_size = 7;
  main_job.dim = 128;
  main_job.blocks = nn::uniform_blocks(6, 4, 32, 256);
  const std::vector<std::pair<std::string, nn::ModelConfig>> models = {
      {"main job ViT (p7 d128 x6)", main_job},
      {"ViT-Tiny (DeiT-Ti/16, 224)", nn::deit_tiny_patch16_224(1000)},
      {"DeiT-S/16, 224", nn::deit_small_patch16_224(1000)}};
  if (dist::is_root())
    std::printf("## gradient all-reduce, %d ranks, %.0f MiB buckets, median of %d\n\n"
                "| model | params | gradient MB | all-reduce ms | algbw GB/s | busbw GB/s |\n|---|---:|---:|---:|---:|---:|\n",
                dist::size(), bucket_bytes / 1048576.0, reps);
  for (const auto& [name, cfg] : models) {
    nn::VisionTransformer model(cfg, 0);
    const std::vector<Tensor> params = model.parameters();
    int64_t n = 0;
    for (Tensor p : params) {
      p.set_grad(full(p.shape(), 1e-3, DType::F32));
      n += p.numel();
    }
    std::vector<float> bucket;
    std::vector<double> times;
    for (int i = 0; i < reps + 2; ++i) {
      dist::barrier();
      const double t0 = bench::now_s();
      dist::allreduce_gradients(params, bucket_bytes, bucket);
      if (i >= 2) times.push_back(bench::now_s() - t0);
    }
    const double t = bench::median(times), bytes = double(n) * 4;
    const double ring = dist::size() > 1 ? 2.0 * (dist::size() - 1) / dist::size() : 0.0;
    if (dist::is_root())
      std::printf("| %s | %.2f M | %.1f | %.2f | %.2f | %.2f |\n", name.c_str(), n / 1e6, bytes / 1e6, 1e3 * t,
                  bytes / t / 1e9, ring * bytes / t / 1e9);
  }
  return world.finish(0);
}
