// Makes a P3B-sliced model of a preset's real shapes for speed measurements (bench_pruned): the preset
// (randomly initialised) goes through P3bPruner for a few iterations on random images (noise scores,
// so the widths are uneven as in a real run, but the weights mean nothing), is finalized at the given
// pruning ratio and saved next to the dense model. Accuracy is meaningless; shapes and FLOPs are real.
// Usage: make_p3b_model --preset deit_small_patch16_224 --ratio 0.5 --out DIR
#include <cstdio>
#include <filesystem>

#include <cxxopts.hpp>

#include "autograd/engine.h"
#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "nn/flop_count.h"
#include "pruning/p3b.h"
#include "tensor/random.h"

using namespace shears;

int main(int argc, char** argv) {
  cxxopts::Options options("make_p3b_model", "A P3B-sliced model of a preset's shapes (noise scores) + the dense one");
  options.add_options()("preset", "model preset", cxxopts::value<std::string>()->default_value("deit_small_patch16_224"))(
      "ratio", "pruning ratio (fraction of all parameters)", cxxopts::value<double>()->default_value("0.5"))(
      "classes", "classes of the head", cxxopts::value<int64_t>()->default_value("100"))(
      "out", "output folder", cxxopts::value<std::string>()->default_value("runs/p3b_bench"))(
      "seed", "seed", cxxopts::value<uint64_t>()->default_value("0"))("h,help", "help");
  try {
    auto r = options.parse(argc, argv);
    if (r.count("help")) {
      std::printf("%s\n", options.help().c_str());
      return 0;
    }
    const std::string out = r["out"].as<std::string>();
    std::filesystem::create_directories(out);
    const nn::ModelConfig cfg = nn::preset(r["preset"].as<std::string>(), r["classes"].as<int64_t>());
    nn::VisionTransformer model(cfg, r["seed"].as<uint64_t>());
    const std::string dense_path = out + "/dense.safetensors";
    nn::save_model(dense_path, model);
    pruning::P3bOptions o;
    o.prune_ratio = r["ratio"].as<double>();
    o.start = 0, o.sparse = 1, o.finalize = 2, o.update_interval = 1;
    o.heads.patch_width = 8;  // the heads only need to run; their cost is irrelevant here
    pruning::P3bPruner p(model, cfg.num_classes, o);
    Generator gen(r["seed"].as<uint64_t>() + 1);
    model.train();
    for (int it = 0; it < 2; ++it) {
      const Tensor x = uniform({2, cfg.in_chans, cfg.image_size, cfg.image_size}, -1.0, 1.0, DType::F32, &gen);
      Tensor y = zeros({2}, DType::I64);
      y.data<int64_t>()[1] = 1;
      Tensor loss = cross_entropy(model.forward(x), y);
      backward(add(loss, p.heads_loss([&](const Tensor& l) { return cross_entropy(l, y); })));
      p.after_backward();
      p.after_iteration();
    }
    p.finalize();
    model.prune_log.push_back(p.step());
    const std::string path = out + "/p3b_pr" + std::to_string(int(100 * o.prune_ratio + 0.5)) + ".safetensors";
    nn::save_model(path, model);
    std::printf("%s: %lld params, %s: %lld params (%.1f%% kept)\n", dense_path.c_str(),
                (long long)nn::VisionTransformer(cfg, 0).parameter_count(), path.c_str(),
                (long long)model.parameter_count(),
                100.0 * double(model.parameter_count()) / double(nn::VisionTransformer(cfg, 0).parameter_count()));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
