// VideoMAE masked pretraining (modeling_pretrain.py): tube masking, an encoder that sees
// only the visible tubelets (patch embed + fixed sinusoid + blocks + norm), a linear
// encoder_to_decoder, a learned mask token, a narrow decoder (blocks + norm + head) that
// predicts per-tubelet normalized pixels of the masked tubelets, and the MSE loss.
// Parameter names follow the original checkpoints: encoder.blocks.0.attn.qkv.weight,
// encoder_to_decoder.weight, mask_token, decoder.blocks.0..., decoder.head.weight.
#pragma once
#include <memory>

#include "nn/vision_transformer.h"

namespace shears::nn {

struct PretrainConfig {
  ModelConfig encoder;             // arch "videomae"; num_classes is ignored
  int64_t decoder_dim = 384;
  int64_t decoder_depth = 4;
  int64_t decoder_heads = 6;
  int64_t decoder_mlp_hidden = 1536;
  double mask_ratio = 0.9;
  bool norm_pixel_loss = true;     // per-tubelet normalized targets
};

// (B, N) bool masks, true = masked: per sample, int(ratio * g*g) cells of the g x g grid
// chosen at random and repeated over all T/t temporal positions (TubeMaskingGenerator).
Tensor tube_mask(int64_t batch, const ModelConfig& cfg, double ratio, Generator& gen);

class VideoMAEPretrain : public Module {
 public:
  explicit VideoMAEPretrain(const PretrainConfig& cfg, uint64_t seed = 0);

  struct Output {
    Tensor loss;   // scalar MSE over masked tubelets
    Tensor pred;   // (B, N_masked, t*p*p*C) predictions
    Tensor target; // (B, N_masked, t*p*p*C) normalized pixels (no gradient)
  };
  // clips: (B, C, T, H, W) normalized with cfg.encoder.mean/std; mask: (B, N) bool
  Output forward(const Tensor& clips, const Tensor& mask);
  // Targets for all tubelets (B, N, t*p*p*C), order (dt, ph, pw, c) as in the original.
  Tensor targets(const Tensor& clips) const;

  struct Encoder : Module {
    std::shared_ptr<PatchEmbed> patch_embed;
    std::shared_ptr<BlockList> blocks;
    std::shared_ptr<LayerNorm> norm;
  };
  struct Decoder : Module {
    std::shared_ptr<BlockList> blocks;
    std::shared_ptr<LayerNorm> norm;
    std::shared_ptr<Linear> head;
  };
  std::shared_ptr<Encoder> encoder;
  std::shared_ptr<Linear> encoder_to_decoder;
  Tensor mask_token;  // (1, 1, decoder_dim)
  std::shared_ptr<Decoder> decoder;
  Tensor enc_pos, dec_pos;  // fixed sinusoid tables (1, N, dim)
  PretrainConfig cfg;
};

}  // namespace shears::nn
