// SGD with momentum (see sgd.h): one fused pass per parameter, parallel over chunks whose
// boundaries do not depend on the thread count, float32 arithmetic in PyTorch's order.
#include "train/sgd.h"

#include "autograd/ops.h"
#include "tensor/parallel.h"
#include "train/follow_surgery.h"
#include "tensor/profile.h"

namespace shears::train {

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions opts) : groups_(std::move(groups)), opts_(opts) {
  SHEARS_CHECK(opts_.momentum >= 0.0, "sgd", "momentum must be >= 0, got ", opts_.momentum);
  SHEARS_CHECK(!opts_.nesterov || opts_.momentum > 0.0, "sgd", "nesterov momentum requires momentum > 0");
  for (auto& g : groups_) {
    std::vector<Tensor> bufs;
    for (auto& p : g.params) {
      SHEARS_CHECK(p.is_contiguous() && p.dtype() == DType::F32, "sgd", "parameters must be contiguous f32, got ",
                   shape_str(p.shape()), " ", dtype_name(p.dtype()));
      if (opts_.momentum > 0.0) bufs.push_back(zeros_like(p));
    }
    buf_.push_back(std::move(bufs));
  }
}

void SGD::step() {
  SHEARS_PROFILE(Optimizer);
  ++t_;
  const bool use_momentum = opts_.momentum > 0.0;
  const float mu = float(opts_.momentum);
  const bool nesterov = opts_.nesterov;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const ParamGroup& g = groups_[gi];
    const float lr = float(opts_.lr * g.lr_scale);
    const float wd = float(g.weight_decay);
    for (size_t pi = 0; pi < g.params.size(); ++pi) {
      Tensor grad = g.params[pi].grad();
      if (!grad.defined()) continue;
      grad = kernels::contiguous(grad);
      float* p = g.params[pi].data<float>();
      const float* gr = grad.data<float>();
      float* b = use_momentum ? buf_[gi][pi].data<float>() : nullptr;
      parallel_for(g.params[pi].numel(), 16384, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) {
          float d = wd != 0.0f ? gr[i] + wd * p[i] : gr[i];
          if (b) {
            b[i] = mu * b[i] + d;
            d = nesterov ? d + mu * b[i] : b[i];
          }
          p[i] -= lr * d;
        }
      });
    }
  }
}

void SGD::zero_grad() {
  for (auto& g : groups_) shears::zero_grad(g.params);
}

void SGD::apply_slices(const nn::Module& model, const std::vector<nn::ParameterSlice>& slices) {
  std::vector<std::vector<std::vector<Tensor>>*> states;
  if (opts_.momentum > 0.0) states.push_back(&buf_);
  follow_slices(model, slices, groups_, states, "sgd.apply_slices");
}

TensorList SGD::state() const {
  TensorList out;
  for (auto& bufs : buf_)
    for (auto& b : bufs) out.push_back(b);
  return out;
}

}  // namespace shears::train
