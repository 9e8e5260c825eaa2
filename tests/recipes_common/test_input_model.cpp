// recipes::load_input_model: a shears, a timm-named and a Hugging Face VideoMAE file are recognised
// (detect_checkpoint_format) and load to models that give the original's logits; an unknown format,
// an HF file without a classifier and no class count, and heads that do not divide the width throw
// naming the file.
#include <catch2/catch.hpp>

#include <filesystem>

#include <unistd.h>

#include "autograd/engine.h"
#include "common/input_model.h"
#include "nn/checkpoint.h"
#include "nn/io/hf_videomae.h"
#include "nn/io/safetensors.h"
#include "tensor/random.h"
#include "test_util.h"
#include "tiny_vit_task.h"

using namespace shears;

namespace {

std::string temp_path(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("shears_input_model_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

std::vector<double> logits(nn::VisionTransformer& m, const Tensor& x) {
  NoGradGuard no_grad;
  m.eval();
  return test::ref_values(m.forward(x));
}

}  // namespace

TEST_CASE("load_input_model reads shears, timm and Hugging Face VideoMAE files", "[recipes_common][input_model]") {
  Generator gen(3);
  recipes::InputModelOptions o;
  std::string format;

  SECTION("shears and timm") {
    nn::VisionTransformer model(test::tiny_vit_config(3), 5);
    const Tensor x = randn({2, 1, 8, 8}, DType::F32, &gen);
    const std::string shears_path = temp_path("shears.safetensors"), timm_path = temp_path("timm.safetensors");
    nn::save_model(shears_path, model);
    nn::write_safetensors(timm_path, model.named_parameters());
    REQUIRE(recipes::detect_checkpoint_format(shears_path) == "shears");
    REQUIRE(recipes::detect_checkpoint_format(timm_path) == "timm");
    auto a = recipes::load_input_model(shears_path, o, format);
    REQUIRE(format == "shears");
    REQUIRE(logits(*a, x) == logits(model, x));
    o.heads = 2;
    bool replaced = true;
    auto b = recipes::load_input_model(timm_path, o, format, &replaced);
    REQUIRE(format == "timm");
    REQUIRE_FALSE(replaced);
    REQUIRE(b->config().blocks[0].heads == 2);
    REQUIRE(logits(*b, x) == logits(model, x));
    o.format = "onnx";
    REQUIRE_THROWS_WITH(recipes::load_input_model(timm_path, o, format),
                        Catch::Contains(timm_path) && Catch::Contains("unknown checkpoint format 'onnx'"));
    o.format = "auto", o.heads = 3;  // 16 channels in 3 heads
    REQUIRE_THROWS_WITH(recipes::load_input_model(timm_path, o, format), Catch::Contains(timm_path));
  }

  SECTION("Hugging Face VideoMAE") {
    nn::ModelConfig cfg = nn::videomae_small_patch4_32(4);
    cfg.blocks = nn::uniform_blocks(2, 2, 16, 64);
    cfg.dim = 32;
    nn::VisionTransformer model(cfg, 6);
    const std::string path = temp_path("hf.safetensors"), headless = temp_path("hf_headless.safetensors");
    auto hf = nn::shears_to_hf_videomae(model.named_parameters());
    nn::write_safetensors(path, hf);
    std::vector<std::pair<std::string, Tensor>> no_head;
    for (auto& [name, t] : hf)
      if (name.rfind("classifier.", 0) != 0) no_head.emplace_back(name, t);
    nn::write_safetensors(headless, no_head);
    REQUIRE(recipes::detect_checkpoint_format(path) == "hf-videomae");
    o.heads = 2, o.frames = cfg.frames, o.image_size = cfg.image_size;
    auto m = recipes::load_input_model(path, o, format);
    REQUIRE(format == "hf-videomae");
    REQUIRE(m->config().depth() == 2);
    REQUIRE(m->config().num_classes == 4);
    const Tensor x = randn({1, cfg.in_chans, cfg.frames, cfg.image_size, cfg.image_size}, DType::F32, &gen);
    const std::vector<double> want = logits(model, x), got = logits(*m, x);
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) REQUIRE(got[i] == Approx(want[i]).margin(1e-5));
    REQUIRE_THROWS_WITH(recipes::load_input_model(headless, o, format),
                        Catch::Contains(headless) && Catch::Contains("no classifier.weight"));
    o.num_classes = 7;
    REQUIRE_THROWS_WITH(recipes::load_input_model(path, o, format),
                        Catch::Contains("the head has 4 classes, --num-classes says 7"));
  }
  std::filesystem::remove_all(std::filesystem::path(temp_path("x")).parent_path());
}
