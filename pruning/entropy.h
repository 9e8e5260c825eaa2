// Shannon and Rényi entropy of probability rows (the last dim), and the per-token attention
// entropy the Rényi patch-pruning criterion uses (METHODS.md §3). Computed in double in the log
// domain: H_a = (1/(1-a)) ln sum_j q_j^a (a != 1), H_1 = -sum_j q_j ln q_j, H_inf = -ln max_j q_j,
// with q = p / sum(p) and zero entries contributing nothing (0^a = 0 for a > 0, 0 ln 0 = 0).
// Values are continuous across a = 1 (no switch to Shannon at a threshold, see entropy.cpp).
// Scores only: no autograd is recorded.
#pragma once
#include <cstdint>
#include <limits>

#include "tensor/tensor.h"

namespace shears::pruning {

// Order of the min-entropy H_inf = -ln max p.
inline constexpr double kMinEntropyOrder = std::numeric_limits<double>::infinity();

// Rényi entropy of order `alpha` (>= 0; 1 = Shannon, +inf = min-entropy; 0 = Hartley, ln of the
// support size) of one row of n non-negative values, normalised by their sum. A row summing to 0
// has entropy 0. Throws naming `op` on a negative or NaN value or alpha.
double renyi_entropy(const double* p, int64_t n, double alpha, const char* op = "renyi_entropy");
double shannon_entropy(const double* p, int64_t n);

// Per-row entropy over the last dim: probs (..., n) f32/f64 -> (...) of the same dtype.
Tensor renyi_entropy(const Tensor& probs, double alpha);
Tensor shannon_entropy(const Tensor& probs);

// How the entropy of a token's attention row is computed from the per-head rows.
struct AttentionEntropyOptions {
  double renyi_order = 1.0;      // alpha; 1 = Shannon, kMinEntropyOrder = min-entropy
  bool exclude_cls_key = false;  // drop key 0 (CLS) and renormalise the other keys
};

// Entropy of each head's query rows: probs (B, H, N, N) -> (B, H, N).
Tensor attention_row_entropy(const Tensor& probs, const AttentionEntropyOptions& opts = {});
// Mean over heads of the per-head row entropies: (B, H, N, N) -> (B, N). The pruning score.
Tensor head_mean_attention_entropy(const Tensor& probs, const AttentionEntropyOptions& opts = {});
// Entropy of the head-averaged rows (the alternative aggregation): (B, H, N, N) -> (B, N).
Tensor entropy_of_head_mean_attention(const Tensor& probs, const AttentionEntropyOptions& opts = {});

}  // namespace shears::pruning
