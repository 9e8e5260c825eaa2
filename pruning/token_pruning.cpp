// Keep-rate token pruning on VisionTransformer blocks: install/remove, the hook body (select,
// gather, fuse) and the records of the last forward (see token_pruning.h).
#include "pruning/token_pruning.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <nlohmann/json.hpp>

#include "autograd/ops.h"
#include "nn/io/bounded_json.h"

namespace shears::pruning {

namespace {

void check_keep_rate(double keep_rate, const char* op) {
  SHEARS_CHECK(keep_rate > 0.0 && keep_rate <= 1.0, op, "keep_rate must be in (0, 1], got ", keep_rate);
}

// A handle on the same data without autograd history (the policy scores must not record a graph).
Tensor detached(const Tensor& t) { return Tensor::view_of(t, t.shape(), t.strides(), t.offset()); }

}  // namespace

std::vector<int64_t> default_pruning_locations(int64_t depth) {
  SHEARS_CHECK(depth >= 1, "default_pruning_locations", "depth must be >= 1, got ", depth);
  std::vector<int64_t> out;
  for (int64_t k = 1; k <= 3; ++k) {
    const int64_t loc = depth * k / 4;
    if (out.empty() || out.back() != loc) out.push_back(loc);
  }
  return out;
}

int64_t tokens_left(double keep_rate, int64_t non_cls) {
  if (keep_rate >= 1.0) return non_cls;
  // Same double arithmetic as EViT's math.ceil(keep_rate * (N - 1)) and nn::keep_rate_token_counts.
  return std::min(non_cls, static_cast<int64_t>(std::ceil(keep_rate * static_cast<double>(non_cls))));
}

Tensor gather_and_fuse_tokens(const Tensor& x, const Tensor& probs, const Tensor& kept, bool fuse) {
  const char* op = "gather_and_fuse_tokens";
  SHEARS_CHECK(x.dim() == 3 && x.size(1) >= 2, op, "expected tokens x of shape (B, N, C) with N >= 2, got ",
               shape_str(x.shape()));
  const int64_t B = x.size(0), N = x.size(1), C = x.size(2);
  SHEARS_CHECK(kept.dim() == 2 && kept.size(0) == B && kept.size(1) <= N - 1 && kept.dtype() == DType::I64, op,
               "expected kept indices of shape (B, left) i64 with left <= N - 1 = ", N - 1, " for x of shape ",
               shape_str(x.shape()), ", got ", shape_str(kept.shape()), " ", dtype_name(kept.dtype()));
  SHEARS_CHECK(!fuse || (probs.dim() == 4 && probs.size(0) == B && probs.size(2) == N && probs.size(3) == N), op,
               "fusion needs attention probabilities probs of shape (", B, ", H, ", N, ", ", N, "), got ",
               probs.defined() ? shape_str(probs.shape()) : std::string("(undefined)"));
  const int64_t left = kept.size(1);
  const std::vector<int64_t> idx = kept.to_vector<int64_t>();

  std::vector<int64_t> rows;  // rows of x viewed as (B * N, C): CLS, then the kept tokens
  rows.reserve(static_cast<size_t>(B * (left + 1)));
  std::vector<int64_t> pruned_rows, pruned_weights;  // rows of x and of the (B * (N-1)) CLS attention
  std::vector<char> is_kept(static_cast<size_t>(N - 1));
  for (int64_t b = 0; b < B; ++b) {
    std::fill(is_kept.begin(), is_kept.end(), 0);
    rows.push_back(b * N);
    for (int64_t k = 0; k < left; ++k) {
      const int64_t j = idx[size_t(b * left + k)];
      SHEARS_CHECK(j >= 0 && j < N - 1 && !is_kept[size_t(j)], op, "kept index ", j, " of sample ", b,
                   " is out of range [0, ", N - 1, ") or repeated");
      is_kept[size_t(j)] = 1;
      rows.push_back(b * N + 1 + j);
    }
    if (fuse)
      for (int64_t j = 0; j < N - 1; ++j)
        if (!is_kept[size_t(j)]) {
          pruned_rows.push_back(b * N + 1 + j);
          pruned_weights.push_back(b * (N - 1) + j);
        }
  }
  Tensor flat = reshape(x, {B * N, C});
  Tensor out = reshape(index_select(flat, 0, from_vector(rows).to(x.device())), {B, left + 1, C});
  const int64_t num_pruned = N - 1 - left;
  if (!fuse || num_pruned == 0) return out;
  // EViT: w = mean_h probs[:, h, 0, 1:] of the pruned tokens (raw); extra = sum_j w_j x_j
  Tensor cls_attention = reshape(mean(slice(slice(probs, 2, 0, 1), 3, 1, N), {1}), {B * (N - 1)});
  Tensor weights = reshape(index_select(cls_attention, 0, from_vector(pruned_weights).to(x.device())), {B, num_pruned, 1});
  Tensor pruned = reshape(index_select(flat, 0, from_vector(pruned_rows).to(x.device())), {B, num_pruned, C});
  Tensor extra = sum(pruned * weights, {1}, /*keepdim=*/true);  // (B, 1, C)
  return concat({out, extra}, 1);
}

bool default_fuse(const TokenPolicySpec& policy) { return policy.kind == TokenPolicyKind::EViT; }

bool resolved_fuse(const TokenPruningConfig& cfg) {
  if (cfg.fuse) return *cfg.fuse;
  SHEARS_CHECK(!cfg.custom_policy, "token_pruning", "a custom policy ('", cfg.custom_policy->name(),
               "') has no default fusion; set TokenPruningConfig::fuse");
  return default_fuse(cfg.policy);
}

const char* head_aggregation_name(HeadAggregation aggregation) {
  return aggregation == HeadAggregation::MeanOfHeadEntropies ? "mean_of_head_entropies" : "entropy_of_head_mean";
}

HeadAggregation parse_head_aggregation(const std::string& name) {
  if (name == "mean_of_head_entropies") return HeadAggregation::MeanOfHeadEntropies;
  if (name == "entropy_of_head_mean") return HeadAggregation::EntropyOfHeadMean;
  fail("parse_head_aggregation", "unknown head aggregation '", name,
       "'; expected mean_of_head_entropies or entropy_of_head_mean");
}

std::string token_pruning_config_to_json(const TokenPruningConfig& cfg) {
  SHEARS_CHECK(!cfg.custom_policy, "token_pruning", "token pruning with the custom policy '",
               cfg.custom_policy->name(),
               "' cannot be saved: a checkpoint can only re-create the named policies (evit, shannon, renyi:<a>, "
               "random); remove_token_pruning before saving or use a named policy");
  nlohmann::json j;
  j["policy"] = cfg.policy.name();
  if (cfg.policy.kind == TokenPolicyKind::Entropy && std::isfinite(cfg.policy.renyi_order))
    j["renyi_order"] = cfg.policy.renyi_order;  // exact (the name rounds to 6 digits)
  j["keep_rate"] = cfg.keep_rate;
  j["locations"] = cfg.locations;
  j["fuse"] = resolved_fuse(cfg);
  j["exclude_cls_key"] = cfg.exclude_cls_key;
  j["head_aggregation"] = head_aggregation_name(cfg.head_aggregation);
  j["seed"] = cfg.seed;
  return j.dump();
}

TokenPruningConfig token_pruning_config_from_json(const std::string& text) {
  const char* op = "token_pruning_config";
  nlohmann::json j;
  try {
    j = nn::parse_bounded_json<nlohmann::json>(text, op, "config", "JSON");  // depth-limited: dump() stays safe
  } catch (const nlohmann::json::exception& e) {
    fail(op, "not valid JSON: ", e.what());
  }
  SHEARS_CHECK(j.is_object(), op, "expected a JSON object, got ", j.type_name());
  auto need = [&](const char* key, bool ok, const char* what) {
    SHEARS_CHECK(j.contains(key), op, "missing key '", key, "' in ", text);
    SHEARS_CHECK(ok, op, "key '", key, "' must be ", what, ", got ", j[key].dump());
  };
  need("policy", j.contains("policy") && j["policy"].is_string(), "a policy name");
  need("keep_rate", j.contains("keep_rate") && j["keep_rate"].is_number(), "a number");
  need("locations", j.contains("locations") && j["locations"].is_array(), "an array of block indices");
  need("fuse", j.contains("fuse") && j["fuse"].is_boolean(), "true or false");
  need("exclude_cls_key", j.contains("exclude_cls_key") && j["exclude_cls_key"].is_boolean(), "true or false");
  need("head_aggregation", j.contains("head_aggregation") && j["head_aggregation"].is_string(), "a string");
  need("seed", j.contains("seed") && j["seed"].is_number_unsigned(), "an unsigned integer");
  TokenPruningConfig cfg;
  try {
    cfg.policy = parse_token_policy(j["policy"].get<std::string>());
    if (j.contains("renyi_order")) {
      SHEARS_CHECK(j["renyi_order"].is_number() && cfg.policy.kind == TokenPolicyKind::Entropy, op,
                   "'renyi_order' must be a number and only comes with an entropy policy, got ",
                   j["renyi_order"].dump(), " for policy ", j["policy"].dump());
      cfg.policy.renyi_order = j["renyi_order"].get<double>();
    }
    cfg.head_aggregation = parse_head_aggregation(j["head_aggregation"].get<std::string>());
  } catch (const Error& e) {
    fail(op, e.what());
  }
  cfg.keep_rate = j["keep_rate"].get<double>();
  for (const auto& v : j["locations"]) {
    SHEARS_CHECK(v.is_number_integer(), op, "'locations' must hold block indices, got ", v.dump());
    cfg.locations.push_back(v.get<int64_t>());
  }
  cfg.fuse = j["fuse"].get<bool>();
  cfg.exclude_cls_key = j["exclude_cls_key"].get<bool>();
  cfg.seed = j["seed"].get<uint64_t>();
  return cfg;
}

TokenPruning::TokenPruning(const TokenPruningConfig& cfg, std::shared_ptr<nn::BlockList> blocks,
                           std::vector<std::shared_ptr<nn::Block>> installed)
    : cfg_(cfg), blocks_(blocks) {
  check_keep_rate(cfg.keep_rate, "token_pruning");
  SHEARS_CHECK(blocks != nullptr, "token_pruning", "no block list");
  cfg_.fuse = resolved_fuse(cfg);
  for (auto& b : installed) installed_.push_back(b);
  policy_ = cfg.custom_policy ? cfg.custom_policy
                              : make_token_policy(cfg.policy, cfg.exclude_cls_key, cfg.head_aggregation, cfg.seed);
}

int64_t TokenPruning::current_depth() const {
  auto list = blocks_.lock();
  return list ? static_cast<int64_t>(list->size()) : 0;
}

std::vector<int64_t> TokenPruning::locations() const {
  std::vector<int64_t> out;
  auto list = blocks_.lock();
  if (!list) return out;
  for (const auto& weak : installed_) {
    auto b = weak.lock();
    if (!b) continue;
    const int64_t i = b->index();
    if (i >= 0 && i < static_cast<int64_t>(list->size()) && list->items[size_t(i)] == b) out.push_back(i);
  }
  std::sort(out.begin(), out.end());
  return out;
}

TokenPruningConfig TokenPruning::config() const {
  TokenPruningConfig c = cfg_;
  c.locations = locations();
  return c;
}

std::string TokenPruning::to_json() const { return token_pruning_config_to_json(config()); }

void TokenPruning::set_keep_rate(double keep_rate) {
  check_keep_rate(keep_rate, "set_keep_rate");
  cfg_.keep_rate = keep_rate;
}

nn::TokenCounts TokenPruning::last_token_counts() const {
  nn::TokenCounts out;
  if (records_.empty()) return out;
  SHEARS_CHECK(forward_depth_ == current_depth(), "last_token_counts", "the model had ", forward_depth_,
               " blocks in the last forward and has ", current_depth(),
               " now (block surgery since); run a forward to get the token counts of the model as it is");
  // the first record's tokens_in is what block 0 saw only when no hook ran before it
  int64_t n = records_.front().tokens_in;
  size_t r = 0;
  for (int64_t block = 0; block < forward_depth_; ++block) {
    if (r < records_.size() && records_[r].block == block) {
      out.emplace_back(records_[r].tokens_in, records_[r].tokens_out);
      n = records_[r].tokens_out;
      ++r;
    } else {
      out.emplace_back(n, n);
    }
  }
  return out;
}

Tensor TokenPruning::apply(int64_t block, const Tensor& x, const Tensor& probs) {
  const char* op = "token_pruning";
  SHEARS_CHECK(x.dim() == 3 && x.size(1) >= 2, op, "block ", block, ": expected tokens x of shape (B, N, C), got ",
               shape_str(x.shape()));
  const int64_t B = x.size(0), N = x.size(1);
  SHEARS_CHECK(probs.dim() == 4 && probs.size(0) == B && probs.size(2) == N && probs.size(3) == N, op, "block ",
               block, ": attention probabilities probs of shape ", shape_str(probs.shape()),
               " do not match tokens of shape ", shape_str(x.shape()));

  // A new forward starts at a block at or before the previous call's, or when the tokens do not
  // continue the previous call's (another batch size or sequence).
  bool continues = last_block_ >= 0 && block > last_block_ && static_cast<int64_t>(origin_.size()) == B;
  for (size_t b = 0; continues && b < origin_.size(); ++b) continues = static_cast<int64_t>(origin_[b].size()) == N - 1;
  if (!continues) {
    records_.clear();
    current_step_ = next_step_++;
    forward_depth_ = current_depth();
    origin_.assign(static_cast<size_t>(B), std::vector<int64_t>(static_cast<size_t>(N - 1)));
    for (auto& o : origin_) std::iota(o.begin(), o.end(), int64_t(0));
  }
  last_block_ = block;

  PruningRecord rec;
  rec.block = block;
  rec.tokens_in = rec.tokens_out = N;
  Tensor y = x;
  const int64_t left = tokens_left(cfg_.keep_rate, N - 1);
  if (left < N - 1) {
    Tensor priority;
    {
      NoGradGuard no_grad;
      priority = policy_->keep_priority(detached(x), detached(probs), {block, current_step_});
    }
    SHEARS_CHECK(priority.dim() == 2 && priority.size(0) == B && priority.size(1) == N - 1, op, "policy '",
                 policy_->name(), "' returned priorities of shape ", shape_str(priority.shape()), ", expected (", B,
                 ", ", N - 1, ")");
    Tensor kept = select_top_tokens(priority, left).to(x.device());  // chosen on the host (B x left values)
    y = gather_and_fuse_tokens(x, probs, kept, *cfg_.fuse);
    const std::vector<int64_t> idx = kept.to_vector<int64_t>();
    for (int64_t b = 0; b < B; ++b) {
      std::vector<int64_t> next(static_cast<size_t>(left));
      for (int64_t k = 0; k < left; ++k) next[size_t(k)] = origin_[size_t(b)][size_t(idx[size_t(b * left + k)])];
      if (y.size(1) == left + 2) next.push_back(-1);
      origin_[size_t(b)] = std::move(next);
    }
    rec.tokens_out = y.size(1);
  }
  rec.kept_patches = origin_;
  records_.push_back(std::move(rec));
  return y;
}

std::shared_ptr<TokenPruning> install_token_pruning(nn::VisionTransformer& model, const TokenPruningConfig& cfg) {
  const char* op = "install_token_pruning";
  SHEARS_CHECK(model.cls_token.defined(), op,
               "token pruning keeps the CLS token at index 0; this model has no cls_token (VideoMAE)");
  const int64_t depth = static_cast<int64_t>(model.blocks->size());
  // A block whose attention branch P3B removed (skipped or constant) computes no attention probabilities.
  auto has_attention = [&](int64_t b) {
    const nn::Block& block = *(*model.blocks)[size_t(b)];
    return !block.attn_skipped() && !block.attn_constant();
  };
  std::vector<int64_t> locations = cfg.locations;
  if (locations.empty()) {  // the defaults, each moved to the first later block that still has attention
    for (int64_t loc : default_pruning_locations(depth)) {
      int64_t b = std::max<int64_t>(loc, locations.empty() ? 0 : locations.back() + 1);
      while (b < depth && !has_attention(b)) ++b;
      if (b < depth) locations.push_back(b);
    }
    SHEARS_CHECK(!locations.empty(), op, "no block of this ", depth,
                 "-block model has an attention branch (pruned away), so no token can be scored");
  }
  std::vector<int64_t> sorted = locations;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) {
    SHEARS_CHECK(sorted[i] >= 0 && sorted[i] < depth, op, "pruning location ", sorted[i], " is outside blocks 0..",
                 depth - 1);
    SHEARS_CHECK(i == 0 || sorted[i] != sorted[i - 1], op, "pruning location ", sorted[i], " is listed twice");
    SHEARS_CHECK(has_attention(sorted[i]), op, "pruning location ", sorted[i],
                 " is a block whose attention branch was pruned away (P3B: skipped or constant), so it has no "
                 "attention probabilities to score tokens with; choose another location");
    SHEARS_CHECK(!(*model.blocks)[size_t(sorted[i])]->token_hook, op, "block ", sorted[i],
                 " already has a token hook; call remove_token_pruning first");
  }
  SHEARS_CHECK(!find_token_pruning(model), op,
               "the model already has token pruning installed; call remove_token_pruning first");
  std::vector<std::shared_ptr<nn::Block>> installed;
  for (int64_t loc : sorted) installed.push_back((*model.blocks)[size_t(loc)]);
  auto state = std::make_shared<TokenPruning>(cfg, model.blocks, installed);
  for (auto& block : installed) {
    // the raw pointer: the hook lives in the block, so the block outlives every call
    nn::Block* self = block.get();
    block->token_hook = [state, self](const Tensor& x, const Tensor& probs) {
      return state->apply(self->index(), x, probs);
    };
  }
  model.extensions.push_back(state);
  return state;
}

void remove_token_pruning(nn::VisionTransformer& model) {
  for (auto& block : model.blocks->items) block->token_hook = nullptr;
  auto& ext = model.extensions;
  ext.erase(std::remove_if(ext.begin(), ext.end(),
                           [](const std::shared_ptr<nn::ModelExtension>& e) {
                             return std::dynamic_pointer_cast<TokenPruning>(e) != nullptr;
                           }),
            ext.end());
}

std::shared_ptr<TokenPruning> find_token_pruning(const nn::VisionTransformer& model) {
  for (const auto& e : model.extensions)
    if (auto tp = std::dynamic_pointer_cast<TokenPruning>(e)) return tp;
  return nullptr;
}

}  // namespace shears::pruning
