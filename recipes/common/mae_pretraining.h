// The VideoMAE masked-pretraining study on moving-Fashion-MNIST clips, callable from any
// recipe: pretrain (train/mae_pretrainer), measure the masked reconstruction loss against
// the predict-the-mean baseline on held-out clips before and after, save the checkpoint
// atomically, and draw the reconstruction figure (masked input / reconstruction / target).
#pragma once
#include <string>

#include "common/moving_clips.h"
#include "nn/videomae_pretrain.h"
#include "train/mae_pretrainer.h"

namespace shears::recipes {

struct MaePretrainStudy {
  std::string fashion_dir;       // Fashion-MNIST IDX folder
  std::string out;               // folder for the checkpoint, figure, log and tables
  ClipModelShape shape;
  int64_t decoder_dim = 64, decoder_depth = 2, decoder_heads = 2, decoder_mlp_hidden = 256;
  double mask_ratio = 0.75;     // VideoMAE: 0.9 (K400/SSv2), 0.75 (UCF101 script); see DESIGN.md
  int64_t train_clips = 2048, eval_clips = 256;
  int64_t epochs = 4, batch_size = 32;
  double lr = 1.5e-3;            // peak lr actually used
  double warmup_epochs = 1, min_lr = 1e-5, weight_decay = 0.05;
  uint64_t seed = 0;
  int64_t log_every = 20;
  int64_t figure_clips = 3;      // clips in the PNG (0 = no figure)
  int64_t figure_frames = 4;     // frames per clip in the PNG, evenly spaced
};

struct MaePretrainOutcome {
  std::string checkpoint, figure;
  train::MaeEvalResult before, after;  // held-out, same masks: untrained vs pretrained
  double final_train_loss = 0, seconds = 0, clips_per_second = 0;
  int64_t steps = 0;
};

// Runs the whole study; prints progress and a Markdown table (CSV/JSON under `out`).
MaePretrainOutcome run_mae_pretrain_study(const MaePretrainStudy& study);

// The figure: for each of the first `clips` clips of `inputs` (normalized, (B, C, T, H, W))
// and `figure_frames` evenly spaced frames, three rows: the masked input (masked tubelets
// drawn in a flat blue-grey), the reconstruction and the target frames. With
// normalized-pixel targets the prediction of a masked tubelet is un-normalized with THAT
// tubelet's own per-channel mean and std of the true pixels (as VideoMAE's
// run_videomae_vis.py does): the figure shows shape/texture recovery, while brightness
// and contrast come from the target. Visible tubelets show the true pixels.
void write_reconstruction_png(const std::string& path, nn::VideoMAEPretrain& model, const Tensor& inputs,
                              const Tensor& mask, int64_t clips, int64_t figure_frames, int64_t scale = 4);

}  // namespace shears::recipes
