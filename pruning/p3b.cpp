// P3B pruning run state (p3b.h): gates, ΔΨ and score accumulation, mask updates, finalize.
#include "pruning/p3b.h"

#include <cmath>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "pruning/surgery.h"
#include "pruning/token_pruning.h"
#include "pruning/transform.h"

namespace shears::pruning {

namespace {

constexpr const char* kWhere = "p3b";

void add_squared_taylor(const Tensor& gate, std::vector<double>& sum) {
  if (!gate.defined()) return;
  const Tensor grad = gate.grad();
  if (!grad.defined()) return;  // the gate did not reach the loss this step
  const std::vector<float> m = gate.to_vector<float>();
  const std::vector<float> g = grad.to_vector<float>();
  SHEARS_CHECK(m.size() == sum.size() && g.size() == sum.size(), kWhere, "gate of ", m.size(),
               " entries, gradient of ", g.size(), ", scores of ", sum.size());
  for (size_t i = 0; i < sum.size(); ++i) {
    const double t = static_cast<double>(m[i]) * static_cast<double>(g[i]);
    sum[i] += t * t;
  }
}

void write_gate(const Tensor& gate, const std::vector<double>& values) {
  SHEARS_CHECK(gate.defined() && gate.numel() == static_cast<int64_t>(values.size()), kWhere,
               "a gate of ", gate.defined() ? gate.numel() : 0, " entries cannot take ", values.size(), " mask values");
  float* p = gate.data<float>();
  for (size_t i = 0; i < values.size(); ++i) p[i] = static_cast<float>(values[i]);
}

std::vector<bool> hard(const std::vector<double>& soft) {
  std::vector<bool> out(soft.size());
  for (size_t i = 0; i < soft.size(); ++i) out[i] = soft[i] >= 0.5;
  return out;
}

std::vector<double> window_mean(const std::vector<double>& sum, int64_t count) {
  std::vector<double> out(sum.size(), 0.0);
  if (count <= 0) return out;
  for (size_t i = 0; i < sum.size(); ++i) out[i] = sum[i] / static_cast<double>(count);
  return out;
}

std::vector<int64_t> kept_indices(const std::vector<double>& soft) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < soft.size(); ++i)
    if (soft[i] >= 0.5) out.push_back(static_cast<int64_t>(i));
  return out;
}

}  // namespace

std::string p3b_allocation_name(P3bAllocation a) { return a == P3bAllocation::Uniform ? "uniform" : "benefit"; }

P3bAllocation parse_p3b_allocation(const std::string& text) {
  if (text == "benefit") return P3bAllocation::BlockBenefit;
  if (text == "uniform") return P3bAllocation::Uniform;
  fail(kWhere, "unknown keep-ratio allocation '", text, "'; expected benefit (the paper) or uniform (control)");
}

void P3bOptions::validate() const {
  SHEARS_CHECK(std::isfinite(prune_ratio) && prune_ratio >= 0 && prune_ratio < 1, kWhere, "prune ratio ", prune_ratio,
               " is not in [0, 1)");
  SHEARS_CHECK(start >= 0, kWhere, "pruning start iteration ", start, " is negative");
  SHEARS_CHECK(sparse >= start, kWhere, "sparse iteration ", sparse, " is before the pruning start ", start);
  SHEARS_CHECK(finalize >= sparse, kWhere, "finalize iteration ", finalize, " is before the sparse iteration ", sparse);
  SHEARS_CHECK(finalize > start, kWhere, "finalize iteration ", finalize, " must come after the pruning start ", start);
  SHEARS_CHECK(update_interval >= 1, kWhere, "mask update interval ", update_interval, " must be >= 1 iteration");
  SHEARS_CHECK(std::isfinite(tau_max) && std::isfinite(tau_min) && tau_min >= 0 && tau_max >= tau_min, kWhere,
               "mask temperatures tau_max ", tau_max, " / tau_min ", tau_min, " must satisfy 0 <= tau_min <= tau_max");
  SHEARS_CHECK(keep.gamma > 0 && keep.gamma <= 1, kWhere, "EMA gamma ", keep.gamma, " is not in (0, 1]");
  SHEARS_CHECK(keep.alpha >= 0 && keep.alpha <= 1, kWhere, "alpha ", keep.alpha, " is not in [0, 1]");
  SHEARS_CHECK(keep.scale > 0, kWhere, "importance scale S ", keep.scale, " must be > 0");
  SHEARS_CHECK(heads.patch_width >= 0 && heads.patch_layers >= 1, kWhere, "patch head width ", heads.patch_width,
               " / layers ", heads.patch_layers, " invalid (width >= 0, layers >= 1)");
}

std::string P3bOptions::describe() const {
  std::ostringstream s;
  s << "prune ratio " << prune_ratio << (block_params_only ? " (block params only)" : " (all params)")
    << ", allocation " << p3b_allocation_name(allocation) << ", reactivation " << (reactivation ? "on" : "off")
    << ", iterations start " << start << " sparse " << sparse << " finalize " << finalize << ", mask update every "
    << update_interval << ", S " << keep.scale << " gamma " << keep.gamma << " alpha " << keep.alpha << ", tau "
    << tau_max << " -> " << tau_min << ", gate factors attn_in " << factors.attn_in << " attn_qkv "
    << factors.attn_qkv << " attn_out " << factors.attn_out << " mlp_in " << factors.mlp_in << " mlp_hid "
    << factors.mlp_hid << " mlp_out " << factors.mlp_out << ", patch heads width "
    << (heads.patch_width == 0 ? std::string("= model width") : std::to_string(heads.patch_width)) << " x "
    << heads.patch_layers << " conv layers";
  return s.str();
}

P3bPruner::P3bPruner(nn::VisionTransformer& model, int64_t num_classes, P3bOptions options)
    : model_(model), opt_(std::move(options)) {
  opt_.validate();
  const nn::ModelConfig cfg = model.config();
  SHEARS_CHECK(cfg.has_cls_token(), kWhere, "P3B needs a ViT/DeiT with a cls token (arch 'vit'); got arch '",
               cfg.arch, "'");
  SHEARS_CHECK(find_token_pruning(model) == nullptr, kWhere,
               "the model has token pruning installed; P3B's patch heads need the full token grid (prune tokens after P3B)");
  SHEARS_CHECK(num_classes >= 1, kWhere, "number of classes ", num_classes, " must be >= 1");
  for (int64_t i = 0; i < cfg.depth(); ++i) {
    const nn::BlockConfig& bc = cfg.blocks[static_cast<size_t>(i)];
    SHEARS_CHECK(bc.attn_in.all && bc.attn_out.all && bc.mlp_in.all && bc.mlp_out.all, kWhere, "block ", i,
                 " already reads/writes a channel subset (an earlier P3B); run P3B on a model without one");
    SHEARS_CHECK(bc.heads >= 1 && bc.head_dim >= 1 && bc.mlp_hidden >= 1, kWhere, "block ", i,
                 " has an empty branch; P3B needs every branch present");
  }
  int64_t block_params = 0;
  for (int64_t i = 0; i < cfg.depth(); ++i) {
    auto& blk = *model.blocks->items[static_cast<size_t>(i)];
    const nn::BlockConfig& bc = cfg.blocks[static_cast<size_t>(i)];
    blk.attach_channel_gates(true);
    blk.attn->attach_qkv_gate(true);
    blk.mlp->attach_gate(true);
    Branch a;
    a.block = i;
    a.attention = true;
    a.shape = BranchShape{BranchKind::Attention, cfg.dim, bc.head_dim, bc.heads, cfg.qkv_bias};
    Branch m;
    m.block = i;
    m.attention = false;
    m.shape = BranchShape{BranchKind::Mlp, cfg.dim, bc.mlp_hidden, 1, true};
    for (Branch* b : {&a, &m}) {
      b->score_in.assign(static_cast<size_t>(cfg.dim), 0.0);
      b->score_mid.assign(static_cast<size_t>(b->shape.mid), 0.0);
      b->score_out.assign(static_cast<size_t>(cfg.dim), 0.0);
      block_params += pruning::unpruned_params(b->shape);
      branches_.push_back(*b);
    }
  }
  nonblock_params_ = opt_.block_params_only ? 0 : model.parameter_count() - block_params;
  SHEARS_CHECK(nonblock_params_ >= 0, kWhere, "the model has fewer parameters (", model.parameter_count(),
               ") than its blocks count (", block_params, "): the branch parameter count does not match the model");
  const size_t n = branches_.size();
  benefit_cls_sum_.assign(n, 0.0);
  benefit_patch_sum_.assign(n, 0.0);
  benefit_count_.assign(n, 0);
  prev_cls_sum_.assign(n, 0.0);
  prev_patch_sum_.assign(n, 0.0);
  prev_count_.assign(n, 0);
  prev_scores_.assign(3 * n, {});
  prev_score_count_.assign(n, 0);
  for (size_t j = 0; j < n; ++j) {
    prev_scores_[3 * j] = branches_[j].score_in;
    prev_scores_[3 * j + 1] = branches_[j].score_mid;
    prev_scores_[3 * j + 2] = branches_[j].score_out;
  }
  heads_ = std::make_unique<BlockPerformanceHeads>(static_cast<int64_t>(n), cfg.dim, cfg.grid(), num_classes,
                                                   opt_.heads, opt_.seed);
  model.keep_sub_block_features = true;
}

P3bPruner::~P3bPruner() {
  // The gates stay on an unfinalized model (they hold its current soft masks); the tap goes.
  model_.keep_sub_block_features = false;
  model_.sub_block_features.clear();
}

std::string P3bPruner::sub_block_name(int64_t j) const {
  const Branch& b = branches_.at(static_cast<size_t>(j));
  return (b.attention ? "attn " : "mlp ") + std::to_string(b.block);
}

std::vector<Tensor> P3bPruner::gates_of(const Branch& b) const {
  auto& blk = *model_.blocks->items.at(static_cast<size_t>(b.block));
  if (b.attention) return {blk.attn_in_gate, blk.attn->qkv_gate, blk.attn_out_gate};
  return {blk.mlp_in_gate, blk.mlp->gate, blk.mlp_out_gate};
}

Tensor P3bPruner::heads_loss(const std::function<Tensor(const Tensor& logits)>& criterion) {
  SHEARS_CHECK(!finalized_, kWhere, "heads_loss after finalize");
  const std::vector<Tensor>& features = model_.sub_block_features;
  SHEARS_CHECK(static_cast<int64_t>(features.size()) == sub_blocks() + 1, kWhere, "expected ", sub_blocks() + 1,
               " sub-block features from the model's forward, got ", features.size(),
               " (was the forward run with the feature tap on?)");
  BlockPerformanceHeads::Result r = heads_->evaluate(features, criterion);
  model_.sub_block_features.clear();
  if (iterations_ >= opt_.start) {
    for (size_t j = 0; j < branches_.size(); ++j) {
      SHEARS_CHECK(std::isfinite(r.delta_cls[j]) && std::isfinite(r.delta_patch[j]), kWhere,
                   "non-finite block benefit at iteration ", iterations_, " for ", sub_block_name(int64_t(j)));
      benefit_cls_sum_[j] += r.delta_cls[j];
      benefit_patch_sum_[j] += r.delta_patch[j];
      benefit_count_[j] += 1;
    }
  }
  return r.loss;
}

void P3bPruner::after_backward() {
  const bool scoring = iterations_ >= opt_.start && !finalized_;
  for (Branch& b : branches_) {
    std::vector<Tensor> g = gates_of(b);
    if (scoring) {
      add_squared_taylor(g[0], b.score_in);
      add_squared_taylor(g[1], b.score_mid);
      add_squared_taylor(g[2], b.score_out);
    }
    for (Tensor& t : g)
      if (t.defined()) t.set_grad(Tensor());
    if (scoring) b.score_count += 1;
  }
}

void P3bPruner::after_iteration() {
  if (finalized_) return;
  ++iterations_;
  if (iterations_ > opt_.start && iterations_ < opt_.finalize && (iterations_ - opt_.start) % opt_.update_interval == 0)
    update_masks(false);
}

std::vector<int64_t> P3bPruner::unpruned_params() const {
  std::vector<int64_t> out;
  for (const Branch& b : branches_) out.push_back(pruning::unpruned_params(b.shape));
  return out;
}

BranchMasks P3bPruner::hard_masks(const Branch& b) const {
  if (!b.has_selection) {
    return BranchMasks{std::vector<double>(b.score_in.size(), 1.0), std::vector<double>(b.score_mid.size(), 1.0),
                       std::vector<double>(b.score_out.size(), 1.0)};
  }
  BranchMasks m = b.selection.masks;
  for (auto* v : {&m.in, &m.mid, &m.out})
    for (double& x : *v) x = x >= 0.5 ? 1.0 : 0.0;
  return m;
}

std::vector<int64_t> P3bPruner::kept_params() const {
  std::vector<int64_t> out;
  for (const Branch& b : branches_) {
    const BranchMasks m = hard_masks(b);
    out.push_back(pruning::sliced_params(b.shape, hard(m.in), hard(m.mid), hard(m.out)));
  }
  return out;
}

std::vector<int64_t> P3bPruner::remaining_params() const {
  std::vector<int64_t> out;
  for (const Branch& b : branches_) {
    const BranchMasks m = hard_masks(b);
    out.push_back(pruning::kept_params(b.shape, hard(m.in), hard(m.mid), hard(m.out)));
  }
  return out;
}

void P3bPruner::set_gates(const Branch& b, const BranchMasks& masks) {
  const std::vector<Tensor> g = gates_of(b);
  write_gate(g[0], masks.in);
  write_gate(g[1], masks.mid);
  write_gate(g[2], masks.out);
}

void P3bPruner::update_masks(bool final) {
  const size_t n = branches_.size();
  P3bUpdate u;
  u.iteration = iterations_;
  u.final = final;
  std::vector<double> cls = benefit_cls_sum_, patch = benefit_patch_sum_;
  std::vector<int64_t> count = benefit_count_;
  if (final) {  // METHODS §2.7: the last update adds the previous window's sums
    for (size_t j = 0; j < n; ++j) {
      cls[j] += prev_cls_sum_[j];
      patch[j] += prev_patch_sum_[j];
      count[j] += prev_count_[j];
    }
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (size_t j = 0; j < n; ++j) {
    u.benefit_cls.push_back(count[j] > 0 ? cls[j] / double(count[j]) : nan);
    u.benefit_patch.push_back(count[j] > 0 ? patch[j] / double(count[j]) : nan);
  }
  const std::vector<int64_t> unpruned = unpruned_params();
  const std::vector<int64_t> kept_before = remaining_params();  // the authors' count (whole LayerNorm)
  std::vector<double> w(n), remaining(n);
  double w_total = 0;
  for (size_t j = 0; j < n; ++j) {
    w[j] = static_cast<double>(unpruned[j]);
    remaining[j] = static_cast<double>(kept_before[j]);
    w_total += w[j];
  }
  const double model_keep = 1.0 - opt_.prune_ratio;
  std::vector<double> goal;
  if (opt_.allocation == P3bAllocation::BlockBenefit) {
    const std::vector<double> tc = transform_benefit(cls, count, remaining, opt_.keep);
    const std::vector<double> tp = transform_benefit(patch, count, remaining, opt_.keep);
    u.importance = importance_.update(tc, tp, opt_.keep);
    goal = water_fill_keep_ratios(u.importance, w, static_cast<double>(nonblock_params_), model_keep,
                                  opt_.keep.max_passes);
  } else {
    const double nonblock = static_cast<double>(nonblock_params_);
    const double target = model_keep * (w_total + nonblock) - nonblock;
    SHEARS_CHECK(target >= 0, kWhere, "prune ratio ", opt_.prune_ratio, " cannot be met by pruning blocks only: the ",
                 nonblock_params_, " non-block parameters alone exceed ", model_keep * 100, "% of the model");
    goal.assign(n, std::min(1.0, target / w_total));
  }
  const double r = final ? 1.0 : keep_ratio_ramp(iterations_ - 1, opt_.start, opt_.sparse);
  u.tau = final ? opt_.tau_max : mask_temperature(iterations_, opt_.sparse, opt_.finalize, opt_.tau_max, opt_.tau_min);
  for (size_t j = 0; j < n; ++j) {
    Branch& b = branches_[j];
    const double kr = 1.0 - (1.0 - goal[j]) * r;
    u.goal_keep_ratio.push_back(goal[j]);
    u.keep_ratio.push_back(kr);
    std::vector<double> s_in = b.score_in, s_mid = b.score_mid, s_out = b.score_out;
    int64_t sc = b.score_count;
    if (final) {
      for (size_t i = 0; i < s_in.size(); ++i) s_in[i] += prev_scores_[3 * j][i];
      for (size_t i = 0; i < s_mid.size(); ++i) s_mid[i] += prev_scores_[3 * j + 1][i];
      for (size_t i = 0; i < s_out.size(); ++i) s_out[i] += prev_scores_[3 * j + 2][i];
      sc += prev_score_count_[j];
    }
    BranchSelection sel =
        select_branch_elements(b.shape, window_mean(s_in, sc), window_mean(s_mid, sc), window_mean(s_out, sc), kr,
                               u.tau, opt_.factors, b.has_selection ? &b.selection : nullptr, opt_.reactivation);
    set_gates(b, sel.masks);
    u.reactivated += sel.reactivated;
    b.selection = std::move(sel);
    b.has_selection = true;
    // the window becomes the previous one
    prev_scores_[3 * j] = b.score_in;
    prev_scores_[3 * j + 1] = b.score_mid;
    prev_scores_[3 * j + 2] = b.score_out;
    prev_score_count_[j] = b.score_count;
    std::fill(b.score_in.begin(), b.score_in.end(), 0.0);
    std::fill(b.score_mid.begin(), b.score_mid.end(), 0.0);
    std::fill(b.score_out.begin(), b.score_out.end(), 0.0);
    b.score_count = 0;
  }
  prev_cls_sum_ = benefit_cls_sum_;
  prev_patch_sum_ = benefit_patch_sum_;
  prev_count_ = benefit_count_;
  std::fill(benefit_cls_sum_.begin(), benefit_cls_sum_.end(), 0.0);
  std::fill(benefit_patch_sum_.begin(), benefit_patch_sum_.end(), 0.0);
  std::fill(benefit_count_.begin(), benefit_count_.end(), 0);
  u.unpruned_params = unpruned;
  u.kept_params = kept_params();
  if (final) final_keep_ratio_ = u.keep_ratio;
  updates_.push_back(std::move(u));
}

int64_t P3bPruner::total_reactivated() const {
  int64_t total = 0;
  for (const P3bUpdate& u : updates_) total += u.reactivated;
  return total;
}

std::vector<nn::ParameterSlice> P3bPruner::finalize() {
  SHEARS_CHECK(!finalized_, kWhere, "finalize called twice");
  update_masks(true);
  for (Branch& b : branches_) {
    const BranchMasks m = hard_masks(b);
    set_gates(b, m);
    b.selection.masks = m;
  }
  slices_ = slice_by_gates(model_);
  model_.keep_sub_block_features = false;
  model_.sub_block_features.clear();
  finalized_ = true;
  return slices_;
}

nn::PruneStep P3bPruner::step() const {
  SHEARS_CHECK(finalized_, kWhere, "step() before finalize()");
  nn::PruneStep s;
  s.kind = "p3b";
  s.method = "p3b:ratio=" + format_number(opt_.prune_ratio);
  nlohmann::json p;
  p["prune_ratio"] = opt_.prune_ratio;
  p["block_params_only"] = opt_.block_params_only;
  p["allocation"] = p3b_allocation_name(opt_.allocation);
  p["reactivation"] = opt_.reactivation;
  p["iterations"] = {{"start", opt_.start}, {"sparse", opt_.sparse}, {"finalize", opt_.finalize},
                     {"update_interval", opt_.update_interval}};
  p["keep"] = {{"scale", opt_.keep.scale}, {"gamma", opt_.keep.gamma}, {"alpha", opt_.keep.alpha},
               {"max_passes", opt_.keep.max_passes}};
  p["tau"] = {opt_.tau_max, opt_.tau_min};
  p["gate_factors"] = {{"attn_in", opt_.factors.attn_in},   {"attn_qkv", opt_.factors.attn_qkv},
                       {"attn_out", opt_.factors.attn_out}, {"mlp_in", opt_.factors.mlp_in},
                       {"mlp_hid", opt_.factors.mlp_hid},   {"mlp_out", opt_.factors.mlp_out}};
  p["patch_head"] = {{"width", opt_.heads.patch_width}, {"layers", opt_.heads.patch_layers}};
  p["keep_ratio"] = final_keep_ratio_;
  p["reactivated"] = total_reactivated();
  s.params_json = p.dump();
  for (const Branch& b : branches_) {
    const BranchMasks& m = b.selection.masks;
    const std::string prefix = "blocks." + std::to_string(b.block) + (b.attention ? ".attn" : ".mlp");
    s.kept[prefix + "_in"] = kept_indices(m.in);
    s.kept[prefix + (b.attention ? "_qkv" : "_hid")] = kept_indices(m.mid);
    s.kept[prefix + "_out"] = kept_indices(m.out);
  }
  return s;
}

}  // namespace shears::pruning
