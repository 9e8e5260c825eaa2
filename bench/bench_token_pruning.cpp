// Measured speedup of token pruning: dense vs pruned (EViT policy by default, keep rate rho at
// blocks 4/7/10; pruned tokens fused as --fuse says, by default as the policy does:
// pruning::default_fuse, EViT fused, entropy/random not) no-grad inference images/s for configs
// (a) ViT-Tiny 28x28x1 patch 4, batch 128 and (c) DeiT-S 224 patch 16, batch 32 of
// specs/PERFORMANCE.md, random weights. Reports the FLOP ratio (dense / pruned, nn::count_flops
// with the EViT token counts),
// the realized speedup (medians of interleaved dense/pruned samples) and whether the realized
// speedup reaches 0.9x the FLOP ratio, plus the share of the pruned forward spent in the pruning
// hooks (policy scores, selection, gather and fusion). Markdown table on stdout.
#include <cstdio>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <cxxopts.hpp>

#include "autograd/ops.h"
#include "nn/flop_count.h"
#include "nn/vision_transformer.h"
#include "pruning/token_pruning.h"
#include "pruning/transform.h"
#include "tensor/gemm.h"
#include "tensor/parallel.h"

using namespace shears;

#include "bench_util.h"

namespace {

using bench::median;
using bench::now_s;

struct Config {
  std::string name, label;
  nn::ModelConfig model;
  int64_t batch;
};

// Wraps every installed token hook of `model` so that the seconds spent inside them add up in `acc`.
void time_hooks(nn::VisionTransformer& model, double* acc) {
  for (auto& block : model.blocks->items) {
    if (!block->token_hook) continue;
    auto inner = block->token_hook;
    block->token_hook = [inner, acc](const Tensor& x, const Tensor& probs) {
      const double t0 = now_s();
      Tensor y = inner(x, probs);
      *acc += now_s() - t0;
      return y;
    };
  }
}

std::vector<double> parse_list(const std::string& text) {
  std::vector<double> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(std::stod(item));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  cxxopts::Options options("bench_token_pruning",
                           "Dense vs token-pruned (EViT by default, blocks 4/7/10) inference images/s: FLOP ratio vs "
                           "realized speedup (Markdown).");
  options.add_options()("config", "a (ViT-Tiny 28x28x1/4, batch 128), c (DeiT-S 224, batch 32) or all",
                        cxxopts::value<std::string>()->default_value("all"))(
      "keep-rates", "comma-separated keep rates", cxxopts::value<std::string>()->default_value("0.7,0.5"))(
      "policy", "token policy (evit, shannon, renyi:<a>, random)", cxxopts::value<std::string>()->default_value("evit"))(
      "fuse", "fuse the pruned tokens into one: auto (the policy's default: evit yes, entropy/random no), on or off "
      "(as shears_token_pruning --fuse)",
      cxxopts::value<std::string>()->default_value("auto"))(
      "no-fuse", "the same as --fuse off")(
      "samples", "interleaved samples per variant", cxxopts::value<int>()->default_value("5"))(
      "min-time", "seconds per sample", cxxopts::value<double>()->default_value("1.5"))("h,help", "show help");
  auto args = options.parse(argc, argv);
  if (args.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return 0;
  }
  const std::string which = args["config"].as<std::string>();
  const std::vector<double> keep_rates = parse_list(args["keep-rates"].as<std::string>());
  const int samples = args["samples"].as<int>();
  const double min_time = args["min-time"].as<double>();
  const pruning::TokenPolicySpec policy = pruning::parse_token_policy(args["policy"].as<std::string>());
  const std::string fuse_flag = args.count("no-fuse") ? "off" : args["fuse"].as<std::string>();
  std::optional<bool> fuse_choice;  // unset: the policy's default
  if (fuse_flag == "on") {
    fuse_choice = true;
  } else if (fuse_flag == "off") {
    fuse_choice = false;
  } else if (fuse_flag != "auto") {
    std::fprintf(stderr, "error: --fuse must be auto, on or off, got '%s'\n", fuse_flag.c_str());
    return 2;
  }
  const bool fuse = fuse_choice.value_or(pruning::default_fuse(policy));
  std::vector<Config> cfgs;
  if (which == "a" || which == "all") cfgs.push_back({"a", "ViT-Tiny 28x28x1 p4", nn::vit_tiny_patch4_28(10), 128});
  if (which == "c" || which == "all") cfgs.push_back({"c", "DeiT-S 224 p16", nn::deit_small_patch16_224(1000), 32});
  if (cfgs.empty()) {
    std::fprintf(stderr, "error: --config must be a, c or all, got '%s'\n", which.c_str());
    return 2;
  }
  if (const std::string w = gemm_backend_warning(); !w.empty()) std::printf("%s\n", w.c_str());

  std::printf("| config | batch | keep | tokens | dense GFLOPs | pruned GFLOPs | FLOP ratio | dense img/s | pruned img/s "
              "| realized speedup | realized / FLOP ratio | >= 0.9x | hook share |\n");
  std::printf("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|\n");
  std::fflush(stdout);
  for (const Config& c : cfgs) {
    nn::VisionTransformer dense(c.model, 0);
    dense.eval();
    Generator gen(1);
    Tensor x = randn({c.batch, c.model.in_chans, c.model.image_size, c.model.image_size}, DType::F32, &gen);
    const double dense_gflops = nn::count_flops(c.model).total / 1e9;
    for (double keep : keep_rates) {
      nn::VisionTransformer pruned(c.model, 0);  // same seed: same weights
      pruned.eval();
      pruning::TokenPruningConfig pc;
      pc.policy = policy;
      pc.keep_rate = keep;
      pc.fuse = fuse_choice;
      pruning::PruneContext ctx;  // token pruning through the transform API, as the recipes apply it
      pruning::apply_all(pruned, {std::make_shared<pruning::TokenPruningTransform>(pc)}, ctx);
      auto tp = pruning::find_token_pruning(pruned);
      double hook_seconds = 0;
      time_hooks(pruned, &hook_seconds);
      const auto locations = tp->locations();
      const nn::TokenCounts counts = nn::keep_rate_token_counts(c.model, keep, locations, tp->fuse());
      const double pruned_gflops = nn::count_flops(c.model, counts).total / 1e9;
      std::string tokens = std::to_string(c.model.num_tokens());
      for (int64_t loc : locations) tokens += "→" + std::to_string(counts[size_t(loc)].second);

      auto forward = [&x](nn::VisionTransformer& m) {
        NoGradGuard ng;
        Tensor out = m.forward(x);
      };
      for (int w = 0; w < 2; ++w) forward(dense), forward(pruned);  // warm-up (buffers, caches)
      std::vector<double> dense_ips, pruned_ips;
      double pruned_seconds = 0;
      hook_seconds = 0;
      for (int s = 0; s < samples; ++s)
        for (int v = 0; v < 2; ++v) {
          nn::VisionTransformer& m = v == 0 ? dense : pruned;
          int n = 0;
          const double t0 = now_s();
          double t = t0;
          do {
            forward(m);
            ++n;
            t = now_s();
          } while (t - t0 < min_time);
          (v == 0 ? dense_ips : pruned_ips).push_back(double(n * c.batch) / (t - t0));
          if (v == 1) pruned_seconds += t - t0;
        }
      const double d = median(dense_ips), p = median(pruned_ips);
      const double flop_ratio = dense_gflops / pruned_gflops, realized = p / d;
      std::printf("| (%s) %s | %ld | %.1f | %s | %.3f | %.3f | %.2f | %.1f | %.1f | %.2f | %.2f | %s | %.1f%% |\n",
                  c.name.c_str(), c.label.c_str(), long(c.batch), keep, tokens.c_str(), dense_gflops, pruned_gflops,
                  flop_ratio, d, p, realized, realized / flop_ratio, realized >= 0.9 * flop_ratio ? "yes" : "no",
                  100 * hook_seconds / pruned_seconds);
      std::fflush(stdout);
    }
  }
  std::printf("\npolicy %s, %s, %d threads; medians of %d interleaved samples of >= %.1f s each (dense, pruned, "
              "dense, ...). FLOP ratio: fvcore convention, dense / pruned. hook share: time inside the pruning hooks "
              "(scores, selection, gather, fusion) / pruned forward time.\n",
              policy.name().c_str(),
              (std::string(fuse ? "pruned tokens fused" : "pruned tokens not fused") +
               (fuse_choice ? " (--fuse " + fuse_flag + ")" : " (--fuse auto: the policy's default)"))
                  .c_str(),
              get_num_threads(), samples, min_time);
  return 0;
}
