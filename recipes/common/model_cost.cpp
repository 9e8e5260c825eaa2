// Parameter and FLOP cost of a model as it is (see model_cost.h).
#include "common/model_cost.h"

#include <algorithm>
#include <cstdio>

#include "autograd/ops.h"
#include "data/data_loader.h"
#include "pruning/token_pruning.h"
#include "tensor/creation.h"
#include "tensor/error.h"

namespace shears::recipes {

ModelCost cost_from_flops(int64_t params, const nn::FlopReport& flops) {
  ModelCost c;
  c.params = params;
  c.gflops = flops.total / 1e9;
  double linear = flops.embed + flops.head, attention = 0, norm = flops.final_norm;
  for (const nn::BlockFlops& b : flops.blocks) {
    linear += b.qkv + b.proj + b.mlp;
    attention += b.attn;
    norm += b.norm1 + b.norm2;
  }
  c.gflops_linear = linear / 1e9;
  c.gflops_attention = attention / 1e9;
  c.gflops_norm = norm / 1e9;
  return c;
}

std::string flop_reconciliation_markdown(const ModelCost& base_cost, const profile::Report& base, int64_t base_steps,
                                         const ModelCost& other_cost, const profile::Report& other,
                                         int64_t other_steps) {
  SHEARS_CHECK(base_steps >= 1 && other_steps >= 1, "flop_reconciliation_markdown", "steps must be >= 1, got ",
               base_steps, " and ", other_steps);
  std::string out =
      "| work (profile category) | FLOP ratio | measured speedup | speedup / FLOP ratio |\n|---|---:|---:|---:|\n";
  auto row = [&](const char* name, double base_gflops, double other_gflops, double base_s, double other_s) {
    char ratio[32] = "-", speedup[32] = "-", rel[32] = "-";
    const bool have_flops = base_gflops > 0 && other_gflops > 0, have_time = base_s > 0 && other_s > 0;
    const double r = have_flops ? base_gflops / other_gflops : 0;
    const double sp = have_time ? (base_s / double(base_steps)) / (other_s / double(other_steps)) : 0;
    if (have_flops) std::snprintf(ratio, sizeof ratio, "%.2f", r);
    if (have_time) std::snprintf(speedup, sizeof speedup, "%.2fx", sp);
    if (have_flops && have_time) std::snprintf(rel, sizeof rel, "%.3f", sp / r);
    out += std::string("| ") + name + " | " + ratio + " | " + speedup + " | " + rel + " |\n";
  };
  auto secs = [](const profile::Report& r, profile::Category c) { return r.seconds[size_t(c)]; };
  row("Linear layers, patch embedding, head (GEMM; the GELU epilogue is not counted)", base_cost.gflops_linear,
      other_cost.gflops_linear, secs(base, profile::Category::Gemm), secs(other, profile::Category::Gemm));
  row("QK^T and AV (attention core; its softmax is not counted)", base_cost.gflops_attention,
      other_cost.gflops_attention, secs(base, profile::Category::Attention), secs(other, profile::Category::Attention));
  row("layer norms (layer norm)", base_cost.gflops_norm, other_cost.gflops_norm, secs(base, profile::Category::Norm),
      secs(other, profile::Category::Norm));
  row("whole forward (wall)", base_cost.gflops, other_cost.gflops, base.wall_seconds, other.wall_seconds);
  // the Linear layers' rate in each model (profile::GemmShape: their flops over their time, epilogues included),
  // and what the other model's forward would take were its Linear layers as fast per flop as the base's
  const double base_rate = profile::gemm_shapes_gflops(base), other_rate = profile::gemm_shapes_gflops(other);
  if (base_rate <= 0 || other_rate <= 0 || base.wall_seconds <= 0 || other.wall_seconds <= 0) return out;
  double other_gemm_s = 0, other_gemm_flops = 0;
  for (const profile::GemmShape& g : other.gemm_shapes) other_gemm_s += g.seconds, other_gemm_flops += g.flops;
  const double ms = 1e3 / double(other_steps);
  const double gemm_ms = other_gemm_s * ms, gemm_at_base_ms = other_gemm_flops / (base_rate * 1e9) * ms;
  const double base_wall_ms = 1e3 * base.wall_seconds / double(base_steps), wall_ms = other.wall_seconds * ms;
  const double wall_at_base_ms = wall_ms - gemm_ms + gemm_at_base_ms;
  const double flop_ratio = other_cost.gflops > 0 ? base_cost.gflops / other_cost.gflops : 0;
  char text[768];
  std::snprintf(text, sizeof text,
                "\nLinear layers' rate (their flops over their time, bias and GELU epilogues included): original "
                "%.1f GFLOP/s, pruned %.1f GFLOP/s (%.3f of the original's). At the original's rate the pruned "
                "Linear layers would take %.1f ms per forward instead of %.1f ms, and the forward %.1f ms instead of "
                "%.1f: %.2fx faster than the original instead of %.2fx",
                base_rate, other_rate, other_rate / base_rate, gemm_at_base_ms, gemm_ms, wall_at_base_ms, wall_ms,
                base_wall_ms / wall_at_base_ms, base_wall_ms / wall_ms);
  out += text;
  if (flop_ratio > 0) {
    std::snprintf(text, sizeof text, " (%.3f of the FLOP ratio instead of %.3f)",
                  base_wall_ms / wall_at_base_ms / flop_ratio, base_wall_ms / wall_ms / flop_ratio);
    out += text;
  }
  out += ".\n";
  return out;
}

ModelCost model_cost(nn::VisionTransformer& model, const Tensor& batch) {
  const nn::ModelConfig cfg = model.config();
  const int64_t params = nn::count_parameters(cfg);
  std::shared_ptr<pruning::TokenPruning> tokens = pruning::find_token_pruning(model);
  if (!tokens) return cost_from_flops(params, nn::count_flops(cfg));
  const bool was_training = model.is_training();
  model.eval();
  {
    NoGradGuard no_grad;
    model.forward(narrow(batch, 0, 0, 1));
  }
  model.train(was_training);
  return cost_from_flops(params, nn::count_flops(cfg, tokens->last_token_counts()));
}

Tensor first_inputs(std::shared_ptr<const data::Dataset> data, const data::Transform& transform,
                    const nn::ModelConfig& cfg, int64_t count) {
  SHEARS_CHECK(count >= 1, "first_inputs", "need count >= 1, got ", count);
  if (!data) {
    Shape shape = cfg.arch == "videomae" ? Shape{count, cfg.in_chans, cfg.frames, cfg.image_size, cfg.image_size}
                                         : Shape{count, cfg.in_chans, cfg.image_size, cfg.image_size};
    return zeros(shape);
  }
  SHEARS_CHECK(data->size() >= 1, "first_inputs", "the data set is empty: ", data->describe());
  data::LoaderOptions o;
  o.batch_size = std::min<int64_t>(count, data->size());
  o.shuffle = false;
  o.drop_last = false;
  data::DataLoader loader(data, o, transform);
  loader.start_epoch(0);
  data::Batch b;
  loader.next(b);
  return b.inputs;
}

}  // namespace shears::recipes
