// VideoMAE pretraining model (see videomae_pretrain.h).
#include "nn/videomae_pretrain.h"

#include "autograd/ops.h"
#include "nn/init.h"

namespace shears::nn {

Tensor tube_mask(int64_t batch, const ModelConfig& cfg, double ratio, Generator& gen) {
  const int64_t cells = cfg.grid() * cfg.grid(), nt = cfg.frames / cfg.tubelet;
  const int64_t masked = static_cast<int64_t>(ratio * double(cells));
  SHEARS_CHECK(masked >= 0 && masked < cells, "tube_mask", "mask ratio ", ratio, " leaves no visible cell of ", cells);
  Tensor mask = zeros({batch, nt * cells}, DType::Bool);
  bool* m = mask.data<bool>();
  for (int64_t b = 0; b < batch; ++b) {
    Tensor perm = randperm(cells, &gen);
    const int64_t* p = perm.data<int64_t>();
    for (int64_t i = 0; i < masked; ++i)
      for (int64_t t = 0; t < nt; ++t) m[b * nt * cells + t * cells + p[i]] = true;
  }
  return mask;
}

VideoMAEPretrain::VideoMAEPretrain(const PretrainConfig& c, uint64_t seed) : cfg(c) {
  const ModelConfig& e = cfg.encoder;
  e.validate();
  SHEARS_CHECK(e.arch == "videomae", "videomae_pretrain", "encoder arch must be 'videomae', got '", e.arch, "'");
  Generator gen(seed);
  const QkvBias bias = e.qkv_bias ? QkvBias::QV : QkvBias::None;
  encoder = std::make_shared<Encoder>();
  encoder->patch_embed = std::make_shared<PatchEmbed>(e, gen);
  encoder->blocks = std::make_shared<BlockList>();
  for (int64_t i = 0; i < e.depth(); ++i) {
    double dp = e.depth() > 1 ? e.drop_path * double(i) / double(e.depth() - 1) : e.drop_path;
    encoder->blocks->push_back(std::make_shared<Block>(e.dim, e.blocks[i], bias, e.ln_eps, dp, gen));
  }
  encoder->norm = std::make_shared<LayerNorm>(e.dim, e.ln_eps);
  encoder->register_module("patch_embed", encoder->patch_embed);
  encoder->register_module("blocks", encoder->blocks);
  encoder->register_module("norm", encoder->norm);
  register_module("encoder", encoder);

  encoder_to_decoder = std::make_shared<Linear>(e.dim, cfg.decoder_dim, false, gen);
  register_module("encoder_to_decoder", encoder_to_decoder);
  mask_token = trunc_normal({1, 1, cfg.decoder_dim}, 0.02, gen);
  register_parameter("mask_token", &mask_token);

  decoder = std::make_shared<Decoder>();
  decoder->blocks = std::make_shared<BlockList>();
  BlockConfig dcfg{cfg.decoder_heads, cfg.decoder_dim / cfg.decoder_heads, cfg.decoder_mlp_hidden};
  for (int64_t i = 0; i < cfg.decoder_depth; ++i)
    decoder->blocks->push_back(std::make_shared<Block>(cfg.decoder_dim, dcfg, bias, e.ln_eps, 0.0, gen));
  decoder->norm = std::make_shared<LayerNorm>(cfg.decoder_dim, e.ln_eps);
  decoder->head = std::make_shared<Linear>(cfg.decoder_dim, e.patch_pixels(), true, gen);
  decoder->register_module("blocks", decoder->blocks);
  decoder->register_module("norm", decoder->norm);
  decoder->register_module("head", decoder->head);
  register_module("decoder", decoder);

  enc_pos = sinusoid_table(e.num_patches(), e.dim);
  dec_pos = sinusoid_table(e.num_patches(), cfg.decoder_dim);
  register_buffer("enc_pos", &enc_pos);
  register_buffer("dec_pos", &dec_pos);
}

Tensor VideoMAEPretrain::targets(const Tensor& clips) const {
  NoGradGuard no_grad;
  const ModelConfig& e = cfg.encoder;
  const int64_t B = clips.size(0), C = e.in_chans, t = e.tubelet, p = e.patch_size, g = e.grid();
  const int64_t nt = e.frames / t;
  // un-normalize to [0, 1]: x * std + mean per channel
  Tensor stdv = reshape(to_dtype(from_vector(e.std).to(clips.device()), clips.dtype()), {1, C, 1, 1, 1});
  Tensor meanv = reshape(to_dtype(from_vector(e.mean).to(clips.device()), clips.dtype()), {1, C, 1, 1, 1});
  Tensor x = clips * stdv + meanv;
  // 'b c (t p0) (h p1) (w p2) -> b (t h w) (p0 p1 p2) c'
  x = reshape(permute(reshape(x, {B, C, nt, t, g, p, g, p}), {0, 2, 4, 6, 3, 5, 7, 1}), {B, nt * g * g, t * p * p, C});
  if (cfg.norm_pixel_loss) {
    Tensor mu = mean(x, {2}, true);
    Tensor sd = sqrt(var(x, {2}, 1, true));
    x = (x - mu) / (sd + 1e-6);
  }
  return reshape(x, {B, nt * g * g, t * p * p * C});
}

namespace {
// Indices (B, k) of the positions where mask == value, ascending per row (equal counts required),
// on the mask's device (computed on the host).
Tensor positions(const Tensor& mask, bool value) {
  const int64_t B = mask.size(0), N = mask.size(1);
  const Tensor host_mask = mask.cpu();
  const bool* m = host_mask.data<bool>();
  int64_t k = 0;
  for (int64_t n = 0; n < N; ++n) k += m[n] == value;
  Tensor idx = Tensor::empty({B, k}, DType::I64);
  int64_t* ip = idx.data<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    int64_t c = 0;
    for (int64_t n = 0; n < N; ++n)
      if (m[b * N + n] == value) {
        SHEARS_CHECK(c < k, "videomae_pretrain", "every sample must mask the same number of tubelets");
        ip[b * k + c++] = n;
      }
    SHEARS_CHECK(c == k, "videomae_pretrain", "every sample must mask the same number of tubelets");
  }
  return idx.to(mask.device());
}

// rows of x (B, N, C) at idx (B, k) -> (B, k, C)
Tensor take_rows(const Tensor& x, const Tensor& idx) {
  return gather(x, 1, kernels::contiguous(kernels::expand(kernels::unsqueeze(idx, 2), {idx.size(0), idx.size(1), x.size(2)})));
}
}  // namespace

VideoMAEPretrain::Output VideoMAEPretrain::forward(const Tensor& clips, const Tensor& mask) {
  const ModelConfig& e = cfg.encoder;
  const int64_t B = clips.size(0), N = e.num_patches();
  SHEARS_CHECK(mask.dtype() == DType::Bool && mask.dim() == 2 && mask.size(0) == B && mask.size(1) == N,
               "videomae_pretrain", "expected a bool mask (", B, ", ", N, "), got ", shape_str(mask.shape()), " ",
               dtype_name(mask.dtype()));
  Tensor vis = positions(mask, false), msk = positions(mask, true);
  // encoder on visible tubelets
  Tensor x = encoder->patch_embed->forward(clips) + enc_pos;
  x = take_rows(x, vis);
  for (auto& b : encoder->blocks->items) x = b->forward(x);
  x = encoder->norm->forward(x);
  // decoder on [visible + pos, mask token + pos]
  x = encoder_to_decoder->forward(x);
  Tensor pos = expand(dec_pos, {B, N, cfg.decoder_dim});
  Tensor pos_vis = take_rows(pos, vis), pos_msk = take_rows(pos, msk);
  const int64_t nm = msk.size(1);
  Tensor full = concat({x + pos_vis, expand(mask_token, {B, nm, cfg.decoder_dim}) + pos_msk}, 1);
  for (auto& b : decoder->blocks->items) full = b->forward(full);
  Tensor tail = narrow(full, 1, full.size(1) - nm, nm);
  Output out;
  out.pred = decoder->head->forward(decoder->norm->forward(tail));
  out.target = take_rows(targets(clips), msk);
  Tensor diff = out.pred - out.target;
  out.loss = mean(diff * diff);
  return out;
}

}  // namespace shears::nn
