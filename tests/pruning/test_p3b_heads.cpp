// P3B's Block Performance Indicator heads: ΔΨ_cls on a hand-built case (cls head weights set by hand,
// cross-entropies in closed form), the loss as the sum of the four head losses, gradients reaching the
// heads and never the features, the patch_width/patch_layers options, MACs and shape errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <set>

#include "autograd/ops.h"
#include "pruning/p3b_heads.h"

using namespace shears;
using shears::pruning::BlockPerformanceHeads;
using shears::pruning::BpiHeadOptions;

namespace {

Tensor labels_01() { return from_vector(std::vector<int64_t>{0, 1}); }
std::function<Tensor(const Tensor&)> ce_on(const Tensor& labels) {
  return [labels](const Tensor& logits) { return cross_entropy(logits, labels); };
}
// (B, 1 + grid^2, dim) with the given cls rows (B x dim values) and random patch tokens
Tensor feature(const std::vector<float>& cls_rows, int64_t batch, int64_t grid, int64_t dim, uint64_t seed) {
  Generator g(seed);
  Tensor f = uniform({batch, 1 + grid * grid, dim}, -1.0, 1.0, DType::F32, &g);
  kernels::copy_(kernels::narrow(f, 1, 0, 1), from_vector(cls_rows, {batch, 1, dim}));
  return f;
}
void set_identity_cls_head(nn::Linear& lin, float scale) {
  kernels::copy_(lin.weight, from_vector(std::vector<float>{scale, 0, 0, scale}, {2, 2}));
  kernels::fill_(lin.bias, 0.0);
}
// CE of 2-class logits (l0, l1) against label y
double ce2(double l0, double l1, int y) { return std::log(std::exp(l0) + std::exp(l1)) - (y == 0 ? l0 : l1); }

}  // namespace

TEST_CASE("BPI heads: delta_cls in closed form, loss = sum of the four head losses", "[p3b_heads]") {
  const int64_t B = 2, grid = 2, dim = 2;
  BpiHeadOptions opt;
  opt.patch_width = 3;
  BlockPerformanceHeads heads(2, dim, grid, 2, opt, 7);
  set_identity_cls_head(heads.cls_head(0), 1.0f);
  set_identity_cls_head(heads.cls_head(1), 2.0f);
  // cls rows: x0 uninformative, x1 right with margins 1 and 2, x2 wrong for sample 1
  std::vector<Tensor> f = {feature({0, 0, 0, 0}, B, grid, dim, 1), feature({1, 0, 0, 2}, B, grid, dim, 2),
                           feature({1, 0, 1, 0}, B, grid, dim, 3)};
  BlockPerformanceHeads::Result r = heads.evaluate(f, ce_on(labels_01()));
  REQUIRE(r.delta_cls.size() == 2);
  REQUIRE(r.delta_patch.size() == 2);
  // head 0 (identity): x0 -> log 2 for both; x1 -> logits (1, 0) label 0, (0, 2) label 1
  const double ce0_in = std::log(2.0), ce0_out = 0.5 * (ce2(1, 0, 0) + ce2(0, 2, 1));
  CHECK(r.delta_cls[0] == Approx(ce0_in - ce0_out).epsilon(1e-6));
  // head 1 (2 x identity) on x1 -> (2, 0), (0, 4); on x2 -> (2, 0) label 0, (2, 0) label 1
  const double ce1_in = 0.5 * (ce2(2, 0, 0) + ce2(0, 4, 1)), ce1_out = 0.5 * (ce2(2, 0, 0) + ce2(2, 0, 1));
  CHECK(r.delta_cls[1] == Approx(ce1_in - ce1_out).epsilon(1e-6));
  CHECK(r.delta_cls[0] > 0);  // the block helped the cls token
  CHECK(r.delta_cls[1] < 0);  // this one hurt it
  // patch losses recomputed by calling the patch heads directly (batch statistics: same values)
  double patch_sum = 0.0;
  for (int64_t j = 0; j < 2; ++j) {
    double ce[2];
    for (int side = 0; side < 2; ++side) {
      NoGradGuard ng;
      Tensor grid_tokens = reshape(narrow(f[j + side], 1, 1, grid * grid), {B, grid, grid, dim});
      ce[side] = cross_entropy(heads.patch_head(j).forward(grid_tokens), labels_01()).item<double>();
    }
    CHECK(r.delta_patch[j] == Approx(ce[0] - ce[1]).margin(1e-6));
    patch_sum += ce[0] + ce[1];
  }
  CHECK(r.loss.dim() == 0);
  CHECK(r.loss.item<double>() == Approx(ce0_in + ce0_out + ce1_in + ce1_out + patch_sum).epsilon(1e-6));
}

TEST_CASE("BPI heads: gradients reach every head parameter and never the features", "[p3b_heads]") {
  const int64_t B = 4, grid = 3, dim = 4;
  Generator g(5);
  Tensor backbone = uniform({B, 1 + grid * grid, dim}, -1.0, 1.0, DType::F32, &g).set_requires_grad(true);
  std::vector<Tensor> f = {backbone * 1.0, backbone * 2.0, relu(backbone)};  // graph to `backbone`
  BlockPerformanceHeads heads(2, dim, grid, 3, BpiHeadOptions(), 11);
  const Tensor labels = from_vector(std::vector<int64_t>{0, 1, 2, 1});
  BlockPerformanceHeads::Result r = heads.evaluate(f, ce_on(labels));
  REQUIRE(r.loss.requires_grad());
  backward(r.loss);
  CHECK_FALSE(backbone.grad().defined());
  const auto params = heads.named_parameters();
  CHECK(params.size() == 2 * (2 + 2 * 3 + 2));  // per sub-block: cls W,b; 2 x (conv W, BN w, b); fc W,b
  for (const auto& [name, p] : params) {
    INFO(name);
    REQUIRE(p.grad().defined());
    CHECK(kernels::reduce(kernels::ReduceOp::Max, kernels::unary(kernels::UnaryOp::Abs, p.grad()), {}, false)
              .item<double>() > 0.0);
  }
}

TEST_CASE("BPI heads: patch_width and patch_layers set the conv widths, names and MACs", "[p3b_heads]") {
  const int64_t dim = 8, grid = 3, classes = 4;
  BlockPerformanceHeads paper(2, dim, grid, classes, BpiHeadOptions(), 1);
  CHECK(paper.patch_width() == dim);
  CHECK(paper.patch_head(1).convs.size() == 2);
  CHECK(paper.patch_head(1).convs[1]->weight.shape() == Shape{dim, dim, 3, 3});
  CHECK(paper.patch_head(1).fc->weight.shape() == Shape{classes, dim});
  CHECK_FALSE(paper.patch_head(0).convs[0]->bias.defined());

  BpiHeadOptions light;
  light.patch_width = 5;
  light.patch_layers = 3;
  BlockPerformanceHeads heads(2, dim, grid, classes, light, 1);
  REQUIRE(heads.patch_head(0).convs.size() == 3);
  CHECK(heads.patch_head(0).convs[0]->weight.shape() == Shape{5, dim, 3, 3});
  CHECK(heads.patch_head(0).convs[2]->weight.shape() == Shape{5, 5, 3, 3});
  CHECK(heads.patch_head(0).norms[2]->channels() == 5);
  CHECK(heads.patch_head(0).fc->weight.shape() == Shape{classes, 5});
  CHECK(heads.cls_head(1).weight.shape() == Shape{classes, dim});
  std::set<std::string> names;
  for (const auto& p : heads.named_parameters()) names.insert(p.first);
  CHECK(names.count("cls_heads.1.weight") == 1);
  CHECK(names.count("patch_heads.0.convs.2.weight") == 1);
  CHECK(names.count("patch_heads.1.norms.0.bias") == 1);
  CHECK(names.count("patch_heads.1.fc.weight") == 1);
  // per sub-block and side: cls 8*4 + convs 9*9*(8*5 + 5*5 + 5*5) + fc 5*4
  CHECK(heads.macs_per_image() == 2 * 2 * (32 + 81 * (40 + 25 + 25) + 20));
  // paper setting: two dim x dim convs
  CHECK(paper.macs_per_image() == 2 * 2 * (32 + 81 * (64 + 64) + 32));
  // heads are distinct draws (one generator over all heads), and the seed reproduces them
  BlockPerformanceHeads again(2, dim, grid, classes, light, 1);
  CHECK(heads.cls_head(0).weight.to_vector<float>() == again.cls_head(0).weight.to_vector<float>());
  CHECK(heads.cls_head(0).weight.to_vector<float>() != heads.cls_head(1).weight.to_vector<float>());
  // PyTorch's default init: |w| <= 1/sqrt(fan_in)
  for (float w : heads.patch_head(0).convs[1]->weight.to_vector<float>()) CHECK(std::fabs(w) <= 1.0 / std::sqrt(45.0));
}

TEST_CASE("BPI heads: bad feature maps and options give clear errors", "[p3b_heads]") {
  using Catch::Contains;
  const int64_t grid = 2, dim = 3;
  BlockPerformanceHeads heads(2, dim, grid, 2, BpiHeadOptions(), 3);
  auto crit = ce_on(labels_01());
  auto feat = [&](int64_t b, int64_t n, int64_t d) { return zeros({b, n, d}); };
  REQUIRE_THROWS_WITH(heads.evaluate({feat(2, 5, 3), feat(2, 5, 3)}, crit),
                      Contains("[BlockPerformanceHeads]") && Contains("expected 3 feature maps"));
  // no cls token (or tokens pruned): 4 tokens where 1 + 2x2 = 5 are expected
  REQUIRE_THROWS_WITH(heads.evaluate({feat(2, 5, 3), feat(2, 4, 3), feat(2, 5, 3)}, crit),
                      Contains("feature map 1 has shape (2, 4, 3)") && Contains("(B, 5, 3)") &&
                          Contains("cls token") && Contains("token pruning"));
  REQUIRE_THROWS_WITH(heads.evaluate({feat(2, 5, 3), feat(2, 5, 4), feat(2, 5, 3)}, crit), Contains("(B, 5, 3)"));
  REQUIRE_THROWS_WITH(heads.evaluate({feat(2, 5, 3), feat(2, 5, 3), feat(3, 5, 3)}, crit),
                      Contains("feature map 2") && Contains("batch size 2"));
  REQUIRE_THROWS_WITH(heads.evaluate({feat(1, 5, 3), feat(1, 5, 3), feat(1, 5, 3)}, crit),
                      Contains("at least 2 images"));
  REQUIRE_THROWS_WITH(heads.evaluate({feat(2, 5, 3), feat(2, 5, 3), feat(2, 5, 3)},
                                     [](const Tensor& logits) { return logits; }),
                      Contains("scalar loss"));
  BpiHeadOptions bad;
  bad.patch_layers = 0;
  REQUIRE_THROWS_WITH(BlockPerformanceHeads(2, dim, grid, 2, bad, 3), Contains("layers"));
  bad = BpiHeadOptions();
  bad.patch_width = -1;
  REQUIRE_THROWS_WITH(BlockPerformanceHeads(2, dim, grid, 2, bad, 3), Contains("width"));
}
