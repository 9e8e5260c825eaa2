// The installed-package check (tests/consumer): builds a tiny ViT, runs a forward, prunes it with
// pruning::parse_steps (one block dropped, half the MLP neurons kept), saves it, reloads it with
// pruning::load_model and checks the reloaded model's shapes, prune log and logits (bitwise).
// Prints "consumer: ok ..." and exits 0, or names what differs and exits 1.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "autograd/node.h"
#include "nn/checkpoint.h"
#include "nn/config.h"
#include "nn/vision_transformer.h"
#include "pruning/provenance.h"
#include "pruning/transform.h"
#include "tensor/creation.h"

using namespace shears;

namespace {

// (B, 1, 28, 28) images with deterministic values in [0, 1)
Tensor sample_images(int64_t batch) {
  std::vector<float> values(size_t(batch * 28 * 28));
  for (size_t i = 0; i < values.size(); ++i) values[i] = float((i * 37) % 101) / 101.0f;
  return from_vector(values, {batch, 1, 28, 28});
}

std::vector<float> logits(nn::VisionTransformer& model, const Tensor& images) {
  NoGradGuard no_grad;
  model.eval();
  return model.forward(images).to_vector<float>();
}

int report_failure(const std::string& what) {
  std::fprintf(stderr, "consumer: FAILED: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main() {
  try {
    nn::ModelConfig cfg = nn::vit_tiny_patch4_28(10);
    cfg.dim = 32;
    cfg.blocks = nn::uniform_blocks(3, 2, 16, 64);
    nn::VisionTransformer model(cfg, 1);
    const Tensor images = sample_images(2);
    const std::vector<float> dense = logits(model, images);
    if (dense.size() != 2 * 10) return report_failure("dense logits have " + std::to_string(dense.size()) + " values, expected 20");

    pruning::PruneContext ctx;
    const auto steps = pruning::apply_all(model, pruning::parse_steps("blocks:l2:k=1,mlp:magnitude:keep=0.5"), ctx);
    if (steps.size() != 2 || model.config().depth() != 2 || model.config().blocks[0].mlp_hidden != 32)
      return report_failure("pruned model has depth " + std::to_string(model.config().depth()) + ", expected 2 blocks of MLP 32");
    const std::vector<float> pruned = logits(model, images);

    const std::string path =
        (std::filesystem::temp_directory_path() / "shears_consumer_pruned.safetensors").string();
    nn::save_model(path, model);
    auto reloaded = pruning::load_model(path);
    std::filesystem::remove(path);
    if (reloaded->config().to_json() != model.config().to_json()) return report_failure("reloaded config differs");
    if (reloaded->prune_log.size() != 2) return report_failure("reloaded prune log has " + std::to_string(reloaded->prune_log.size()) + " steps, expected 2");
    if (logits(*reloaded, images) != pruned) return report_failure("reloaded logits differ from the pruned model's");
    std::printf("consumer: ok (ViT %lld -> %lld blocks, MLP 64 -> %lld, %zu logits reloaded bit-identical)\n",
                (long long)cfg.depth(), (long long)reloaded->config().depth(),
                (long long)reloaded->config().blocks[0].mlp_hidden, pruned.size());
    return 0;
  } catch (const std::exception& e) {
    return report_failure(e.what());
  }
}
