// P3B's Block Performance Indicator heads (see p3b_heads.h). Layout as the authors' FeaturemapAnalyseHead:
// nn.Linear cls heads, patch heads Sequential(Conv3x3 no bias, BatchNorm2d, ReLU) x 2 + timm ClassifierHead,
// all with PyTorch's default initialisation; each head is called separately on x_j and x_{j+1}.
#include "pruning/p3b_heads.h"

#include <string>

#include "autograd/ops.h"

namespace shears::pruning {

namespace {

constexpr const char* kWhere = "BlockPerformanceHeads";

// nn::Linear with PyTorch's default nn.Linear init (the authors' heads are plain torch modules, not timm-initialised)
std::shared_ptr<nn::Linear> torch_linear(int64_t in, int64_t out, Generator& gen) {
  Generator unused(0);
  auto lin = std::make_shared<nn::Linear>(in, out, true, unused);
  lin->weight = nn::torch_default_uniform({out, in}, in, gen);
  lin->weight.set_requires_grad(true);
  lin->bias = nn::torch_default_uniform({out}, in, gen);
  lin->bias.set_requires_grad(true);
  return lin;
}

}  // namespace

PatchHead::PatchHead(int64_t dim, int64_t width, int64_t layers, int64_t num_classes, Generator& gen) {
  int64_t in = dim;
  for (int64_t l = 0; l < layers; ++l) {
    convs.push_back(std::make_shared<nn::Conv2d>(in, width, 3, false, gen));
    norms.push_back(std::make_shared<nn::BatchNorm>(width));
    register_module("convs." + std::to_string(l), convs.back());
    register_module("norms." + std::to_string(l), norms.back());
    in = width;
  }
  fc = torch_linear(in, num_classes, gen);
  register_module("fc", fc);
}

Tensor PatchHead::forward(const Tensor& grid_tokens) {
  Tensor h = grid_tokens;
  for (size_t l = 0; l < convs.size(); ++l) h = relu(norms[l]->forward(convs[l]->forward(h)));
  return fc->forward(mean(h, {1, 2}));  // global average pool over the grid -> (B, width)
}

BlockPerformanceHeads::BlockPerformanceHeads(int64_t sub_blocks, int64_t dim, int64_t grid, int64_t num_classes,
                                             const BpiHeadOptions& opt, uint64_t seed)
    : dim_(dim), grid_(grid), num_classes_(num_classes), width_(opt.patch_width == 0 ? dim : opt.patch_width),
      layers_(opt.patch_layers) {
  SHEARS_CHECK(sub_blocks >= 1 && dim >= 1 && grid >= 1 && num_classes >= 1, kWhere,
               "expected sub_blocks, dim, grid and num_classes >= 1, got ", sub_blocks, ", ", dim, ", ", grid, ", ",
               num_classes);
  SHEARS_CHECK(opt.patch_width >= 0 && opt.patch_layers >= 1, kWhere, "patch head width ", opt.patch_width,
               " / layers ", opt.patch_layers, " invalid (width >= 0 with 0 = model width, layers >= 1)");
  Generator gen(seed);
  for (int64_t j = 0; j < sub_blocks; ++j) {
    cls_heads_.push_back(torch_linear(dim, num_classes, gen));
    register_module("cls_heads." + std::to_string(j), cls_heads_.back());
  }
  for (int64_t j = 0; j < sub_blocks; ++j) {
    patch_heads_.push_back(std::make_shared<PatchHead>(dim, width_, layers_, num_classes, gen));
    register_module("patch_heads." + std::to_string(j), patch_heads_.back());
  }
}

int64_t BlockPerformanceHeads::macs_per_image() const {
  const int64_t cells = grid_ * grid_;
  int64_t patch = 0, in = dim_;
  for (int64_t l = 0; l < layers_; ++l, in = width_) patch += cells * 9 * in * width_;
  patch += width_ * num_classes_;
  const int64_t cls = dim_ * num_classes_;
  return sub_blocks() * 2 * (cls + patch);  // each head runs on the sub-block's input and output
}

BlockPerformanceHeads::Result BlockPerformanceHeads::evaluate(
    const std::vector<Tensor>& features, const std::function<Tensor(const Tensor& logits)>& criterion) {
  const int64_t S = sub_blocks(), tokens = 1 + grid_ * grid_;
  SHEARS_CHECK(static_cast<int64_t>(features.size()) == S + 1, kWhere, "expected ", S + 1,
               " feature maps (the embeddings and the output of each of ", S, " sub-blocks), got ", features.size());
  SHEARS_CHECK(static_cast<bool>(criterion), kWhere, "no criterion given");
  int64_t batch = -1;
  for (size_t i = 0; i < features.size(); ++i) {
    const Tensor& f = features[i];
    SHEARS_CHECK(f.defined(), kWhere, "feature map ", i, " is undefined");
    const bool ok = f.dim() == 3 && f.size(1) == tokens && f.size(2) == dim_ && (batch < 0 || f.size(0) == batch);
    SHEARS_CHECK(ok, kWhere, "feature map ", i, " has shape ", shape_str(f.shape()), " but the heads expect (B, ",
                 tokens, ", ", dim_, "): a cls token followed by the full ", grid_, "x", grid_,
                 " patch grid (no token pruning, no other extra tokens)", batch >= 0 ? " and the batch size " : "",
                 batch >= 0 ? std::to_string(batch) : std::string());
    SHEARS_CHECK(f.size(0) >= 2, kWhere, "feature map ", i, " has batch size ", f.size(0),
                 "; the patch heads' BatchNorm needs at least 2 images");
    batch = f.size(0);
  }
  auto scalar_loss = [&](const Tensor& logits, const char* what, int64_t j) {
    Tensor l = criterion(logits);
    SHEARS_CHECK(l.defined() && l.numel() == 1, kWhere, "the criterion must return a scalar loss, got ",
                 l.defined() ? shape_str(l.shape()) : std::string("an undefined tensor"), " for the ", what,
                 " head of sub-block ", j);
    return reshape(l, {});
  };
  Result r;
  r.delta_cls.resize(static_cast<size_t>(S));
  r.delta_patch.resize(static_cast<size_t>(S));
  TensorList losses;
  for (int64_t j = 0; j < S; ++j) {
    Tensor ce[2][2];  // [cls/patch][in/out]
    for (int side = 0; side < 2; ++side) {
      Tensor x = detach(features[static_cast<size_t>(j + side)]);
      Tensor cls_logits = cls_heads_[static_cast<size_t>(j)]->forward(squeeze(narrow(x, 1, 0, 1), 1));
      ce[0][side] = scalar_loss(cls_logits, "cls", j);
      Tensor grid = reshape(narrow(x, 1, 1, grid_ * grid_), {batch, grid_, grid_, dim_});
      Tensor patch_logits = patch_heads_[static_cast<size_t>(j)]->forward(grid);
      ce[1][side] = scalar_loss(patch_logits, "patch", j);
      losses.push_back(ce[0][side]);
      losses.push_back(ce[1][side]);
    }
    r.delta_cls[static_cast<size_t>(j)] = ce[0][0].item<double>() - ce[0][1].item<double>();
    r.delta_patch[static_cast<size_t>(j)] = ce[1][0].item<double>() - ce[1][1].item<double>();
  }
  r.loss = sum(stack(losses, 0));
  return r;
}

}  // namespace shears::pruning
