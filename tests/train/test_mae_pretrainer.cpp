// The VideoMAE pretraining loop: on a tiny config the masked loss falls well below its start
// in 150 steps (well under a second), masks are a pure function of (seed, step), and the same seeds give
// the same losses.
#include <catch2/catch.hpp>

#include "autograd/ops.h"
#include "train/mae_pretrainer.h"

using namespace shears;

namespace {
nn::PretrainConfig tiny_config() {
  nn::PretrainConfig pc;
  nn::ModelConfig& e = pc.encoder;
  e.arch = "videomae";
  e.image_size = 16, e.in_chans = 1, e.patch_size = 4, e.frames = 4, e.tubelet = 2, e.dim = 32;
  e.blocks = nn::uniform_blocks(2, 2, 16, 64);
  e.num_classes = 0;
  e.mean = {0.5}, e.std = {0.5};
  pc.decoder_dim = 32, pc.decoder_depth = 1, pc.decoder_heads = 2, pc.decoder_mlp_hidden = 64;
  pc.mask_ratio = 0.75;
  return pc;
}

// Four copies of one fixed random clip: the masked content is a function of position only,
// so a model that learns it drives the loss towards 0.
Tensor fixed_clips() {
  Generator gen(7);
  Tensor one = rand({1, 1, 4, 16, 16}, DType::F32, &gen);
  return kernels::contiguous(expand(one, {4, 1, 4, 16, 16}));
}

std::vector<double> run(int steps, uint64_t seed) {
  nn::VideoMAEPretrain model(tiny_config(), seed);
  train::MaePretrainOptions o;
  o.epochs = 1, o.lr = 3e-3, o.warmup_epochs = 0.1, o.min_lr = 3e-3, o.mask_seed = seed, o.quiet = true;
  train::MaePretrainer trainer(model, o, steps);
  Tensor clips = fixed_clips();
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) losses.push_back(trainer.train_step(clips));
  return losses;
}
}  // namespace

TEST_CASE("MAE pretraining reduces the masked loss on a tiny config", "[train][mae]") {
  std::vector<double> losses = run(150, 3);
  const size_t n = losses.size();
  const double first = (losses[0] + losses[1] + losses[2]) / 3, last = (losses[n - 3] + losses[n - 2] + losses[n - 1]) / 3;
  INFO("first " << first << " last " << last);
  CHECK(first > 0.5);
  CHECK(last < 0.5 * first);
}

TEST_CASE("MAE pretraining is deterministic from its seeds", "[train][mae]") {
  CHECK(run(3, 5) == run(3, 5));
  nn::VideoMAEPretrain model(tiny_config(), 0);
  Tensor a = train::MaePretrainer::masks(model, 2, 9, 4), b = train::MaePretrainer::masks(model, 2, 9, 4),
         c = train::MaePretrainer::masks(model, 2, 9, 5);
  REQUIRE(a.size(1) == model.cfg.encoder.num_patches());
  CHECK(kernels::contiguous(eq(a, b)).numel() == a.numel());
  CHECK(sum(to_dtype(eq(a, b), DType::F32)).item<double>() == double(a.numel()));
  CHECK(sum(to_dtype(eq(a, c), DType::F32)).item<double>() < double(a.numel()));
  // 0.75 of the 4x4 grid masked, on both temporal positions
  CHECK(sum(to_dtype(a, DType::F32)).item<double>() == 2 * 2 * 12);
}

TEST_CASE("MAE evaluation reports the predict-the-mean baseline", "[train][mae]") {
  nn::VideoMAEPretrain model(tiny_config(), 1);
  Tensor clips = fixed_clips();
  Tensor mask = train::MaePretrainer::masks(model, 4, 0, 0);
  auto out = model.forward(clips, mask);
  // normalized-pixel targets: zero mean per tubelet, mean square (n - 1) / n with n = 2*4*4
  const double ms = mean(out.target * out.target).item<double>();
  CHECK(ms == Approx(31.0 / 32.0).epsilon(1e-3));
}
