// The CUDA backend end to end: moving tensors and modules between devices, the errors of mixed
// devices and of host code touching device memory, a ViT forward and one full training step
// (cross-entropy, backward, gradient clipping, AdamW) on the GPU against the same step on the
// host, and token pruning choosing the same tokens on both devices.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/ops.h"
#include "cuda_test_util.h"
#include "nn/vision_transformer.h"
#include "pruning/token_pruning.h"
#include "tensor/backend.h"
#include "train/adamw.h"
#include "train/schedule.h"

using namespace shears;
using shears::test::gpu;
using shears::test::host_randn;
using shears::test::require_close;

namespace {

Tensor labels_for(int64_t B) {
  std::vector<int64_t> y;
  for (int64_t i = 0; i < B; ++i) y.push_back((i * 7 + 3) % 10);
  return from_vector(y);
}

}  // namespace

TEST_CASE("tensors move between host and GPU unchanged, any dtype and layout", "[cuda]") {
  Tensor f = host_randn({3, 5, 7}, 1);
  Tensor d = host_randn({4, 6}, 2, DType::F64);
  Tensor i = from_vector(std::vector<int64_t>{5, -3, 9, 0});
  Tensor b = kernels::compare_scalar(kernels::CompareOp::Gt, f, 0.0);
  for (const Tensor& t : {f, d, i, b}) {
    Tensor g = t.to(gpu());
    CHECK(g.device() == gpu());
    CHECK(g.device().str() == "cuda:0");
    CHECK(g.cpu().device().is_cpu());
    shears::test::require_equal(g.cpu(), t);
  }
  Tensor view = kernels::transpose(kernels::slice(f, 1, 1, 5, 2), 0, 2);  // strided source
  shears::test::require_equal(view.to(gpu()).cpu(), kernels::contiguous(view));
  Tensor gv = kernels::transpose(f.to(gpu()), 0, 2);  // strided view on the device
  shears::test::require_equal(gv.cpu(), kernels::contiguous(kernels::transpose(f, 0, 2)));
  CHECK(f.to(Device::cpu()).is_same(f));
  CHECK(Tensor::empty({0, 3}, DType::F32, gpu()).cpu().numel() == 0);
}

TEST_CASE("mixed devices and host reads of device memory are errors naming the devices", "[cuda]") {
  Tensor a = host_randn({4, 4}, 3);
  Tensor g = a.to(gpu());
  try {
    add(a, g);
    FAIL("no error");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("cpu") != std::string::npos);
    CHECK(msg.find("cuda:0") != std::string::npos);
  }
  CHECK_THROWS_WITH(g.data<float>(), Catch::Contains("cuda:0") && Catch::Contains(".cpu()"));
  CHECK_THROWS_WITH(Tensor::empty({2}, DType::F32, Device::cuda(99)), Catch::Contains("cuda:99 does not exist"));
  // item / to_vector copy to the host by themselves
  CHECK(g.to_vector<float>() == a.to_vector<float>());
  CHECK(kernels::reduce(kernels::ReduceOp::Sum, g, {}, false).item<double>() ==
        Approx(kernels::reduce(kernels::ReduceOp::Sum, a, {}, false).item<double>()).epsilon(1e-5));
}

TEST_CASE("Module::to moves parameters in place, a ViT forward on the GPU matches the host", "[cuda]") {
  nn::VisionTransformer host(test::small_vit(2), 7), dev(test::small_vit(2), 7);
  Tensor pos = dev.pos_embed;  // a handle taken before the move sees the moved storage
  dev.to(gpu());
  CHECK(dev.device() == gpu());
  CHECK(pos.device() == gpu());
  for (auto& [name, p] : dev.named_parameters()) CHECK(p.device() == gpu());
  host.eval();
  dev.eval();
  Tensor x = host_randn({4, 3, 32, 32}, 11);
  NoGradGuard no_grad;
  require_close(dev.forward(x.to(gpu())), host.forward(x), 1e-4, 1e-5, "logits");
  dev.to(Device::cpu());
  require_close(dev.forward(x), host.forward(x), 1e-4, 1e-5, "logits after moving back");
}

TEST_CASE("a ViT with a conv stem: forward and input gradient on the GPU match the host", "[cuda]") {
  nn::ModelConfig cfg = test::small_vit(1);
  cfg.stem_channels = 8;  // built from concat / narrow / stack / linear / gelu: no conv kernel needed
  nn::VisionTransformer host(cfg, 3), dev(cfg, 3);
  dev.to(gpu());
  host.eval();
  dev.eval();
  Tensor xh = host_randn({2, 3, 32, 32}, 12), xd = host_randn({2, 3, 32, 32}, 12).to(gpu());
  xh.set_requires_grad(true);
  xd.set_requires_grad(true);
  Tensor yh = host.forward(xh), yd = dev.forward(xd);
  require_close(yd, yh, 1e-4, 1e-5, "logits");
  backward(sum(yh));
  backward(sum(yd));
  require_close(xd.grad(), xh.grad(), 1e-4, 1e-5, "input gradient through the stem");
}

TEST_CASE("one ViT training step on the GPU matches the host step within 1e-4", "[cuda]") {
  nn::VisionTransformer host(test::small_vit(2), 5), dev(test::small_vit(2), 5);
  dev.to(gpu());
  host.train();
  dev.train();
  train::AdamWOptions o;
  o.lr = 1e-3;
  train::AdamW opt_h(train::decay_groups(host, 0.05, {}), o), opt_d(train::decay_groups(dev, 0.05, {}), o);
  const int64_t B = 8;
  Tensor x = host_randn({B, 3, 32, 32}, 21);
  Tensor y = labels_for(B);
  double loss_h = 0, loss_d = 0;
  for (int step = 0; step < 2; ++step) {
    opt_h.zero_grad();
    opt_d.zero_grad();
    Tensor lh = cross_entropy(host.forward(x), y, 0.1);
    Tensor ld = cross_entropy(dev.forward(x.to(gpu())), y.to(gpu()), 0.1);
    CHECK(ld.device() == gpu());
    loss_h = lh.item<double>();
    loss_d = ld.item<double>();
    CHECK(loss_d == Approx(loss_h).epsilon(1e-5));
    backward(lh);
    backward(ld);
    auto ph = host.named_parameters(), pd = dev.named_parameters();
    REQUIRE(ph.size() == pd.size());
    for (size_t k = 0; k < ph.size(); ++k)
      require_close(pd[k].second.grad(), ph[k].second.grad(), 1e-4, 1e-6, "grad of " + ph[k].first);
    const double nh = train::clip_grad_norm(host.parameters(), 0.5);
    const double nd = train::clip_grad_norm(dev.parameters(), 0.5);
    CHECK(nd == Approx(nh).epsilon(1e-5));
    opt_h.step();
    opt_d.step();
    // Weights: 1e-4 relative, plus 2e-3 x lr absolute per step taken. Adam divides by sqrt(v) + eps, so
    // a coordinate whose true gradient is zero (the key bias: softmax ignores it) moves by
    // lr * noise / (|noise| + eps) from each device's own rounding noise (seen: 1.6e-6 at lr 1e-3 on
    // the H200); the gradients themselves are compared elementwise at 1e-4 above.
    const double atol = 2e-3 * o.lr * (step + 1);
    for (size_t k = 0; k < ph.size(); ++k)
      require_close(pd[k].second, ph[k].second, 1e-4, atol, "weight after the step: " + ph[k].first);
  }
  INFO("losses " << loss_h << " / " << loss_d);
}

TEST_CASE("token pruning keeps the same tokens on the GPU and on the host", "[cuda]") {
  for (const char* policy : {"evit", "shannon", "renyi:2"}) {
    INFO(policy);
    nn::VisionTransformer host(test::small_vit(2), 9), dev(test::small_vit(2), 9);
    dev.to(gpu());
    pruning::TokenPruningConfig cfg;
    cfg.policy = pruning::parse_token_policy(policy);
    cfg.keep_rate = 0.5;
    cfg.locations = {1};
    auto ph = pruning::install_token_pruning(host, cfg);
    auto pd = pruning::install_token_pruning(dev, cfg);
    host.eval();
    dev.eval();
    Tensor x = host_randn({3, 3, 32, 32}, 31);
    NoGradGuard no_grad;
    Tensor lh = host.forward(x), ld = dev.forward(x.to(gpu()));
    REQUIRE(ph->last_records().size() == pd->last_records().size());
    REQUIRE(!ph->last_records().empty());
    for (size_t r = 0; r < ph->last_records().size(); ++r)
      CHECK(pd->last_records()[r].kept_patches == ph->last_records()[r].kept_patches);
    require_close(ld, lh, 1e-4, 1e-5, "pruned logits");
  }
}
