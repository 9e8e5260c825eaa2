// Gradient-driven criteria: first-order Taylor importance of MLP hidden neurons and attention heads,
// read off gates (nn/attention.h) over PruneContext::calibration batches. Score = mean over batches of
// |sum over the unit's gate entries of g * dL/dg| (g = 1 unless a gate was attached), L the mean
// cross-entropy of the model in eval mode. The model is left as it was (weights, gates, grads, modes).
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "pruning/builtin_criteria.h"
#include "pruning/transform.h"
#include "tensor/creation.h"
#include "tensor/kernels.h"

namespace shears::pruning {

namespace {

// What a gradient pass changes on a model, put back on scope exit (also on error): each module's
// train/eval mode, each parameter's requires_grad (turned off so that only the gates get gradients
// and parameter grads are not touched), and the grad mode (turned on).
class GradientPassScope {
 public:
  explicit GradientPassScope(nn::VisionTransformer& model) : grad_mode_(grad_mode_enabled()) {
    for (auto& [name, module] : model.named_modules()) modes_.emplace_back(module, module->is_training());
    for (auto& [name, p] : model.named_parameters()) {
      requires_grad_.emplace_back(p, p.requires_grad());
      if (p.requires_grad()) p.set_requires_grad(false);
    }
    model.eval();
    set_grad_mode(true);
  }
  ~GradientPassScope() {
    set_grad_mode(grad_mode_);
    for (auto& [p, flag] : requires_grad_)
      if (p.requires_grad() != flag) p.set_requires_grad(flag);
    // named_modules is depth first, parents before children: each module's own call comes last for it.
    for (auto& [module, training] : modes_) module->train(training);
  }
  GradientPassScope(const GradientPassScope&) = delete;
  GradientPassScope& operator=(const GradientPassScope&) = delete;

 private:
  bool grad_mode_;
  std::vector<std::pair<nn::Module*, bool>> modes_;
  std::vector<std::pair<Tensor, bool>> requires_grad_;
};

// One gated module per block (Mlp or Attention), seen through what the Taylor pass needs.
struct GateSlot {
  Tensor* gate;         // the module's gate member
  int64_t width;        // gate entries
  int64_t group;        // consecutive entries per scored unit (1 per neuron, head_dim per head)
  DType dtype;          // float64 for float64 models, else float32
};

DType gate_dtype(const nn::Linear& layer) { return layer.weight.dtype() == DType::F64 ? DType::F64 : DType::F32; }

// Puts the original gates back on scope exit.
class GateRestore {
 public:
  explicit GateRestore(const std::vector<GateSlot>& slots) : slots_(slots) {
    for (const auto& s : slots_) saved_.push_back(*s.gate);
  }
  ~GateRestore() {
    for (size_t i = 0; i < slots_.size(); ++i) *slots_[i].gate = saved_[i];
  }
  const Tensor& saved(size_t i) const { return saved_[i]; }
  GateRestore(const GateRestore&) = delete;
  GateRestore& operator=(const GateRestore&) = delete;

 private:
  const std::vector<GateSlot>& slots_;
  std::vector<Tensor> saved_;
};

// scores[b][u] = mean over batches of |sum_{e in unit u} g_e * dL/dg_e| for the gate of block b.
std::vector<std::vector<double>> taylor_scores(nn::VisionTransformer& model, PruneContext& ctx,
                                               const std::vector<GateSlot>& slots, const std::string& what) {
  SHEARS_CHECK(!ctx.calibration.empty(), "taylor", what, " needs calibration batches (PruneContext::calibration)");
  SHEARS_CHECK(model.head != nullptr, "taylor", what, " needs a model with a classification head (num_classes > 0)");
  GradientPassScope pass(model);
  GateRestore restore(slots);
  std::vector<std::vector<double>> scores;
  for (const auto& s : slots) scores.emplace_back(size_t(s.width / s.group), 0.0);
  const double batches = double(ctx.calibration.size());
  for (size_t c = 0; c < ctx.calibration.size(); ++c) {
    const CalibrationBatch& batch = ctx.calibration[c];
    SHEARS_CHECK(batch.inputs.defined() && batch.labels.defined(), "taylor", what, ": calibration batch ", c,
                 " has no inputs or no labels");
    std::vector<Tensor> gates;
    for (size_t i = 0; i < slots.size(); ++i) {
      const Tensor& before = restore.saved(i);
      Tensor g = before.defined() ? kernels::clone(kernels::to_dtype(before, slots[i].dtype))
                                  : ones({slots[i].width}, slots[i].dtype);
      g.set_requires_grad(true);
      *slots[i].gate = g;
      gates.push_back(g);
    }
    const Tensor logits = model.forward(batch.inputs);        // (B, classes)
    const Tensor loss = cross_entropy(logits, batch.labels);  // mean over the batch
    backward(loss);
    for (size_t i = 0; i < slots.size(); ++i) {
      const Tensor grad = gates[i].grad();  // undefined: the gate did not reach the loss (score 0)
      if (!grad.defined()) continue;
      const std::vector<double> g = kernels::to_dtype(gates[i], DType::F64).to_vector<double>();
      const std::vector<double> dg = kernels::to_dtype(grad, DType::F64).to_vector<double>();
      const int64_t group = slots[i].group;
      for (size_t u = 0; u < scores[i].size(); ++u) {
        double sum = 0.0;
        for (int64_t e = int64_t(u) * group; e < int64_t(u + 1) * group; ++e) sum += g[size_t(e)] * dg[size_t(e)];
        scores[i][u] += std::abs(sum) / batches;
      }
    }
  }
  return scores;
}

// Neuron j of block b: mean over batches of |sum_{b,t} a_btj dL/da_btj|, a = the fc2 input.
class TaylorNeuronCriterion : public NeuronCriterion {
 public:
  std::string name() const override { return "taylor"; }
  std::vector<std::vector<double>> scores(const nn::VisionTransformer& model, PruneContext& ctx) const override {
    auto& m = const_cast<nn::VisionTransformer&>(model);  // gates come and go; the model is the same afterwards
    std::vector<GateSlot> slots;
    for (auto& block : m.blocks->items) {
      nn::Mlp& mlp = *block->mlp;
      slots.push_back({&mlp.gate, mlp.hidden(), 1, gate_dtype(*mlp.fc1)});
    }
    return taylor_scores(m, ctx, slots, "neuron criterion 'taylor'");
  }
};

// Head h of block b: the same on the attention gate, the sum taken over the head's head_dim entries
// (the Taylor estimate for scaling the whole head's output).
class TaylorHeadCriterion : public HeadCriterion {
 public:
  std::string name() const override { return "taylor"; }
  std::vector<std::vector<double>> scores(const nn::VisionTransformer& model, PruneContext& ctx) const override {
    auto& m = const_cast<nn::VisionTransformer&>(model);
    std::vector<GateSlot> slots;
    for (auto& block : m.blocks->items) {
      nn::Attention& attn = *block->attn;
      slots.push_back({&attn.gate, attn.width(), attn.head_dim, gate_dtype(*attn.proj)});
    }
    return taylor_scores(m, ctx, slots, "head criterion 'taylor'");
  }
};

}  // namespace

namespace detail {

BuiltinCriterion<NeuronCriterionFactoryWithArgument> taylor_neuron_criterion() {
  return {"taylor", false, [](const std::string&) { return std::make_shared<TaylorNeuronCriterion>(); }};
}

BuiltinCriterion<HeadCriterionFactoryWithArgument> taylor_head_criterion() {
  return {"taylor", false, [](const std::string&) { return std::make_shared<TaylorHeadCriterion>(); }};
}

}  // namespace detail

}  // namespace shears::pruning
