// Built-in neuron and head criteria: weight magnitude and seeded random scores (see criterion.h).
#include <cmath>
#include <optional>

#include "pruning/builtin_criteria.h"
#include "pruning/transform.h"
#include "tensor/kernels.h"
#include "tensor/random.h"

namespace shears::pruning {

namespace {

// A weight (out, in) as row-major doubles.
std::vector<double> as_doubles(const Tensor& w) { return kernels::to_dtype(w, DType::F64).to_vector<double>(); }

// Neuron j of block b: sqrt(sum_k fc1.weight[j, k]^2 + sum_i fc2.weight[i, j]^2) (biases excluded).
class MagnitudeNeuronCriterion : public NeuronCriterion {
 public:
  std::string name() const override { return "magnitude"; }
  std::vector<std::vector<double>> scores(const nn::VisionTransformer& model, PruneContext&) const override {
    std::vector<std::vector<double>> out;
    for (const auto& block : model.blocks->items) {
      const Tensor& w1 = block->mlp->fc1->weight;  // (H, dim)
      const Tensor& w2 = block->mlp->fc2->weight;  // (dim, H)
      const int64_t H = w1.size(0), D = w1.size(1), D2 = w2.size(0);
      const std::vector<double> a = as_doubles(w1), c = as_doubles(w2);
      std::vector<double> s(size_t(H), 0.0);
      for (int64_t j = 0; j < H; ++j) {
        double sum = 0.0;
        for (int64_t k = 0; k < D; ++k) sum += a[size_t(j * D + k)] * a[size_t(j * D + k)];
        for (int64_t i = 0; i < D2; ++i) sum += c[size_t(i * H + j)] * c[size_t(i * H + j)];
        s[size_t(j)] = std::sqrt(sum);
      }
      out.push_back(std::move(s));
    }
    return out;
  }
};

// Head h of block b (width W = heads * head_dim, d = head_dim): the L2 norm of its q, k and v rows
// (qkv.weight rows part * W + h * d ... + d) and its proj columns (h * d ... + d), biases excluded.
class MagnitudeHeadCriterion : public HeadCriterion {
 public:
  std::string name() const override { return "magnitude"; }
  std::vector<std::vector<double>> scores(const nn::VisionTransformer& model, PruneContext&) const override {
    std::vector<std::vector<double>> out;
    for (const auto& block : model.blocks->items) {
      const nn::Attention& attn = *block->attn;
      const int64_t heads = attn.heads, d = attn.head_dim, W = attn.width();
      const Tensor& qkv = attn.qkv->weight;    // (3W, dim)
      const Tensor& proj = attn.proj->weight;  // (dim, W)
      const int64_t D = qkv.size(1), D2 = proj.size(0);
      const std::vector<double> a = as_doubles(qkv), p = as_doubles(proj);
      std::vector<double> s(size_t(heads), 0.0);
      for (int64_t h = 0; h < heads; ++h) {
        double sum = 0.0;
        for (int64_t part = 0; part < 3; ++part)
          for (int64_t r = part * W + h * d; r < part * W + (h + 1) * d; ++r)
            for (int64_t k = 0; k < D; ++k) sum += a[size_t(r * D + k)] * a[size_t(r * D + k)];
        for (int64_t i = 0; i < D2; ++i)
          for (int64_t col = h * d; col < (h + 1) * d; ++col) sum += p[size_t(i * W + col)] * p[size_t(i * W + col)];
        s[size_t(h)] = std::sqrt(sum);
      }
      out.push_back(std::move(s));
    }
    return out;
  }
};

// Uniform [0, 1) draws, a pure function of (seed, block, unit): uniform_at(seed, stream + block, unit).
std::vector<std::vector<double>> random_scores(uint64_t seed, uint64_t stream, const std::vector<int64_t>& sizes) {
  std::vector<std::vector<double>> out;
  for (size_t b = 0; b < sizes.size(); ++b) {
    std::vector<double> s(static_cast<size_t>(sizes[b]));
    for (int64_t j = 0; j < sizes[b]; ++j) s[size_t(j)] = uniform_at(seed, stream + b, uint64_t(j));
    out.push_back(std::move(s));
  }
  return out;
}

class RandomNeuronCriterion : public NeuronCriterion {
 public:
  explicit RandomNeuronCriterion(std::optional<uint64_t> seed) : seed_(seed) {}
  std::string name() const override { return seed_ ? "random:" + std::to_string(*seed_) : "random"; }
  std::vector<std::vector<double>> scores(const nn::VisionTransformer& model, PruneContext& ctx) const override {
    std::vector<int64_t> sizes;
    for (const auto& block : model.blocks->items) sizes.push_back(block->mlp->hidden());
    return random_scores(seed_.value_or(ctx.seed), 0x6e6575726f6e0000ull, sizes);  // "neuron"
  }

 private:
  std::optional<uint64_t> seed_;
};

class RandomHeadCriterion : public HeadCriterion {
 public:
  explicit RandomHeadCriterion(std::optional<uint64_t> seed) : seed_(seed) {}
  std::string name() const override { return seed_ ? "random:" + std::to_string(*seed_) : "random"; }
  std::vector<std::vector<double>> scores(const nn::VisionTransformer& model, PruneContext& ctx) const override {
    std::vector<int64_t> sizes;
    for (const auto& block : model.blocks->items) sizes.push_back(block->attn->heads);
    return random_scores(seed_.value_or(ctx.seed), 0x6865616400000000ull, sizes);  // "head"
  }

 private:
  std::optional<uint64_t> seed_;
};

}  // namespace

namespace detail {

std::vector<BuiltinCriterion<NeuronCriterionFactoryWithArgument>> builtin_neuron_criteria() {
  return {
      {"magnitude", false, [](const std::string&) { return std::make_shared<MagnitudeNeuronCriterion>(); }},
      {"random", true,
       [](const std::string& arg) {
         return std::make_shared<RandomNeuronCriterion>(parse_criterion_seed("random", arg));
       }},
      taylor_neuron_criterion(),  // taylor_criteria.cpp
      entropy_taylor_neuron_criterion(),  // amp_criterion.cpp
      ce_taylor_neuron_criterion(),       // amp_criterion.cpp
  };
}

std::vector<BuiltinCriterion<HeadCriterionFactoryWithArgument>> builtin_head_criteria() {
  return {
      {"magnitude", false, [](const std::string&) { return std::make_shared<MagnitudeHeadCriterion>(); }},
      {"random", true,
       [](const std::string& arg) {
         return std::make_shared<RandomHeadCriterion>(parse_criterion_seed("random", arg));
       }},
      taylor_head_criterion(),  // taylor_criteria.cpp
  };
}

}  // namespace detail

}  // namespace shears::pruning
