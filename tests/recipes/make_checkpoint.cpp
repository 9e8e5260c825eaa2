// Writes small synthetic checkpoints for the recipe tests (and a VideoMAE-B-shaped one for
// timing): a randomly initialised preset model saved as a shears checkpoint, or under Hugging
// Face VideoMAE names, optionally with one block's kernel matrices quantised to a coarse grid
// (so its weight entropy is the lowest), or a file without any block.
// Usage: make_checkpoint <out.safetensors> <preset> [--depth D] [--hf] [--quantize-block I] [--no-blocks]
#include <cmath>
#include <cstdio>
#include <string>

#include "nn/checkpoint.h"
#include "nn/io/hf_videomae.h"
#include "nn/io/safetensors.h"
#include "nn/io/state_dict.h"

using namespace shears;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <out.safetensors> <preset> [--depth D] [--hf] [--quantize-block I] [--no-blocks]\n",
                 argv[0]);
    return 2;
  }
  try {
    const std::string out = argv[1];
    nn::ModelConfig cfg = nn::preset(argv[2], 0);
    cfg.num_classes = cfg.arch == "videomae" ? 400 : 10;
    bool hf = false, no_blocks = false;
    int64_t quantize = -1;
    for (int i = 3; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--hf") hf = true;
      else if (a == "--no-blocks") no_blocks = true;
      else if (a == "--depth" && i + 1 < argc) cfg.blocks.resize(size_t(std::stoll(argv[++i])), cfg.blocks.front());
      else if (a == "--quantize-block" && i + 1 < argc) quantize = std::stoll(argv[++i]);
      else throw Error("unknown argument '" + a + "'");
    }
    nn::VisionTransformer model(cfg, 7);
    if (quantize >= 0) {
      nn::Block& b = *model.blocks->items.at(size_t(quantize));
      for (Tensor* w : {&b.attn->qkv->weight, &b.attn->proj->weight, &b.mlp->fc1->weight, &b.mlp->fc2->weight}) {
        float* p = w->data<float>();
        for (int64_t i = 0; i < w->numel(); ++i) p[i] = std::round(p[i] * 64.0f) / 64.0f;
      }
    }
    if (no_blocks) {
      nn::write_safetensors(out, {{"head.weight", model.head->weight}, {"norm.weight", model.norm ? model.norm->weight : model.fc_norm->weight}});
    } else if (hf) {
      nn::write_safetensors(out, nn::shears_to_hf_videomae(nn::state_dict(model)), {{"format", "pt"}});
    } else {
      nn::save_model(out, model);
    }
    std::printf("wrote %s (%s, %lld blocks%s)\n", out.c_str(), argv[2], (long long)cfg.depth(), hf ? ", HF names" : "");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
