// VideoMAE pretraining checkpoints: save/load round trip with the config in the metadata, and
// the encoder transfer into a videomae classifier (weights equal by name, fc_norm/head kept,
// a mismatched classifier refused with the offending names).
#include <catch2/catch.hpp>

#include <filesystem>

#include "autograd/ops.h"
#include "nn/videomae_checkpoint.h"

using namespace shears;

namespace {
nn::PretrainConfig tiny_config(int64_t depth = 2) {
  nn::PretrainConfig pc;
  nn::ModelConfig& e = pc.encoder;
  e.arch = "videomae";
  e.image_size = 16, e.in_chans = 1, e.patch_size = 4, e.frames = 4, e.tubelet = 2, e.dim = 32;
  e.blocks = nn::uniform_blocks(depth, 2, 16, 64);
  e.num_classes = 0;
  e.mean = {0.5}, e.std = {0.5};
  pc.decoder_dim = 32, pc.decoder_depth = 1, pc.decoder_heads = 2, pc.decoder_mlp_hidden = 64;
  return pc;
}

bool same(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  Tensor ca = kernels::contiguous(a), cb = kernels::contiguous(b);
  for (int64_t i = 0; i < ca.numel(); ++i)
    if (ca.data<float>()[i] != cb.data<float>()[i]) return false;
  return true;
}

void check_transferred(const nn::VideoMAEPretrain& pre, const nn::VisionTransformer& cls,
                       const nn::VisionTransformer& fresh) {
  std::map<std::string, Tensor> src;
  for (auto& [n, t] : pre.named_parameters()) src[n] = t;
  std::map<std::string, Tensor> init;
  for (auto& [n, t] : fresh.named_parameters()) init[n] = t;
  int64_t encoder = 0;
  for (auto& [n, t] : cls.named_parameters()) {
    INFO(n);
    if (n.rfind("fc_norm.", 0) == 0 || n.rfind("head.", 0) == 0) {
      CHECK(same(t, init.at(n)));  // kept from the classifier's own initialization
    } else {
      REQUIRE(src.count("encoder." + n));
      CHECK(same(t, src.at("encoder." + n)));
      ++encoder;
    }
  }
  CHECK(encoder == 2 + 2 * 13);  // patch_embed w/b + 13 tensors per block
}
}  // namespace

TEST_CASE("pretrained encoder weights transfer into a videomae classifier by name", "[nn][videomae]") {
  nn::PretrainConfig pc = tiny_config();
  nn::VideoMAEPretrain pre(pc, 11);
  nn::ModelConfig cc = pc.encoder;
  cc.num_classes = 5;
  nn::VisionTransformer cls(cc, 22), fresh(cc, 22);
  nn::LoadReport rep = nn::transfer_encoder(pre, cls);
  check_transferred(pre, cls, fresh);
  CHECK(rep.missing.size() == 4);  // fc_norm.{weight,bias}, head.{weight,bias}

  // through a checkpoint file
  const std::string path = (std::filesystem::temp_directory_path() / "shears_test_mae.safetensors").string();
  nn::save_pretrain_model(path, pre);
  nn::PretrainConfig back = nn::read_pretrain_config(path);
  CHECK(back.encoder.dim == 32);
  CHECK(back.decoder_depth == 1);
  CHECK(back.mask_ratio == Approx(0.9));
  auto reloaded = nn::load_pretrain_model(path);
  for (auto& [n, t] : reloaded->named_parameters()) CHECK(same(t, *pre.find_parameter(n)));
  nn::VisionTransformer cls2(cc, 22);
  nn::load_pretrained_encoder(cls2, path);
  check_transferred(pre, cls2, fresh);

  // a deeper classifier does not fit: refused, naming the missing block
  nn::ModelConfig deep = cc;
  deep.blocks = nn::uniform_blocks(3, 2, 16, 64);
  nn::VisionTransformer cls3(deep, 0);
  CHECK_THROWS_WITH(nn::load_pretrained_encoder(cls3, path), Catch::Contains("blocks.2.attn.qkv.weight") &&
                                                                 Catch::Contains(path));
  std::filesystem::remove(path);
}
