// VisionTransformer, PatchEmbed and BlockList (see vision_transformer.h).
#include "nn/vision_transformer.h"

#include <algorithm>
#include <cmath>

#include "autograd/ops.h"
#include "nn/init.h"

namespace shears::nn {

PatchEmbed::Proj::Proj(Tensor w, Tensor b) : weight(std::move(w)), bias(std::move(b)) {
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

PatchEmbed::PatchEmbed(const ModelConfig& cfg, Generator& gen)
    : in_chans(cfg.in_chans), patch(cfg.patch_size), tubelet(cfg.tubelet), frames(cfg.frames),
      image_size(cfg.image_size), dim(cfg.dim) {
  Shape wshape = cfg.arch == "videomae" ? Shape{dim, in_chans, tubelet, patch, patch}
                                         : Shape{dim, cfg.embed_chans(), patch, patch};
  if (cfg.stem_channels > 0) {  // PyTorch's Conv2d default init, drawn before the projection's
    const int64_t fan_in = in_chans * 9;
    stem = std::make_shared<Proj>(torch_default_uniform({cfg.stem_channels, in_chans, 3, 3}, fan_in, gen),
                                  torch_default_uniform({cfg.stem_channels}, fan_in, gen));
    register_module("stem", stem);
    for (int64_t k = 1; k < cfg.stem_depth; ++k) {
      stem_convs.push_back(std::make_shared<Conv2d>(cfg.stem_channels, cfg.stem_channels, 3, true, gen));
      register_module("stem_conv" + std::to_string(k), stem_convs.back());
    }
  }
  proj = std::make_shared<Proj>(trunc_normal(wshape, 0.02, gen), zeros({dim}));
  register_module("proj", proj);
}

Tensor PatchEmbed::stem_forward(const Tensor& x) const {
  SHEARS_CHECK(stem_convs.empty() || x.device().is_cpu(), "patch_embed",
               "a stem of more than one layer (stem_depth ", stem_convs.size() + 1,
               ") runs its further layers with the host's conv2d op; this model's input is on ", x.device().str(),
               ": run it on the cpu");
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  // zero padding of one pixel on each side
  Tensor zr = zeros({B, C, 1, W}, x.dtype(), x.device());
  Tensor xp = concat({zr, x, zr}, 2);
  Tensor zc = zeros({B, C, H + 2, 1}, x.dtype(), x.device());
  xp = concat({zc, xp, zc}, 3);
  // tap (ky, kx) of the kernel reads the input shifted by (ky - 1, kx - 1)
  TensorList taps;
  for (int64_t ky = 0; ky < 3; ++ky)
    for (int64_t kx = 0; kx < 3; ++kx) taps.push_back(narrow(narrow(xp, 2, ky, H), 3, kx, W));
  // (B, C, 9, H, W) -> (B, H, W, C * 9) in the weight's (c, ky, kx) order
  Tensor cols = reshape(permute(stack(taps, 2), {0, 3, 4, 1, 2}), {B, H, W, C * 9});
  const int64_t S = stem->weight.size(0);
  Tensor y = gelu(linear(cols, reshape(stem->weight, {S, C * 9}), stem->bias));
  for (const auto& conv : stem_convs) y = gelu(conv->forward(y));  // channels-last (B, H, W, S)
  return y;
}

Tensor PatchEmbed::forward(const Tensor& x) const {
  const int64_t g = image_size / patch;
  Tensor cols;
  if (proj->weight.dim() == 4) {  // images (B, C, H, W) -> (B, g*g, C*p*p), order (c, ph, pw)
    SHEARS_CHECK(x.dim() == 4 && x.size(1) == in_chans && x.size(2) == image_size && x.size(3) == image_size,
                 "patch_embed", "expected images (B, ", in_chans, ", ", image_size, ", ", image_size, "), got ",
                 shape_str(x.shape()));
    const int64_t B = x.size(0);
    if (stem) {  // (B, H, W, S) channels-last -> (B, g*g, S*p*p), order (s, ph, pw)
      const int64_t S = stem->weight.size(0);
      cols = reshape(permute(reshape(stem_forward(x), {B, g, patch, g, patch, S}), {0, 1, 3, 5, 2, 4}),
                     {B, g * g, S * patch * patch});
    } else {
      cols = reshape(permute(reshape(x, {B, in_chans, g, patch, g, patch}), {0, 2, 4, 1, 3, 5}),
                     {B, g * g, in_chans * patch * patch});
    }
  } else {  // clips (B, C, T, H, W) -> (B, T/t*g*g, C*t*p*p), order (c, dt, ph, pw)
    SHEARS_CHECK(x.dim() == 5 && x.size(1) == in_chans && x.size(2) == frames && x.size(3) == image_size &&
                     x.size(4) == image_size,
                 "patch_embed", "expected clips (B, ", in_chans, ", ", frames, ", ", image_size, ", ", image_size,
                 "), got ", shape_str(x.shape()));
    const int64_t B = x.size(0), nt = frames / tubelet;
    cols = reshape(permute(reshape(x, {B, in_chans, nt, tubelet, g, patch, g, patch}), {0, 2, 4, 6, 1, 3, 5, 7}),
                   {B, nt * g * g, in_chans * tubelet * patch * patch});
  }
  return linear(cols, reshape(proj->weight, {dim, -1}), proj->bias);
}

void BlockList::push_back(std::shared_ptr<Block> b) {
  register_module(std::to_string(items.size()), b);
  b->set_index(static_cast<int64_t>(items.size()));
  items.push_back(std::move(b));
}

void BlockList::assign(std::vector<std::shared_ptr<Block>> blocks) {
  for (auto& b : items) b->set_index(-1);  // blocks kept get their new index in push_back
  clear_modules();
  items.clear();
  for (auto& b : blocks) push_back(b);
}

Tensor sinusoid_table(int64_t n, int64_t dim) {
  Tensor t = Tensor::empty({1, n, dim}, DType::F32);
  float* p = t.data<float>();
  for (int64_t pos = 0; pos < n; ++pos)
    for (int64_t j = 0; j < dim; ++j) {
      double angle = double(pos) / std::pow(10000.0, 2.0 * double(j / 2) / double(dim));
      p[pos * dim + j] = static_cast<float>(j % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  return t;
}

VisionTransformer::VisionTransformer(const ModelConfig& cfg, uint64_t seed) : base_(cfg) {
  cfg.validate();
  Generator gen(seed);
  const bool video = cfg.arch == "videomae";
  patch_embed = std::make_shared<PatchEmbed>(cfg, gen);
  register_module("patch_embed", patch_embed);
  if (cfg.has_cls_token()) {
    cls_token = trunc_normal({1, 1, cfg.dim}, 0.02, gen);
    pos_embed = trunc_normal({1, cfg.num_tokens(), cfg.dim}, 0.02, gen);
    register_parameter("cls_token", &cls_token);
    register_parameter("pos_embed", &pos_embed);
  } else {
    pos_table = sinusoid_table(cfg.num_tokens(), cfg.dim);
    register_buffer("pos_table", &pos_table);
  }
  blocks = std::make_shared<BlockList>();
  const QkvBias bias = !cfg.qkv_bias ? QkvBias::None : (video ? QkvBias::QV : QkvBias::Full);
  const int64_t depth = cfg.depth();
  for (int64_t i = 0; i < depth; ++i) {
    double dp = depth > 1 ? cfg.drop_path * double(i) / double(depth - 1) : cfg.drop_path;  // linspace
    blocks->push_back(std::make_shared<Block>(cfg.dim, cfg.blocks[i], bias, cfg.ln_eps, dp, gen));
  }
  register_module("blocks", blocks);
  if (video) {
    fc_norm = std::make_shared<LayerNorm>(cfg.dim, cfg.resolved_fc_norm_eps());
    register_module("fc_norm", fc_norm);
  } else {
    norm = std::make_shared<LayerNorm>(cfg.dim, cfg.ln_eps);
    register_module("norm", norm);
  }
  if (cfg.num_classes > 0) {
    head = std::make_shared<Linear>(cfg.dim, cfg.num_classes, true, gen);
    register_module("head", head);
  }
}

Tensor VisionTransformer::embed(const Tensor& x) {
  Tensor tokens = patch_embed->forward(x);  // (B, P, dim)
  const int64_t B = tokens.size(0);
  if (cls_token.defined()) {
    tokens = concat({expand(cls_token, {B, 1, base_.dim}), tokens}, 1);
    return tokens + pos_embed;
  }
  return tokens + pos_table;
}

Tensor VisionTransformer::pool(const Tensor& tokens) {
  // timm norms every token and keeps the cls one; norming only the cls row is identical
  if (cls_token.defined()) return norm->forward(squeeze(narrow(tokens, 1, 0, 1), 1));
  return fc_norm->forward(mean(tokens, {1}));
}

Tensor VisionTransformer::forward_features(const Tensor& x) {
  Tensor t = embed(x);
  sub_block_features.clear();
  if (!keep_sub_block_features) {
    // evaluation: every residual add in the same pass as the layer norm that reads it (Block::forward_pending)
    const bool pending = std::all_of(blocks->items.begin(), blocks->items.end(),
                                     [](const auto& b) { return b->can_forward_pending(); });
    if (pending) {
      Block::Pending p{t, Tensor(), nullptr};
      for (auto& b : blocks->items) p = b->forward_pending(p);
      return pool(Block::resolve(p));
    }
    for (auto& b : blocks->items) t = b->forward(t);
    return pool(t);
  }
  sub_block_features.reserve(2 * blocks->size() + 1);
  sub_block_features.push_back(t);
  for (auto& b : blocks->items) {
    Tensor after_attention;
    t = b->forward(t, &after_attention);
    sub_block_features.push_back(after_attention);
    sub_block_features.push_back(t);
  }
  return pool(t);
}

Tensor VisionTransformer::forward(const Tensor& x) {
  Tensor f = forward_features(x);
  if (keep_last_features) last_features = f;
  return head ? head->forward(f) : f;
}

Tensor VisionTransformer::normalize(const Tensor& x) const {
  SHEARS_CHECK((x.dim() == 4 || x.dim() == 5) && x.size(1) == base_.in_chans, "normalize", "expected (B, ",
               base_.in_chans, ", ...) images or clips, got ", shape_str(x.shape()));
  Shape s(x.dim(), 1);
  s[1] = base_.in_chans;
  Tensor m = reshape(to_dtype(from_vector(base_.mean).to(x.device()), x.dtype()), s);
  Tensor inv = reshape(to_dtype(pow(from_vector(base_.std), -1.0).to(x.device()), x.dtype()), s);
  return (x - m) * inv;
}

ModelConfig VisionTransformer::config() const {
  ModelConfig c = base_;
  c.blocks.clear();
  for (auto& b : blocks->items) c.blocks.push_back(b->config());
  c.num_classes = head ? head->out_features() : 0;
  if (fc_norm && fc_norm->eps != c.resolved_fc_norm_eps()) c.fc_norm_eps = fc_norm->eps;  // set by an HF load
  return c;
}

}  // namespace shears::nn
