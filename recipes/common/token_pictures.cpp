// Token pruning figures (see token_pictures.h).
#include "common/token_pictures.h"

#include <algorithm>
#include <functional>

#include "autograd/ops.h"
#include "pruning/entropy.h"
#include "pruning/provenance.h"
#include "pruning/transform.h"

namespace shears::recipes {

namespace {

const char* kOp = "token_pictures";

void check_single_input(const nn::VisionTransformer& model, const Tensor& input) {
  const nn::ModelConfig c = model.config();
  SHEARS_CHECK(input.dim() == 4 && input.size(0) == 1 && input.size(1) == c.in_chans &&
                   input.size(2) == c.image_size && input.size(3) == c.image_size,
               kOp, "expected one preprocessed image of shape (1, ", c.in_chans, ", ", c.image_size, ", ",
               c.image_size, "), got ", shape_str(input.shape()));
}

}  // namespace

data::Image8 picture_of(const Tensor& image, int64_t scale) {
  SHEARS_CHECK(image.dim() == 3 && (image.size(0) == 1 || image.size(0) == 3), kOp,
               "expected an image (C, H, W) with C = 1 or 3, got ", shape_str(image.shape()));
  const int64_t C = image.size(0), H = image.size(1), W = image.size(2);
  const std::vector<float> chw = kernels::contiguous(kernels::to_dtype(image, DType::F32)).to_vector<float>();
  std::vector<float> hwc(size_t(H * W * C));
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < H * W; ++i) hwc[size_t(i * C + c)] = chw[size_t(c * H * W + i)];
  return data::upscale(data::to_rgb(data::to_image8(hwc, H, W, C)), scale);
}

std::vector<std::vector<float>> patch_entropy_per_block(nn::VisionTransformer& model, const Tensor& input,
                                                        const pruning::AttentionEntropyOptions& options) {
  check_single_input(model, input);
  std::vector<std::function<Tensor(const Tensor&, const Tensor&)>> hooks;
  for (auto& b : model.blocks->items) {
    hooks.push_back(b->token_hook);
    b->token_hook = nullptr;
    b->keep_attention = true;
  }
  const bool was_training = model.is_training();
  {
    NoGradGuard no_grad;
    model.eval();
    model.forward(input);
    model.train(was_training);
  }
  std::vector<std::vector<float>> out;
  for (size_t i = 0; i < model.blocks->size(); ++i) {
    auto& b = (*model.blocks)[i];
    const Tensor h = pruning::head_mean_attention_entropy(b->last_attention, options);  // (1, N)
    const std::vector<double> v = kernels::to_dtype(h, DType::F64).to_vector<double>();
    out.emplace_back(v.begin() + (model.cls_token.defined() ? 1 : 0), v.end());
    b->keep_attention = false;
    b->last_attention = Tensor();
    b->token_hook = hooks[i];
  }
  return out;
}

KeptPatches kept_patches_per_pruning_block(const nn::VisionTransformer& model, const Tensor& input,
                                           const pruning::TokenPruningConfig& config) {
  check_single_input(model, input);
  std::shared_ptr<nn::VisionTransformer> pruned = pruning::clone_model(model);
  pruning::remove_token_pruning(*pruned);
  pruning::PruneContext ctx;
  pruning::apply_all(*pruned, {std::make_shared<pruning::TokenPruningTransform>(config)}, ctx);
  std::shared_ptr<pruning::TokenPruning> tp = pruning::find_token_pruning(*pruned);
  {
    NoGradGuard no_grad;
    pruned->eval();
    pruned->forward(input);
  }
  KeptPatches out;
  out.blocks = tp->locations();
  out.fused = tp->fuse();
  for (const auto& rec : tp->last_records()) {
    std::vector<int64_t> kept;
    for (int64_t p : rec.kept_patches.at(0))
      if (p >= 0) kept.push_back(p);
    out.kept.push_back(kept);
  }
  return out;
}

data::Image8 entropy_figure(const data::Image8& picture, const std::vector<std::vector<float>>& entropies,
                            int64_t grid, int64_t gap) {
  SHEARS_CHECK(grid >= 1 && picture.height % grid == 0 && picture.width == picture.height, kOp,
               "the picture (", picture.height, "x", picture.width, ") must be square and a multiple of the grid ",
               grid);
  const data::Image8 rgb = data::to_rgb(picture);
  std::vector<data::Image8> heat, blend;
  for (const auto& e : entropies) {
    SHEARS_CHECK(int64_t(e.size()) == grid * grid, kOp, "expected ", grid * grid, " patch entropies, got ", e.size());
    data::Image8 h = data::upscale(data::colorize(e, grid, grid), picture.height / grid);
    data::Image8 m = h;
    for (size_t i = 0; i < m.pixels.size(); ++i)
      m.pixels[i] = uint8_t(0.55 * h.pixels[i] + 0.45 * rgb.pixels[i] + 0.5);
    heat.push_back(std::move(h));
    blend.push_back(std::move(m));
  }
  std::vector<data::Image8> cells = {rgb};
  cells.insert(cells.end(), heat.begin(), heat.end());
  cells.push_back(rgb);
  cells.insert(cells.end(), blend.begin(), blend.end());
  return data::tile(cells, int64_t(entropies.size()) + 1, gap);
}

data::Image8 kept_patch_picture(const data::Image8& picture, int64_t grid, const std::vector<int64_t>& kept) {
  data::Image8 out = data::to_rgb(picture);
  const int64_t cell = out.height / grid;
  std::vector<char> keep(size_t(grid * grid), 0);
  for (int64_t p : kept) {
    SHEARS_CHECK(p >= 0 && p < grid * grid, kOp, "kept patch ", p, " is outside the ", grid, "x", grid, " grid");
    keep[size_t(p)] = 1;
  }
  for (int64_t y = 0; y < out.height; ++y)
    for (int64_t x = 0; x < out.width; ++x) {
      const int64_t p = std::min(y / cell, grid - 1) * grid + std::min(x / cell, grid - 1);
      if (keep[size_t(p)]) continue;
      uint8_t* px = out.at(y, x);
      px[0] = uint8_t(std::min(255, px[0] / 4 + 60));
      px[1] = uint8_t(px[1] / 4);
      px[2] = uint8_t(px[2] / 4);
    }
  return out;
}

data::Image8 kept_patches_figure(const data::Image8& picture, int64_t grid,
                                 const std::vector<std::vector<std::vector<int64_t>>>& kept_per_policy,
                                 int64_t gap) {
  SHEARS_CHECK(!kept_per_policy.empty(), kOp, "no policy to draw");
  const size_t stages = kept_per_policy.front().size();
  std::vector<data::Image8> cells;
  for (const auto& policy : kept_per_policy) {
    SHEARS_CHECK(policy.size() == stages, kOp, "every policy needs the same number of pruning blocks");
    cells.push_back(data::to_rgb(picture));
    for (const auto& kept : policy) cells.push_back(kept_patch_picture(picture, grid, kept));
  }
  return data::tile(cells, int64_t(stages) + 1, gap);
}

}  // namespace shears::recipes
