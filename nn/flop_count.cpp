// Analytic fvcore-convention FLOP counts (per block, with per-block token counts after token
// pruning), timm/HF parameter counts, the EViT keep-rate token-count rule, and the Markdown
// breakdown table. Conventions are documented in flop_count.h.
#include "nn/flop_count.h"

#include <cmath>
#include <cstdio>

#include "tensor/error.h"

namespace shears::nn {

namespace {
constexpr const char* kOp = "flop_count";
}  // namespace

BlockFlops count_block_flops(const ModelConfig& cfg, const BlockConfig& block, int64_t tokens_in,
                             int64_t tokens_out) {
  SHEARS_CHECK(tokens_in >= 1 && tokens_out >= 1 && tokens_out <= tokens_in, kOp,
               "token counts must satisfy 1 <= N_out <= N_in, got N_in ", tokens_in, ", N_out ", tokens_out);
  const double n_in = static_cast<double>(tokens_in);
  const double n_out = static_cast<double>(tokens_out);
  const double d = static_cast<double>(cfg.dim);
  const double aw = static_cast<double>(block.attn_width());
  const double m = static_cast<double>(block.mlp_hidden);
  // widths each branch reads / writes (P3B channel subsets; dim when dense)
  const double a_in = static_cast<double>(block.attn_in.width(cfg.dim));
  const double a_out = static_cast<double>(block.attn_out.width(cfg.dim));
  const double m_in = static_cast<double>(block.mlp_in.width(cfg.dim));
  const double m_out = static_cast<double>(block.mlp_out.width(cfg.dim));
  BlockFlops f;
  f.tokens_in = tokens_in;
  f.tokens_out = tokens_out;
  // a branch that reads no channel (constant: a bias add, not counted; or skipped) runs no LayerNorm
  if (a_in > 0) f.norm1 = 5.0 * n_in * d;  // statistics over all dim channels, as the sliced forward does
  f.qkv = n_in * a_in * 3.0 * aw;
  f.attn = 2.0 * n_in * n_in * aw;
  f.proj = n_in * aw * a_out;
  if (m_in > 0) f.norm2 = 5.0 * n_out * d;
  f.mlp = n_out * m_in * m + n_out * m * m_out;
  return f;
}

FlopReport count_flops(const ModelConfig& cfg, const TokenCounts& tokens_per_block) {
  cfg.validate();
  const int64_t depth = cfg.depth();
  TokenCounts tokens = tokens_per_block;
  if (tokens.empty()) {
    tokens.assign(static_cast<size_t>(depth), {cfg.num_tokens(), cfg.num_tokens()});
  } else {
    SHEARS_CHECK(static_cast<int64_t>(tokens.size()) == depth, kOp, "tokens_per_block has ", tokens.size(),
                 " entries, the model has ", depth, " blocks");
    SHEARS_CHECK(tokens[0].first <= cfg.num_tokens(), kOp, "block 0 gets ", tokens[0].first,
                 " tokens, more than the model's ", cfg.num_tokens());
    for (size_t i = 1; i < tokens.size(); ++i)
      SHEARS_CHECK(tokens[i].first == tokens[i - 1].second, kOp, "block ", i, " gets ", tokens[i].first,
                   " tokens but block ", i - 1, " left ", tokens[i - 1].second);
  }
  const double d = static_cast<double>(cfg.dim);
  FlopReport r;
  r.embed = static_cast<double>(cfg.num_patches()) * d * static_cast<double>(cfg.embed_pixels());
  if (cfg.stem_channels > 0)  // the 3x3 stem at every pixel: in_chans -> S, then S -> S per further layer
    r.embed += static_cast<double>(cfg.image_size * cfg.image_size) * static_cast<double>(cfg.stem_channels) *
               static_cast<double>((cfg.in_chans + (cfg.stem_depth - 1) * cfg.stem_channels) * 9);
  r.total = r.embed;
  for (int64_t i = 0; i < depth; ++i) {
    const auto& [n_in, n_out] = tokens[static_cast<size_t>(i)];
    SHEARS_CHECK(n_in >= 1 && n_out >= 1 && n_out <= n_in, kOp, "block ", i,
                 ": token counts must satisfy 1 <= N_out <= N_in, got N_in ", n_in, ", N_out ", n_out);
    const BlockFlops f = count_block_flops(cfg, cfg.blocks[static_cast<size_t>(i)], n_in, n_out);
    r.blocks.push_back(f);
    r.per_block.push_back(f.total());
    r.total += f.total();
  }
  // ViT: timm's `norm` over every token left; VideoMAE: fc_norm over the mean-pooled vector.
  const double norm_tokens = cfg.has_cls_token() ? static_cast<double>(tokens.back().second) : 1.0;
  r.final_norm = 5.0 * norm_tokens * d;
  r.head = d * static_cast<double>(cfg.num_classes);
  r.total += r.final_norm + r.head;
  return r;
}

TokenCounts keep_rate_token_counts(const ModelConfig& cfg, const std::vector<double>& keep_rate_per_block,
                                   bool fuse) {
  SHEARS_CHECK(static_cast<int64_t>(keep_rate_per_block.size()) == cfg.depth(), kOp, "keep_rate_per_block has ",
               keep_rate_per_block.size(), " entries, the model has ", cfg.depth(), " blocks");
  const int64_t special = cfg.has_cls_token() ? 1 : 0;
  int64_t n = cfg.num_tokens();
  TokenCounts out;
  for (size_t i = 0; i < keep_rate_per_block.size(); ++i) {
    const double rho = keep_rate_per_block[i];
    SHEARS_CHECK(rho > 0 && std::isfinite(rho), kOp, "keep rate of block ", i, " must be > 0, got ", rho);
    const int64_t n_in = n;
    if (rho < 1.0) {
      // Same double arithmetic as EViT's math.ceil(keep_rate * (N - 1)).
      const int64_t left = static_cast<int64_t>(std::ceil(rho * static_cast<double>(n - special)));
      if (left < n - special) n = special + left + (fuse ? 1 : 0);
    }
    out.emplace_back(n_in, n);
  }
  return out;
}

TokenCounts keep_rate_token_counts(const ModelConfig& cfg, double keep_rate, const std::vector<int64_t>& locations,
                                   bool fuse) {
  std::vector<double> rates(static_cast<size_t>(cfg.depth()), 1.0);
  for (int64_t loc : locations) {
    SHEARS_CHECK(loc >= 0 && loc < cfg.depth(), kOp, "pruning location ", loc, " is outside blocks 0..",
                 cfg.depth() - 1);
    rates[static_cast<size_t>(loc)] = keep_rate;
  }
  return keep_rate_token_counts(cfg, rates, fuse);
}

int64_t count_block_parameters(const ModelConfig& cfg, const BlockConfig& block) {
  // the ModelConfig caps keep every product below in int64 (no signed overflow on hostile sizes)
  // 0 only in the constant/skipped form of a P3B-sliced branch (nn/config.h); subsets hold <= dim entries
  const bool no_heads = block.heads == 0 && block.head_dim == 0;
  SHEARS_CHECK(cfg.dim >= 1 && cfg.dim <= kMaxModelDim &&
                   (no_heads || (block.heads >= 1 && block.heads <= kMaxHeads && block.head_dim >= 1 &&
                                 block.head_dim <= kMaxHeadDim)) &&
                   block.mlp_hidden >= 0 && block.mlp_hidden <= kMaxMlpHidden,
               kOp, "block sizes out of range: dim ", cfg.dim, ", heads ", block.heads, ", head_dim ", block.head_dim,
               ", mlp_hidden ", block.mlp_hidden, " (caps in nn/config.h)");
  const int64_t d = cfg.dim, aw = block.attn_width(), m = block.mlp_hidden;
  const int64_t ai = block.attn_in.width(d), ao = block.attn_out.width(d);
  const int64_t mi = block.mlp_in.width(d), mo = block.mlp_out.width(d);
  SHEARS_CHECK(ai <= d && ao <= d && mi <= d && mo <= d, kOp, "a channel subset of the block lists more than dim (",
               d, ") channels");
  int64_t qkv_bias = 0;
  if (cfg.qkv_bias) qkv_bias = cfg.arch == "videomae" ? 2 * aw : 3 * aw;  // q_bias + v_bias vs full bias
  return 2 * ai                     // norm1
         + 3 * aw * ai + qkv_bias   // qkv
         + ao * aw + ao             // proj
         + 2 * mi                   // norm2
         + m * mi + m               // fc1
         + mo * m + mo;             // fc2
}

int64_t count_parameters(const ModelConfig& cfg) {
  cfg.validate();
  const int64_t d = cfg.dim;
  int64_t p = d * cfg.embed_pixels() + d;                    // patch / tubelet embedding
  if (cfg.stem_channels > 0) {  // 3x3 stem: in_chans -> S, then S -> S per further layer
    p += cfg.stem_channels * (cfg.in_chans * 9 + 1);
    p += (cfg.stem_depth - 1) * cfg.stem_channels * (cfg.stem_channels * 9 + 1);
  }
  if (cfg.has_cls_token()) p += d + cfg.num_tokens() * d;    // cls_token, learned pos_embed
  for (const BlockConfig& b : cfg.blocks) p += count_block_parameters(cfg, b);
  p += 2 * d;                                                // norm (vit) / fc_norm (videomae)
  if (cfg.num_classes > 0) p += cfg.num_classes * d + cfg.num_classes;
  return p;
}

namespace {

std::string fmt(double v, double unit) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", v / unit);
  return buf;
}

}  // namespace

std::string flop_table_markdown(const ModelConfig& cfg, const FlopReport& r) {
  const bool giga = r.total >= 1e9;
  const double unit = giga ? 1e9 : 1e6;
  const std::string u = giga ? "G" : "M";
  const auto share = [&](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%%", r.total > 0 ? 100.0 * v / r.total : 0.0);
    return std::string(buf);
  };
  std::string s;
  s += "| part | tokens in -> out | heads x head_dim | mlp | norms (" + u + ") | qkv (" + u + ") | QK^T+AV (" + u +
       ") | proj (" + u + ") | mlp (" + u + ") | total (" + u + ") | share |\n";
  s += "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
  s += "| embed | " + std::to_string(cfg.num_patches()) + " | | | | | | | | " + fmt(r.embed, unit) + " | " +
       share(r.embed) + " |\n";
  for (size_t i = 0; i < r.blocks.size(); ++i) {
    const BlockFlops& f = r.blocks[i];
    const BlockConfig& b = cfg.blocks.at(i);
    s += "| block " + std::to_string(i + 1) + " | " + std::to_string(f.tokens_in) + " -> " +
         std::to_string(f.tokens_out) + " | " + std::to_string(b.heads) + " x " + std::to_string(b.head_dim) +
         " | " + std::to_string(b.mlp_hidden) + " | " + fmt(f.norm1 + f.norm2, unit) + " | " + fmt(f.qkv, unit) +
         " | " + fmt(f.attn, unit) + " | " + fmt(f.proj, unit) + " | " + fmt(f.mlp, unit) + " | " +
         fmt(f.total(), unit) + " | " + share(f.total()) + " |\n";
  }
  s += std::string("| ") + (cfg.has_cls_token() ? "norm" : "fc_norm") + " | | | | " + fmt(r.final_norm, unit) +
       " | | | | | " + fmt(r.final_norm, unit) + " | " + share(r.final_norm) + " |\n";
  s += "| head | | | | | | | | | " + fmt(r.head, unit) + " | " + share(r.head) + " |\n";
  s += "| **total** | | | | | | | | | **" + fmt(r.total, unit) + "** | 100.0% |\n";
  return s;
}

}  // namespace shears::nn
