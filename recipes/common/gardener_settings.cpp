// Presets, input checks and fine-tune schedule of the Gardener study (see gardener_settings.h).
#include "common/gardener_settings.h"

#include <filesystem>

#include "tensor/error.h"

namespace shears::recipes {

void apply_gardener_scale(GardenerSettings& s, const char* prog) {
  MaePretrainStudy& p = s.pretrain;
  if (s.scale == "smoke") {
    p.epochs = 1, p.train_clips = 64, p.eval_clips = 32, p.figure_clips = 1, p.log_every = 0;
    p.shape.dim = 32, p.shape.depth = 4, p.shape.heads = 2, p.shape.mlp_hidden = 64;
    p.decoder_dim = 32, p.decoder_depth = 1, p.decoder_heads = 2, p.decoder_mlp_hidden = 64;
    s.train_clips = 64, s.test_clips = 32, s.random_draws = 2, s.oracle_seeds = 2, s.finetune = {1, 0.5};
    s.ks = {1, 3};
  } else if (s.scale == "mini") {
    p.epochs = 12, p.train_clips = 4096, p.eval_clips = 256, p.log_every = 128;
    p.shape.depth = 6;
  } else if (s.scale == "paper") {
    s.batch_size = 64, s.random_draws = 3, s.oracle_seeds = 1, s.lr = 1e-3, s.head_init_scale = 1.0;
    s.by_k = {{0, {4, 1}}, {1, {4, 1}}, {3, {5, 1}}, {5, {7, 2}}, {7, {10, 2}}, {9, {15, 3}}, {11, {38, 5}}};
    s.ks = {1, 3, 5, 7, 9, 11};
  } else {
    fail(prog, "--scale must be 'smoke', 'mini' or 'paper', got '", s.scale, "'");
  }
}

void check_gardener_inputs(const GardenerSettings& s, const char* prog) {
  if (s.scale == "paper") {
    if (s.hf_checkpoint.empty())
      fail(prog, "--scale paper needs --hf-checkpoint <Hugging Face VideoMAE-B safetensors file>");
    if (!std::filesystem::is_regular_file(s.hf_checkpoint))
      fail(prog, "--hf-checkpoint '", s.hf_checkpoint, "' is not a file");
    for (auto [flag, dir] : {std::pair<const char*, std::string>{"--ucf-train", s.ucf_train}, {"--ucf-test", s.ucf_test}}) {
      if (dir.empty())
        fail(prog, "--scale paper needs ", flag, " <folder of raw-frame videos: root/<class>/<video>/<frame files>>");
      if (!std::filesystem::is_directory(dir)) fail(prog, flag, " '", dir, "' is not a folder");
    }
  }
  if (s.scale != "paper" && (!s.hf_checkpoint.empty() || !s.ucf_train.empty() || !s.ucf_test.empty()))
    fail(prog, "--hf-checkpoint/--ucf-train/--ucf-test belong to --scale paper (got --scale ", s.scale, ")");
  if (s.scale == "paper" && !s.pretrained.empty()) fail(prog, "--pretrained belongs to --scale smoke/mini");
  if (!s.pretrained.empty() && !std::filesystem::is_regular_file(s.pretrained))
    fail(prog, "--pretrained '", s.pretrained, "' is not a file");
}

FinetuneOptions gardener_finetune(const GardenerSettings& s, int64_t k) {
  FinetuneOptions ft;
  GardenerSettings::Schedule e = s.finetune;
  if (!s.by_k.empty()) {
    auto it = s.by_k.lower_bound(k);  // the authors' table; an unlisted k takes the next listed one
    e = it != s.by_k.end() ? it->second : s.by_k.rbegin()->second;
  }
  ft.epochs = e.first, ft.warmup_epochs = e.second;
  ft.lr = s.lr, ft.warmup_lr = 1e-6, ft.min_lr = 1e-6, ft.weight_decay = s.weight_decay;
  ft.label_smoothing = 0.0, ft.batch_size = s.batch_size, ft.seed = s.seed, ft.log_every = 0;
  return ft;
}

}  // namespace shears::recipes
