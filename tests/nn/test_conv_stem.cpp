// The ViT's optional convolutional stem (ModelConfig::stem_channels): the patch tokens equal a naive
// 3x3 "same" convolution + GELU + patchify + projection computed in double loops; float64
// gradients through the stem match finite differences; parameter shapes, parameter and FLOP
// counts agree with the module; the JSON config round-trips (and files without the key have no
// stem); bad values are refused naming the field; a saved model reloads to the same logits. A
// two-layer stem (stem_depth 2) the same way: naive reference, gradcheck, counts, JSON, reload.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

#include <unistd.h>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "nn/flop_count.h"
#include "nn/vision_transformer.h"
#include "tensor/creation.h"
#include "tensor/kernels.h"
#include "tensor/random.h"
#include "test_util.h"

using namespace shears;
using test::ref_values;

namespace {

nn::ModelConfig stem_config(int64_t stem, int64_t depth = 1) {
  nn::ModelConfig c;
  c.stem_depth = depth;
  c.arch = "vit";
  c.image_size = 6, c.in_chans = 2, c.patch_size = 3, c.dim = 8;
  c.stem_channels = stem;
  c.blocks = nn::uniform_blocks(1, 2, 4, 16);
  c.num_classes = 3;
  c.mean = {0.5, 0.5}, c.std = {0.5, 0.5};
  return c;
}

void to_f64(nn::Module& m) {
  for (auto& [name, t] : m.named_parameters()) {
    Tensor* slot = m.find_parameter(name);
    *slot = kernels::to_dtype(*slot, DType::F64);
  }
}

// Requires the parameter shapes implied by the config (load_model's pre-allocation check) to be the
// module's; returns the module's shapes by name.
std::map<std::string, Shape> shapes_match_config(const nn::VisionTransformer& model, const nn::ModelConfig& cfg) {
  std::map<std::string, Shape> have;
  for (const auto& [name, t] : model.named_parameters()) have[name] = t.shape();
  const auto want = nn::parameter_shapes(cfg);
  REQUIRE(want.size() == have.size());
  for (const auto& [name, shape] : want) {
    INFO(name);
    REQUIRE(have.count(name));
    REQUIRE(have.at(name) == shape);
  }
  return have;
}

// Saves `model`, loads it back from the file alone and requires the same logits (eval, no grad).
std::shared_ptr<nn::VisionTransformer> save_and_reload(nn::VisionTransformer& model, const std::string& tag) {
  const auto dir = std::filesystem::temp_directory_path() / ("shears_stem_" + tag + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "stem.safetensors").string();
  nn::save_model(path, model);
  auto loaded = nn::load_model(path);
  Generator gen(11);
  const Tensor x = uniform({2, 2, 6, 6}, -1.0, 1.0, DType::F32, &gen);
  NoGradGuard no_grad;
  model.eval();
  loaded->eval();
  REQUIRE(ref_values(loaded->forward(x)) == ref_values(model.forward(x)));
  std::filesystem::remove_all(dir);
  return loaded;
}

double gelu_ref(double v) { return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); }

}  // namespace

TEST_CASE("conv stem: tokens equal a naive 3x3 same convolution + GELU + patchify + projection", "[nn][stem]") {
  const nn::ModelConfig cfg = stem_config(3);
  nn::VisionTransformer model(cfg, 4);
  to_f64(model);
  Generator gen(9);
  const Tensor x = uniform({2, 2, 6, 6}, -1.0, 1.0, DType::F64, &gen);
  const Tensor got = model.patch_embed->forward(x);  // (B, 4 patches, dim)
  REQUIRE(got.shape() == Shape({2, 4, 8}));
  const std::vector<double> xv = ref_values(x), sw = ref_values(model.patch_embed->stem->weight),
                            sb = ref_values(model.patch_embed->stem->bias),
                            pw = ref_values(model.patch_embed->proj->weight),
                            pb = ref_values(model.patch_embed->proj->bias), gv = ref_values(got);
  const int64_t B = 2, C = 2, H = 6, S = 3, P = 3, D = 8, g = 2;
  auto X = [&](int64_t b, int64_t c, int64_t y, int64_t xx) {
    return (y < 0 || y >= H || xx < 0 || xx >= H) ? 0.0 : xv[size_t(((b * C + c) * H + y) * H + xx)];
  };
  for (int64_t b = 0; b < B; ++b) {
    std::vector<double> feat(size_t(S * H * H));  // (s, y, x)
    for (int64_t s = 0; s < S; ++s)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t xx = 0; xx < H; ++xx) {
          double acc = sb[size_t(s)];
          for (int64_t c = 0; c < C; ++c)
            for (int64_t ky = 0; ky < 3; ++ky)
              for (int64_t kx = 0; kx < 3; ++kx)
                acc += sw[size_t(((s * C + c) * 3 + ky) * 3 + kx)] * X(b, c, y + ky - 1, xx + kx - 1);
          feat[size_t((s * H + y) * H + xx)] = gelu_ref(acc);
        }
    for (int64_t gy = 0; gy < g; ++gy)
      for (int64_t gx = 0; gx < g; ++gx)
        for (int64_t d = 0; d < D; ++d) {
          double acc = pb[size_t(d)];
          for (int64_t s = 0; s < S; ++s)
            for (int64_t py = 0; py < P; ++py)
              for (int64_t px = 0; px < P; ++px)
                acc += pw[size_t(((d * S + s) * P + py) * P + px)] * feat[size_t((s * H + gy * P + py) * H + gx * P + px)];
          REQUIRE(gv[size_t((b * g * g + gy * g + gx) * D + d)] == Approx(acc).margin(1e-12));
        }
  }
}

TEST_CASE("conv stem: float64 gradients of input and stem weights match finite differences", "[nn][stem][gradcheck]") {
  nn::VisionTransformer model(stem_config(2), 5);
  to_f64(model);
  Generator gen(10);
  const Tensor x = uniform({1, 2, 6, 6}, -1.0, 1.0, DType::F64, &gen);
  GradcheckResult r = gradcheck(
      [&](const TensorList& in) {
        model.patch_embed->stem->weight = in[1];
        model.patch_embed->stem->bias = in[2];
        return model.forward(in[0]);
      },
      {x, kernels::contiguous(model.patch_embed->stem->weight), kernels::contiguous(model.patch_embed->stem->bias)});
  INFO(r.report);
  CHECK(r.ok);
}

TEST_CASE("conv stem: shapes, counts, JSON, validation and reload", "[nn][stem]") {
  const nn::ModelConfig cfg = stem_config(3);
  nn::VisionTransformer model(cfg, 6);
  const std::map<std::string, Shape> have = shapes_match_config(model, cfg);
  REQUIRE(have.at("patch_embed.stem.weight") == Shape({3, 2, 3, 3}));
  REQUIRE(have.at("patch_embed.proj.weight") == Shape({8, 3, 3, 3}));
  REQUIRE(nn::count_parameters(cfg) == model.parameter_count());
  // stem: 36 pixels x 3 channels x 2 x 9 = 1944; projection: 4 patches x 8 x 27 = 864
  const nn::FlopReport with = nn::count_flops(cfg), without = nn::count_flops(stem_config(0));
  REQUIRE(with.embed == 1944.0 + 864.0);
  REQUIRE(with.total - without.total == 1944.0 + 864.0 - 4.0 * 8 * 18);

  const nn::ModelConfig back = nn::ModelConfig::from_json(cfg.to_json());
  REQUIRE(back.stem_channels == 3);
  REQUIRE(stem_config(0).to_json().find("stem_channels") == std::string::npos);  // no key without a stem
  REQUIRE(nn::ModelConfig::from_json(stem_config(0).to_json()).stem_channels == 0);

  nn::ModelConfig bad = stem_config(-1);
  REQUIRE_THROWS_WITH(bad.validate(), Catch::Contains("stem_channels must be in [0,"));
  bad = nn::videomae_small_patch4_32(3);
  bad.stem_channels = 4;
  REQUIRE_THROWS_WITH(bad.validate(), Catch::Contains("stem_channels") && Catch::Contains("\"vit\" only"));

  const auto loaded = save_and_reload(model, "one_layer");
  REQUIRE(loaded->config().stem_channels == 3);
}

TEST_CASE("conv stem, two layers: tokens equal two naive 3x3 convolutions + GELU, then patchify + projection",
          "[nn][stem]") {
  const nn::ModelConfig cfg = stem_config(3, 2);
  nn::VisionTransformer model(cfg, 4);
  REQUIRE(model.patch_embed->stem_convs.size() == 1);
  to_f64(model);
  Generator gen(9);
  const Tensor x = uniform({2, 2, 6, 6}, -1.0, 1.0, DType::F64, &gen);
  const Tensor got = model.patch_embed->forward(x);
  REQUIRE(got.shape() == Shape({2, 4, 8}));
  const std::vector<double> xv = ref_values(x), sw = ref_values(model.patch_embed->stem->weight),
                            sb = ref_values(model.patch_embed->stem->bias),
                            w2 = ref_values(model.patch_embed->stem_convs[0]->weight),
                            b2 = ref_values(model.patch_embed->stem_convs[0]->bias),
                            pw = ref_values(model.patch_embed->proj->weight),
                            pb = ref_values(model.patch_embed->proj->bias), gv = ref_values(got);
  const int64_t B = 2, C = 2, H = 6, S = 3, P = 3, D = 8, g = 2;
  // one 3x3 "same" conv + GELU over (c, y, x) planes: in (cin, H, H) -> out (cout, H, H)
  auto conv = [&](const std::vector<double>& in, int64_t cin, const std::vector<double>& w,
                  const std::vector<double>& bias, int64_t cout) {
    std::vector<double> out(size_t(cout * H * H));
    for (int64_t o = 0; o < cout; ++o)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t xx = 0; xx < H; ++xx) {
          double acc = bias[size_t(o)];
          for (int64_t c = 0; c < cin; ++c)
            for (int64_t ky = 0; ky < 3; ++ky)
              for (int64_t kx = 0; kx < 3; ++kx) {
                const int64_t yy = y + ky - 1, xs = xx + kx - 1;
                if (yy < 0 || yy >= H || xs < 0 || xs >= H) continue;
                acc += w[size_t(((o * cin + c) * 3 + ky) * 3 + kx)] * in[size_t((c * H + yy) * H + xs)];
              }
          out[size_t((o * H + y) * H + xx)] = gelu_ref(acc);
        }
    return out;
  };
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<double> img(xv.begin() + b * C * H * H, xv.begin() + (b + 1) * C * H * H);
    const std::vector<double> feat = conv(conv(img, C, sw, sb, S), S, w2, b2, S);
    for (int64_t gy = 0; gy < g; ++gy)
      for (int64_t gx = 0; gx < g; ++gx)
        for (int64_t d = 0; d < D; ++d) {
          double acc = pb[size_t(d)];
          for (int64_t s2 = 0; s2 < S; ++s2)
            for (int64_t py = 0; py < P; ++py)
              for (int64_t px = 0; px < P; ++px)
                acc += pw[size_t(((d * S + s2) * P + py) * P + px)] *
                       feat[size_t((s2 * H + gy * P + py) * H + gx * P + px)];
          REQUIRE(gv[size_t((b * g * g + gy * g + gx) * D + d)] == Approx(acc).margin(1e-12));
        }
  }
}

TEST_CASE("conv stem, two layers: float64 gradients, counts, JSON, validation and reload", "[nn][stem][gradcheck]") {
  {
    nn::VisionTransformer model(stem_config(2, 2), 5);
    to_f64(model);
    Generator gen(10);
    const Tensor x = uniform({1, 2, 6, 6}, -1.0, 1.0, DType::F64, &gen);
    auto& conv = *model.patch_embed->stem_convs[0];
    GradcheckResult r = gradcheck(
        [&](const TensorList& in) {
          conv.weight = in[1];
          conv.bias = in[2];
          return model.forward(in[0]);
        },
        {x, kernels::contiguous(conv.weight), kernels::contiguous(conv.bias)});
    INFO(r.report);
    CHECK(r.ok);
  }
  const nn::ModelConfig cfg = stem_config(3, 3);
  nn::VisionTransformer model(cfg, 6);
  const std::map<std::string, Shape> have = shapes_match_config(model, cfg);
  REQUIRE(have.at("patch_embed.stem_conv2.weight") == Shape({3, 3, 3, 3}));
  REQUIRE(nn::count_parameters(cfg) == model.parameter_count());
  // two further layers: 36 pixels x 3 out x 3 in x 9 = 2916 each on top of the one-layer stem
  REQUIRE(nn::count_flops(cfg).embed == nn::count_flops(stem_config(3)).embed + 2 * 2916.0);

  const nn::ModelConfig back = nn::ModelConfig::from_json(cfg.to_json());
  REQUIRE(back.stem_depth == 3);
  REQUIRE(stem_config(3).to_json().find("stem_depth") == std::string::npos);  // no key for one layer
  REQUIRE(nn::ModelConfig::from_json(stem_config(3).to_json()).stem_depth == 1);
  nn::ModelConfig bad = stem_config(3, 0);
  REQUIRE_THROWS_WITH(bad.validate(), Catch::Contains("stem_depth must be in [1, 8]"));
  bad = stem_config(3, 9);
  REQUIRE_THROWS_WITH(bad.validate(), Catch::Contains("stem_depth must be in [1, 8]"));
  bad = stem_config(0, 2);
  REQUIRE_THROWS_WITH(bad.validate(), Catch::Contains("stem_depth 2 needs a stem"));

  const auto loaded = save_and_reload(model, "three_layers");
  REQUIRE(loaded->config().stem_depth == 3);
}
