// The VideoMAE masked-pretraining study (see mae_pretraining.h).
#include "common/mae_pretraining.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "autograd/ops.h"
#include "common/report.h"
#include "data/data_loader.h"
#include "data/image_write.h"
#include "data/transforms.h"
#include "nn/videomae_checkpoint.h"
#include "tensor/kernels.h"
#include "train/progress.h"

namespace shears::recipes {

namespace {
using train::now_s;
constexpr uint64_t kEvalMaskSeed = 0x5eed0e7a1ull;  // held-out masks: fixed, independent of training
}  // namespace

void write_reconstruction_png(const std::string& path, nn::VideoMAEPretrain& model, const Tensor& inputs,
                              const Tensor& mask, int64_t clips, int64_t figure_frames, int64_t scale) {
  const nn::ModelConfig& e = model.cfg.encoder;
  const int64_t B = inputs.size(0), C = e.in_chans, T = e.frames, S = e.image_size, p = e.patch_size,
                t = e.tubelet, g = e.grid(), N = e.num_patches();
  SHEARS_CHECK(clips >= 1 && clips <= B, "write_reconstruction_png", "asked for ", clips, " clips of a batch of ", B);
  SHEARS_CHECK(figure_frames >= 1 && figure_frames <= T, "write_reconstruction_png", "figure_frames ", figure_frames,
               " not in [1, ", T, "]");
  Tensor pred;
  {
    NoGradGuard no_grad;
    model.eval();
    pred = kernels::contiguous(model.forward(inputs, mask).pred);  // (B, Nm, t*p*p*C), order (dt, ph, pw, c)
    model.train();
  }
  Tensor x = kernels::contiguous(inputs);
  const float* xp = x.data<float>();
  const float* pp = pred.data<float>();
  const bool* mp = mask.data<bool>();
  const int64_t nm = pred.size(1), P = pred.size(2), tp = t * p * p;
  auto pixel = [&](int64_t b, int64_t c, int64_t f, int64_t y, int64_t xx) {  // true pixel in [0, 1]
    return xp[(((b * C + c) * T + f) * S + y) * S + xx] * float(e.std[c]) + float(e.mean[c]);
  };
  std::vector<data::Image8> cells;
  std::vector<int64_t> frames;
  for (int64_t k = 0; k < figure_frames; ++k)
    frames.push_back(figure_frames == 1 ? 0 : k * (T - 1) / (figure_frames - 1));
  for (int64_t b = 0; b < clips; ++b) {
    // reconstruction of the whole clip in [0, 1], layout (T, S, S, C)
    std::vector<float> rec(size_t(T * S * S * C)), masked(size_t(T * S * S * 3)), target(size_t(T * S * S * C));
    int64_t row = 0;
    for (int64_t n = 0; n < N; ++n) {
      const int64_t tt = n / (g * g), gh = (n / g) % g, gw = n % g;
      const bool is_masked = mp[b * N + n];
      for (int64_t c = 0; c < C; ++c) {
        double mu = 0, m2 = 0;
        for (int64_t dt = 0; dt < t; ++dt)
          for (int64_t ph = 0; ph < p; ++ph)
            for (int64_t pw = 0; pw < p; ++pw) mu += pixel(b, c, tt * t + dt, gh * p + ph, gw * p + pw);
        mu /= double(tp);
        for (int64_t dt = 0; dt < t; ++dt)
          for (int64_t ph = 0; ph < p; ++ph)
            for (int64_t pw = 0; pw < p; ++pw) {
              const double d = pixel(b, c, tt * t + dt, gh * p + ph, gw * p + pw) - mu;
              m2 += d * d;
            }
        const double sd = std::sqrt(m2 / double(tp - 1));
        for (int64_t dt = 0; dt < t; ++dt)
          for (int64_t ph = 0; ph < p; ++ph)
            for (int64_t pw = 0; pw < p; ++pw) {
              const int64_t f = tt * t + dt, y = gh * p + ph, xx = gw * p + pw;
              const float truth = pixel(b, c, f, y, xx);
              const size_t o = size_t(((f * S + y) * S + xx) * C + c);
              target[o] = truth;
              rec[o] = is_masked
                           ? float(pp[(b * nm + row) * P + ((dt * p + ph) * p + pw) * C + c] * (sd + 1e-6) + mu)
                           : truth;
            }
      }
      for (int64_t dt = 0; dt < t; ++dt)
        for (int64_t ph = 0; ph < p; ++ph)
          for (int64_t pw = 0; pw < p; ++pw) {
            const int64_t f = tt * t + dt, y = gh * p + ph, xx = gw * p + pw;
            const size_t o = size_t((f * S + y) * S + xx);
            for (int64_t k = 0; k < 3; ++k) {
              const float truth = pixel(b, C == 3 ? k : 0, f, y, xx);
              masked[o * 3 + k] = is_masked ? (k == 2 ? 0.55f : 0.35f) : truth;
            }
          }
      if (is_masked) ++row;
    }
    for (const auto* img : {&masked, &rec, &target}) {
      const int64_t ch = img == &masked ? 3 : C;
      for (int64_t f : frames) {
        std::vector<float> frame(img->begin() + f * S * S * ch, img->begin() + (f + 1) * S * S * ch);
        cells.push_back(data::upscale(data::to_image8(frame, S, S, ch), scale));
      }
    }
  }
  data::write_png(path, data::tile(cells, figure_frames, 2));
}

MaePretrainOutcome run_mae_pretrain_study(const MaePretrainStudy& s) {
  const double t0 = now_s();
  std::filesystem::create_directories(s.out);
  nn::PretrainConfig pc;
  pc.encoder = clip_videomae_config(s.shape, 0);
  pc.decoder_dim = s.decoder_dim;
  pc.decoder_depth = s.decoder_depth;
  pc.decoder_heads = s.decoder_heads;
  pc.decoder_mlp_hidden = s.decoder_mlp_hidden;
  pc.mask_ratio = s.mask_ratio;
  pc.norm_pixel_loss = true;
  SHEARS_CHECK(s.decoder_heads > 0 && s.decoder_dim % s.decoder_heads == 0, "mae_pretraining", "decoder dim ",
               s.decoder_dim, " is not divisible by decoder heads ", s.decoder_heads);
  nn::VideoMAEPretrain model(pc, s.seed);

  auto train_set = moving_clips(s.fashion_dir, true, s.train_clips, s.shape, s.seed);
  auto eval_set = moving_clips(s.fashion_dir, false, s.eval_clips, s.shape, s.seed);
  data::Transform norm = data::normalize(pc.encoder.mean, pc.encoder.std);
  data::LoaderOptions lo;
  lo.batch_size = s.batch_size;
  lo.seed = s.seed;
  lo.drop_last = true;
  data::DataLoader train_loader(train_set, lo, norm);
  data::LoaderOptions eo;
  eo.batch_size = s.batch_size;
  eo.shuffle = false;
  eo.drop_last = false;
  data::DataLoader eval_loader(eval_set, eo, norm);

  train::MaePretrainOptions o;
  o.epochs = s.epochs;
  o.lr = s.lr;
  o.min_lr = s.min_lr;
  o.warmup_epochs = s.warmup_epochs;
  o.weight_decay = s.weight_decay;
  o.mask_seed = s.seed;
  o.log_every = s.log_every;
  o.log_path = s.out + "/pretrain_log.jsonl";
  std::filesystem::remove(o.log_path);
  train::MaePretrainer trainer(model, o, train_loader.batches_per_epoch());
  const int64_t masked_cells = int64_t(s.mask_ratio * double(pc.encoder.grid() * pc.encoder.grid()));
  std::printf("VideoMAE pretraining on moving Fashion-MNIST: %ld train / %ld held-out clips of %ldx%ldx%ld, tubelet "
              "%ldx%ldx%ld (%ld tokens), encoder dim %ld x %ld blocks (%ld heads), decoder dim %ld x %ld, tube mask "
              "%.2f (%ld of %ld cells), %ld epochs x %ld steps, batch %ld, lr %.3g, AdamW betas (0.9, 0.95), wd %.3g, "
              "seed %lu\n",
              long(train_set->size()), long(eval_set->size()), long(s.shape.frames), long(s.shape.side),
              long(s.shape.side), long(s.shape.tubelet), long(s.shape.patch), long(s.shape.patch),
              long(pc.encoder.num_patches()), long(s.shape.dim), long(s.shape.depth), long(s.shape.heads),
              long(s.decoder_dim), long(s.decoder_depth), s.mask_ratio, long(masked_cells),
              long(pc.encoder.grid() * pc.encoder.grid()), long(s.epochs), long(train_loader.batches_per_epoch()),
              long(s.batch_size), s.lr, s.weight_decay, (unsigned long)s.seed);
  std::fflush(stdout);

  MaePretrainOutcome r;
  eval_loader.start_epoch(0);
  r.before = trainer.evaluate(eval_loader, kEvalMaskSeed);
  const double t_train = now_s();
  for (int64_t e = 0; e < s.epochs; ++e) {
    train_loader.start_epoch(e);
    r.final_train_loss = trainer.train_epoch(train_loader, e);
  }
  const double train_seconds = now_s() - t_train;
  r.steps = trainer.step();
  r.clips_per_second = double(r.steps * s.batch_size) / std::max(1e-9, train_seconds);
  eval_loader.start_epoch(0);
  r.after = trainer.evaluate(eval_loader, kEvalMaskSeed);

  r.checkpoint = s.out + "/videomae_pretrain.safetensors";
  nn::save_pretrain_model(r.checkpoint, model,
                          {{"shears.recipe", "videomae_pretrain"},
                           {"shears.heldout_masked_mse", std::to_string(r.after.loss)},
                           {"shears.heldout_mean_baseline", std::to_string(r.after.mean_baseline)}});
  if (s.figure_clips > 0) {
    eval_loader.start_epoch(0);
    data::Batch batch;
    eval_loader.next(batch);
    const int64_t clips = std::min(s.figure_clips, batch.size());
    Tensor mask = train::MaePretrainer::masks(model, batch.size(), kEvalMaskSeed, 0);  // = evaluate's batch 0
    r.figure = s.out + "/mae_reconstruction.png";
    write_reconstruction_png(r.figure, model, batch.inputs, mask, clips, std::min(s.figure_frames, s.shape.frames));
  }
  r.seconds = now_s() - t0;

  Table t;
  t.name = "pretrain";
  t.title = "VideoMAE masked pretraining on moving Fashion-MNIST (held-out clips, masked tubelets)";
  t.columns = {"Model", "Masked MSE", "Predict-the-mean MSE", "Ratio", "Held-out clips", "Masked tubelets"};
  t.add_row({"untrained (random init)", fmt(r.before.loss, 4), fmt(r.before.mean_baseline, 4),
             fmt(r.before.loss / r.before.mean_baseline, 3), std::to_string(r.before.clips),
             std::to_string(r.before.masked_tubelets)});
  t.add_row({"pretrained, " + std::to_string(r.steps) + " steps", fmt(r.after.loss, 4), fmt(r.after.mean_baseline, 4),
             fmt(r.after.loss / r.after.mean_baseline, 3), std::to_string(r.after.clips),
             std::to_string(r.after.masked_tubelets)});
  t.notes.push_back("Targets are per-tubelet normalized pixels (VideoMAE norm_pix_loss); predicting each tubelet's own "
                    "mean means predicting 0, so the baseline is the mean squared target on the same masked tubelets "
                    "(below 1 because all-black tubelets normalize to 0).");
  char buf[256];
  std::snprintf(buf, sizeof buf, "Training: %ld steps in %.1f s (%.1f clips/s), last epoch mean loss %.4f; total %.1f s.",
                long(r.steps), train_seconds, r.clips_per_second, r.final_train_loss, r.seconds);
  t.notes.push_back(buf);
  t.notes.push_back("Checkpoint: " + r.checkpoint + (r.figure.empty() ? "" : "; figure: " + r.figure +
                    " (per clip: rows masked input / reconstruction / target; prediction un-normalized with each "
                    "target tubelet's own mean and std)"));
  std::printf("\n");
  t.emit(s.out);
  return r;
}

}  // namespace shears::recipes
