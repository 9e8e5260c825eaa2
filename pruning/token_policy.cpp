// Token policies (EViT CLS attention, Shannon/Rényi attention entropy, random), the policy-name
// parser and top-k selection (see token_policy.h).
#include "pruning/token_policy.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <vector>

#include "tensor/kernels.h"
#include "tensor/random.h"

namespace shears::pruning {

namespace {

void check_inputs(const Tensor& tokens, const Tensor& probs, const char* op) {
  SHEARS_CHECK(probs.dim() == 4 && probs.size(2) == probs.size(3) && probs.size(2) >= 2, op,
               "expected attention probabilities probs of shape (B, H, N, N) with N >= 2, got ",
               shape_str(probs.shape()));
  SHEARS_CHECK(!tokens.defined() || (tokens.dim() == 3 && tokens.size(0) == probs.size(0) &&
                                     tokens.size(1) == probs.size(2)),
               op, "tokens of shape ", tokens.defined() ? shape_str(tokens.shape()) : std::string("(undefined)"),
               " do not match probs of shape ", shape_str(probs.shape()), " (expected (B, N, C))");
}

// (B, N) f64 scores of all tokens -> (B, N-1) of the non-CLS tokens, negated when lower is better.
Tensor non_cls_priority(const Tensor& per_token, bool lower_is_better) {
  Tensor s = kernels::narrow(kernels::to_dtype(per_token, DType::F64), 1, 1, per_token.size(1) - 1);
  return lower_is_better ? kernels::unary(kernels::UnaryOp::Neg, s) : kernels::contiguous(s);
}

class EvitPolicy : public TokenPolicy {
 public:
  std::string name() const override { return "evit"; }
  Tensor keep_priority(const Tensor& tokens, const Tensor& probs, const TokenSelectionContext&) const override {
    check_inputs(tokens, probs, "evit_policy");
    return cls_attention_scores(probs);
  }
};

class EntropyPolicy : public TokenPolicy {
 public:
  EntropyPolicy(const AttentionEntropyOptions& opts, HeadAggregation aggregation)
      : opts_(opts), aggregation_(aggregation) {}
  std::string name() const override {
    TokenPolicySpec spec{TokenPolicyKind::Entropy, opts_.renyi_order};
    return spec.name();
  }
  Tensor keep_priority(const Tensor& tokens, const Tensor& probs, const TokenSelectionContext&) const override {
    check_inputs(tokens, probs, "entropy_policy");
    Tensor h = aggregation_ == HeadAggregation::MeanOfHeadEntropies ? head_mean_attention_entropy(probs, opts_)
                                                                     : entropy_of_head_mean_attention(probs, opts_);
    return non_cls_priority(h, /*lower_is_better=*/true);
  }

 private:
  AttentionEntropyOptions opts_;
  HeadAggregation aggregation_;
};

class RandomPolicy : public TokenPolicy {
 public:
  explicit RandomPolicy(uint64_t seed) : seed_(seed) {}
  std::string name() const override { return "random"; }
  Tensor keep_priority(const Tensor& tokens, const Tensor& probs, const TokenSelectionContext& ctx) const override {
    check_inputs(tokens, probs, "random_policy");
    const int64_t B = probs.size(0), M = probs.size(2) - 1;
    Tensor out = Tensor::empty({B, M}, DType::F64);
    double* o = out.data<double>();
    // stream: one per pruning block; counter: (step, sample, token) packed into 64 bits
    const uint64_t stream = 0x746f6b656e000000ull + static_cast<uint64_t>(ctx.block);
    const uint64_t base = static_cast<uint64_t>(ctx.step) << 32;
    for (int64_t i = 0; i < B * M; ++i) o[i] = uniform_at(seed_, stream, base + static_cast<uint64_t>(i));
    return out;
  }

 private:
  uint64_t seed_;
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

[[noreturn]] void bad_policy(const std::string& text, const std::string& why) {
  fail("parse_token_policy", "unknown token policy '", text, "'", why.empty() ? "" : " (", why,
       why.empty() ? "" : ")", "; expected evit, shannon, renyi:<alpha> with alpha > 0 (e.g. renyi:2, renyi:0.5, ",
       "renyi:inf) or random");
}

}  // namespace

std::string TokenPolicySpec::name() const {
  switch (kind) {
    case TokenPolicyKind::EViT: return "evit";
    case TokenPolicyKind::Random: return "random";
    case TokenPolicyKind::Entropy: {
      if (renyi_order == 1.0) return "shannon";
      if (std::isinf(renyi_order)) return "renyi:inf";
      return str_cat("renyi:", renyi_order);
    }
  }
  return "?";
}

TokenPolicySpec parse_token_policy(const std::string& text) {
  const std::string s = lower(text);
  if (s == "evit") return {TokenPolicyKind::EViT, 1.0};
  if (s == "random") return {TokenPolicyKind::Random, 1.0};
  if (s == "shannon") return {TokenPolicyKind::Entropy, 1.0};
  const std::string prefix = "renyi:";
  if (s.compare(0, prefix.size(), prefix) != 0) bad_policy(text, "");
  const std::string order = s.substr(prefix.size());
  if (order == "inf" || order == "infinity") return {TokenPolicyKind::Entropy, kMinEntropyOrder};
  if (order.empty()) bad_policy(text, "missing Rényi order after 'renyi:'");
  char* end = nullptr;
  const double alpha = std::strtod(order.c_str(), &end);
  if (end != order.c_str() + order.size()) bad_policy(text, str_cat("Rényi order '", order, "' is not a number"));
  if (!(alpha > 0.0) || std::isnan(alpha)) bad_policy(text, str_cat("Rényi order must be > 0, got ", alpha));
  return {TokenPolicyKind::Entropy, alpha};
}

Tensor select_top_tokens(const Tensor& priority, int64_t left) {
  const char* op = "select_top_tokens";
  SHEARS_CHECK(priority.dim() == 2, op, "expected priority of shape (B, M), got ", shape_str(priority.shape()));
  const int64_t B = priority.size(0), M = priority.size(1);
  SHEARS_CHECK(left >= 0 && left <= M, op, "left = ", left, " tokens must be in [0, ", M, "] for priority of shape ",
               shape_str(priority.shape()));
  Tensor p = kernels::contiguous(kernels::to_dtype(priority, DType::F64).cpu());  // a (B, M) copy from a device
  const double* pr = p.data<double>();
  Tensor out = Tensor::empty({B, left}, DType::I64);
  int64_t* o = out.data<int64_t>();
  std::vector<int64_t> order(static_cast<size_t>(M));
  for (int64_t b = 0; b < B; ++b) {
    const double* row = pr + b * M;
    std::iota(order.begin(), order.end(), int64_t(0));
    auto better = [row](int64_t a, int64_t c) {
      const double x = row[a], y = row[c];
      const bool xn = std::isnan(x), yn = std::isnan(y);
      if (xn != yn) return yn;  // a number beats NaN
      if (!xn && x != y) return x > y;
      return a < c;
    };
    std::partial_sort(order.begin(), order.begin() + left, order.end(), better);
    std::copy(order.begin(), order.begin() + left, o + b * left);
  }
  return out;
}

Tensor cls_attention_scores(const Tensor& probs) {
  check_inputs(Tensor(), probs, "cls_attention_scores");
  const int64_t N = probs.size(2);
  Tensor cls_row = kernels::narrow(kernels::narrow(probs, 2, 0, 1), 3, 1, N - 1);  // (B, H, 1, N-1)
  Tensor mean = kernels::reduce(kernels::ReduceOp::Mean, kernels::to_dtype(cls_row, DType::F64), {1, 2}, false);
  return mean;  // (B, N-1)
}

std::shared_ptr<TokenPolicy> make_evit_policy() { return std::make_shared<EvitPolicy>(); }

std::shared_ptr<TokenPolicy> make_entropy_policy(const AttentionEntropyOptions& entropy, HeadAggregation aggregation) {
  SHEARS_CHECK(entropy.renyi_order > 0.0, "make_entropy_policy", "Rényi order must be > 0, got ", entropy.renyi_order);
  return std::make_shared<EntropyPolicy>(entropy, aggregation);
}

std::shared_ptr<TokenPolicy> make_random_policy(uint64_t seed) { return std::make_shared<RandomPolicy>(seed); }

std::shared_ptr<TokenPolicy> make_token_policy(const TokenPolicySpec& spec, bool exclude_cls_key,
                                               HeadAggregation aggregation, uint64_t seed) {
  switch (spec.kind) {
    case TokenPolicyKind::EViT: return make_evit_policy();
    case TokenPolicyKind::Random: return make_random_policy(seed);
    case TokenPolicyKind::Entropy: return make_entropy_policy({spec.renyi_order, exclude_cls_key}, aggregation);
  }
  fail("make_token_policy", "unknown policy kind");
}

}  // namespace shears::pruning
