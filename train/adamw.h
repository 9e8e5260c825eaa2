// AdamW (decoupled weight decay, Loshchilov & Hutter; PyTorch's torch.optim.AdamW update):
//   p <- p * (1 - lr * wd);  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
//   p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// Parameters come in groups with their own weight decay and lr scale (layer decay).
#pragma once
#include <string>
#include <vector>

#include "nn/module.h"

namespace shears::train {

struct ParamGroup {
  TensorList params;
  double weight_decay = 0.0;
  double lr_scale = 1.0;
};

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
};

class AdamW {
 public:
  AdamW(std::vector<ParamGroup> groups, AdamWOptions opts);
  void step();  // parameters without a gradient are skipped
  void zero_grad();
  void set_lr(double lr) { opts_.lr = lr; }
  double lr() const { return opts_.lr; }
  int64_t steps() const { return t_; }
  // Restores the step count (bias corrections) when resuming from a checkpoint.
  void set_steps(int64_t t) { t_ = t; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  // Moment buffers in group order (for checkpoints): m then v per parameter. The handles
  // share storage with the live moments, so copying into them (kernels::copy_) restores them.
  TensorList state() const;

 private:
  std::vector<ParamGroup> groups_;
  AdamWOptions opts_;
  std::vector<std::vector<Tensor>> m_, v_;
  int64_t t_ = 0;
};

// The timm/DeiT split: weight decay on weights of dim >= 2, none on 1-d parameters
// (biases, norms) and on names in `no_decay` (pos_embed, cls_token, mask_token).
std::vector<ParamGroup> decay_groups(const nn::Module& model, double weight_decay,
                                     const std::vector<std::string>& no_decay = {"pos_embed", "cls_token",
                                                                                 "mask_token"});

}  // namespace shears::train
