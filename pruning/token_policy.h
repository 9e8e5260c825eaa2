// Token policies: which patch tokens a pruning block keeps. A policy is a criterion only: it gives
// each non-CLS token a keep priority from the block's tokens and attention probabilities, and
// select_top_tokens turns priorities into kept indices (token_pruning.h gathers and fuses).
//   evit         CLS attention averaged over heads, mean_h A[:, h, 0, 1:] (EViT; higher kept)
//   shannon      Shannon entropy of each token's query row, averaged over heads (lower kept)
//   renyi:<a>    Rényi entropy of order a > 0 (renyi:inf = min-entropy), same aggregation
//   random       seeded uniform draws, a pure function of (seed, step, block, sample, token)
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "pruning/entropy.h"
#include "tensor/tensor.h"

namespace shears::pruning {

enum class TokenPolicyKind { EViT, Entropy, Random };

// How per-head attention rows are combined into one entropy per token (METHODS.md §3).
enum class HeadAggregation {
  MeanOfHeadEntropies,  // s_i = (1/H) sum_h H_a(A[h, i, :])  (default)
  EntropyOfHeadMean,    // s_i = H_a((1/H) sum_h A[h, i, :])
};

// A policy named by a string (parse_token_policy) plus its options.
struct TokenPolicySpec {
  TokenPolicyKind kind = TokenPolicyKind::EViT;
  double renyi_order = 1.0;  // Entropy only: alpha > 0, 1 = Shannon, kMinEntropyOrder = min-entropy
  std::string name() const;  // canonical name: "evit", "shannon", "renyi:2", "renyi:inf", "random"
};

// Parses "evit", "shannon", "renyi:<alpha>" (alpha > 0, or "inf"), "random". Names are
// case-insensitive; anything else throws shears::Error listing the accepted forms.
TokenPolicySpec parse_token_policy(const std::string& text);

// What a policy may depend on besides the tensors.
struct TokenSelectionContext {
  int64_t block = 0;  // 0-based index of the pruning block in the model
  int64_t step = 0;   // forward counter of the installed pruning (seeds the random policy)
};

class TokenPolicy {
 public:
  virtual ~TokenPolicy() = default;
  virtual std::string name() const = 0;
  // tokens: (B, N, C), probs: (B, H, N, N) with token 0 the CLS token. Returns the keep priority
  // of the N-1 non-CLS tokens, (B, N-1) f64: higher is kept first. No autograd is recorded.
  virtual Tensor keep_priority(const Tensor& tokens, const Tensor& probs, const TokenSelectionContext& ctx) const = 0;
};

// For each row of priority (B, M), the indices (B, left) i64 of the `left` highest entries in
// decreasing priority (ties: lower index first; NaN counts as lowest), as torch.topk(sorted=True).
Tensor select_top_tokens(const Tensor& priority, int64_t left);

// CLS attention of the non-CLS keys averaged over heads, mean_h probs[:, h, 0, 1:], as (B, N-1) f64.
Tensor cls_attention_scores(const Tensor& probs);

std::shared_ptr<TokenPolicy> make_evit_policy();
std::shared_ptr<TokenPolicy> make_entropy_policy(const AttentionEntropyOptions& entropy,
                                                 HeadAggregation aggregation = HeadAggregation::MeanOfHeadEntropies);
std::shared_ptr<TokenPolicy> make_random_policy(uint64_t seed);
// The policy a spec names, with the entropy options and seed that apply to it.
std::shared_ptr<TokenPolicy> make_token_policy(const TokenPolicySpec& spec, bool exclude_cls_key = false,
                                               HeadAggregation aggregation = HeadAggregation::MeanOfHeadEntropies,
                                               uint64_t seed = 0);

}  // namespace shears::pruning
