// Synthetic clip setting for the VideoMAE studies (see moving_clips.h).
#include "common/moving_clips.h"

namespace shears::recipes {

nn::ModelConfig clip_videomae_config(const ClipModelShape& s, int64_t num_classes) {
  nn::ModelConfig m;
  m.arch = "videomae";
  m.image_size = s.side;
  m.in_chans = 1;
  m.patch_size = s.patch;
  m.frames = s.frames;
  m.tubelet = s.tubelet;
  m.dim = s.dim;
  SHEARS_CHECK(s.heads > 0 && s.dim % s.heads == 0, "clip_videomae_config", "dim ", s.dim,
               " is not divisible by heads ", s.heads);
  m.blocks = nn::uniform_blocks(s.depth, s.heads, s.dim / s.heads, s.mlp_hidden);
  m.num_classes = num_classes;
  m.qkv_bias = true;
  const bool distractors = s.distractor_prob > 0;
  m.mean = {distractors ? 0.10 : 0.075};
  m.std = {distractors ? 0.24 : 0.21};
  m.validate();
  return m;
}

std::shared_ptr<data::MovingFashionMnist> moving_clips(const std::string& fashion_dir, bool train, int64_t clips,
                                                       const ClipModelShape& shape, uint64_t seed) {
  data::MovingFashionMnistOptions o;
  o.size = clips;
  o.seed = train ? seed : seed + 1000003;
  o.num_frames = shape.frames;
  o.side = shape.side;
  o.item_side = shape.side / 2;
  o.channels = 1;
  o.distractor_prob = shape.distractor_prob;
  return std::make_shared<data::MovingFashionMnist>(fashion_dir, train, o);
}

}  // namespace shears::recipes
