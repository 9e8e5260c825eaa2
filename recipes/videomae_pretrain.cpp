// VideoMAE masked pretraining on synthetic moving-Fashion-MNIST clips: tube masking (0.9),
// normalized-pixel MSE on masked tubelets, AdamW (betas 0.9/0.95), warm-up + cosine. Prints
// the held-out masked reconstruction loss against the predict-the-mean baseline, saves the
// checkpoint (encoder + decoder; the encoder loads into a videomae classifier with
// nn::load_pretrained_encoder) and a PNG of masked input / reconstruction / target frames.
#include <cstdio>
#include <iostream>

#include <utility>

#include <cxxopts.hpp>

#include "common/mae_pretraining.h"
#include "common/recipe_main.h"
#include "data/fashion_mnist.h"
#include "tensor/parallel.h"

using namespace shears;

namespace {

recipes::MaePretrainStudy parse_args(int argc, char** argv, bool& exit_now) {
  cxxopts::Options options(
      "shears_videomae_pretrain",
      "VideoMAE masked pretraining on moving Fashion-MNIST clips (8 grey frames of 32x32, tubelet 2x8x8).\n"
      "Prints the held-out masked MSE next to the predict-the-mean baseline, writes OUT/videomae_pretrain.safetensors,\n"
      "OUT/mae_reconstruction.png and OUT/pretrain.{csv,json}. Flags given explicitly override --scale.\n");
  options.add_options()
      ("scale", "'smoke' (seconds: a tiny model, a few steps; the CI run) or 'mini' (the pretraining used by "
                "shears_gardener --scale mini)", cxxopts::value<std::string>()->default_value("mini"))
      ("data-dir", "Fashion-MNIST IDX folder (Debian's dataset-fashion-mnist installs it here)",
       cxxopts::value<std::string>()->default_value(data::kFashionMnistDefaultDir))
      ("out", "output folder", cxxopts::value<std::string>()->default_value("runs/videomae_pretrain"))
      ("epochs", "pretraining epochs [smoke 2, mini 12]", cxxopts::value<int64_t>())
      ("train-clips", "training clips [smoke 64, mini 4096]", cxxopts::value<int64_t>())
      ("eval-clips", "held-out clips for the loss/baseline [smoke 32, mini 256]", cxxopts::value<int64_t>())
      ("batch-size", "clips per step", cxxopts::value<int64_t>()->default_value("32"))
      ("lr", "peak learning rate (VideoMAE: 1.5e-4 x batch/256 for ViT-B; small models take more)",
       cxxopts::value<double>()->default_value("1.5e-3"))
      ("warmup-epochs", "linear warm-up length", cxxopts::value<double>()->default_value("1"))
      ("mask-ratio", "tube masking ratio (VideoMAE's UCF101 setting 0.75; its K400/SSv2 value 0.9 leaves 1 of the "
                     "16 cells of a 4x4 grid visible)", cxxopts::value<double>()->default_value("0.75"))
      ("frames", "frames per clip [smoke/mini 8]", cxxopts::value<int64_t>())
      ("patch", "tubelet spatial size (32x32 frames: 8 -> a 4x4 grid, 4 -> 8x8) [smoke/mini 8]",
       cxxopts::value<int64_t>())
      ("dim", "encoder width [smoke 32, mini 64]", cxxopts::value<int64_t>())
      ("depth", "encoder blocks [smoke 2, mini 12]", cxxopts::value<int64_t>())
      ("heads", "encoder heads [smoke 2, mini 2]", cxxopts::value<int64_t>())
      ("decoder-dim", "decoder width [smoke 32, mini 64]", cxxopts::value<int64_t>())
      ("decoder-depth", "decoder blocks [smoke 1, mini 2]", cxxopts::value<int64_t>())
      ("figure-clips", "clips in the reconstruction PNG (0 = none)", cxxopts::value<int64_t>()->default_value("3"))
      ("seed", "seed of init, data, masks", cxxopts::value<uint64_t>()->default_value("0"))
      ("threads", "worker threads (0 = SHEARS_NUM_THREADS or all cores)", cxxopts::value<int>()->default_value("0"))
      ("log-every", "steps between progress lines", cxxopts::value<int64_t>()->default_value("20"))
      ("h,help", "print this help and exit");
  const auto parsed = recipes::parse_flags(options, argc, argv, "shears_videomae_pretrain");
  if (!parsed) {
    exit_now = true;
    return {};
  }
  const cxxopts::ParseResult& r = *parsed;
  recipes::MaePretrainStudy s;
  const std::string scale = r["scale"].as<std::string>();
  if (scale == "smoke") {
    s.epochs = 2, s.train_clips = 64, s.eval_clips = 32;
    s.shape.dim = 32, s.shape.depth = 2, s.shape.heads = 2, s.shape.mlp_hidden = 64;
    s.decoder_dim = 32, s.decoder_depth = 1, s.decoder_heads = 2, s.decoder_mlp_hidden = 64;
    s.log_every = 1;
  } else if (scale == "mini") {
    s.epochs = 12, s.train_clips = 4096, s.eval_clips = 256, s.log_every = 128;
  } else {
    fail("shears_videomae_pretrain", "--scale must be 'smoke' or 'mini', got '", scale, "'");
  }
  s.fashion_dir = r["data-dir"].as<std::string>();
  s.out = r["out"].as<std::string>();
  if (r.count("epochs")) s.epochs = r["epochs"].as<int64_t>();
  if (r.count("train-clips")) s.train_clips = r["train-clips"].as<int64_t>();
  if (r.count("eval-clips")) s.eval_clips = r["eval-clips"].as<int64_t>();
  if (r.count("frames")) s.shape.frames = r["frames"].as<int64_t>();
  if (r.count("patch")) s.shape.patch = r["patch"].as<int64_t>();
  if (r.count("dim")) s.shape.dim = r["dim"].as<int64_t>(), s.shape.mlp_hidden = 4 * s.shape.dim;
  if (r.count("depth")) s.shape.depth = r["depth"].as<int64_t>();
  if (r.count("heads")) s.shape.heads = r["heads"].as<int64_t>();
  if (r.count("decoder-dim")) s.decoder_dim = r["decoder-dim"].as<int64_t>(), s.decoder_mlp_hidden = 4 * s.decoder_dim;
  if (r.count("decoder-depth")) s.decoder_depth = r["decoder-depth"].as<int64_t>();
  s.batch_size = r["batch-size"].as<int64_t>();
  s.lr = r["lr"].as<double>();
  s.warmup_epochs = r["warmup-epochs"].as<double>();
  s.mask_ratio = r["mask-ratio"].as<double>();
  s.figure_clips = r["figure-clips"].as<int64_t>();
  s.seed = r["seed"].as<uint64_t>();
  s.log_every = r.count("log-every") ? r["log-every"].as<int64_t>() : s.log_every;
  const int threads = r["threads"].as<int>();
  recipes::check_threads_flag(threads, "shears_videomae_pretrain");
  recipes::prepare_output_dir(s.out, "shears_videomae_pretrain");
  if (threads > 0) set_num_threads(threads);
  recipes::print_compute_config();
  for (auto [flag, value] : {std::pair<const char*, int64_t>{"frames", s.shape.frames}, {"patch", s.shape.patch},
                             {"dim", s.shape.dim}, {"depth", s.shape.depth}, {"heads", s.shape.heads},
                             {"decoder-dim", s.decoder_dim}, {"decoder-depth", s.decoder_depth}})
    recipes::check_size_flag(value, flag, 4096, "shears_videomae_pretrain");
  SHEARS_CHECK(s.shape.dim % s.shape.heads == 0, "shears_videomae_pretrain", "--dim (", s.shape.dim,
               ") must be a multiple of --heads (", s.shape.heads, ")");
  SHEARS_CHECK(s.epochs >= 1, "shears_videomae_pretrain", "--epochs must be >= 1, got ", s.epochs);
  SHEARS_CHECK(s.batch_size >= 1 && s.train_clips >= s.batch_size, "shears_videomae_pretrain",
               "--train-clips (", s.train_clips, ") must hold at least one --batch-size (", s.batch_size, ")");
  SHEARS_CHECK(s.eval_clips >= 1, "shears_videomae_pretrain", "--eval-clips must be >= 1, got ", s.eval_clips);
  SHEARS_CHECK(s.mask_ratio > 0 && s.mask_ratio < 1, "shears_videomae_pretrain", "--mask-ratio must be in (0, 1), got ",
               s.mask_ratio);
  SHEARS_CHECK(s.figure_clips >= 0, "shears_videomae_pretrain", "--figure-clips must be >= 0");
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  return shears::recipes::recipe_main([&]() -> int {
    bool exit_now = false;
    recipes::MaePretrainStudy s = parse_args(argc, argv, exit_now);
    if (exit_now) return 0;
    recipes::MaePretrainOutcome r = recipes::run_mae_pretrain_study(s);
    std::printf("\nheld-out masked MSE %.4f vs predict-the-mean %.4f (%.1f%% of the baseline; untrained %.4f)\n",
                r.after.loss, r.after.mean_baseline, 100 * r.after.loss / r.after.mean_baseline, r.before.loss);
    return 0;
  });
}
