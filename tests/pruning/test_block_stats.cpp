// Gardener's block statistics: the fp16 weight-number entropy equals its closed form on
// constructed weight sets (multiplicities, -0 = +0, values that share an fp16 code), K-bin
// histogram entropy, moments/norms/kurtosis/value entropy and mutual information against hand
// values and a naive reference across chunk boundaries, thread-count independence, and the
// block weights read from models and checkpoints (timm/shears and Hugging Face names) with
// clear errors for files without recognizable blocks.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <map>
#include <random>

#include "nn/checkpoint.h"
#include "nn/io/hf_videomae.h"
#include "nn/io/state_dict.h"
#include "pruning/block_stats.h"
#include "tensor/creation.h"
#include "tensor/fp16.h"
#include "tensor/parallel.h"

using namespace shears;
using namespace shears::pruning;

namespace {

Tensor vec(const std::vector<float>& v) {
  Tensor t = Tensor::empty({int64_t(v.size())}, DType::F32);
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

BlockWeights block_of(const std::vector<std::vector<float>>& mats, const std::string& name = "blocks.0") {
  BlockWeights b;
  b.name = name;
  for (size_t i = 0; i < mats.size(); ++i) {
    b.matrices.push_back(vec(mats[i]));
    b.tensor_names.push_back(name + ".m" + std::to_string(i));
  }
  return b;
}

BlockStats stats_of(const std::vector<std::vector<float>>& mats, int64_t bins = 0) {
  return block_statistics({block_of(mats)}, {bins}).at(0);
}

double plogp_sum(const std::vector<double>& counts) {
  double n = 0, h = 0;
  for (double c : counts) n += c;
  for (double c : counts) h -= c / n * std::log(c / n);
  return h;
}

std::string tmp_path(const std::string& name) { return (std::filesystem::temp_directory_path() / name).string(); }

nn::ModelConfig tiny_config(const std::string& arch) {
  nn::ModelConfig cfg = arch == "vit" ? nn::vit_tiny_patch4_32(5) : nn::videomae_small_patch4_32(5);
  cfg.dim = 32;
  cfg.blocks = nn::uniform_blocks(3, 2, 16, 64);
  return cfg;
}

}  // namespace

TEST_CASE("fp16 entropy of a constructed weight set equals its closed form", "[pruning][block_stats]") {
  // four fp16-exact values with multiplicities 1, 2, 3, 4, spread over two matrices
  const BlockStats s = stats_of({{0.5f, -0.25f, -0.25f, 1.0f}, {1.0f, 1.0f, 0.125f, 0.125f, 0.125f, 0.125f}});
  const double h = plogp_sum({1, 2, 3, 4});
  CHECK(s.count == 10);
  CHECK(s.distinct_values == 4);
  CHECK(s.entropy == Approx(h).epsilon(1e-14));
  CHECK(s.efficiency == Approx(h / std::log(10.0)).epsilon(1e-14));
  // n distinct values, each once: ln n
  std::vector<float> distinct;
  for (int i = 1; i <= 1000; ++i) distinct.push_back(float(i));  // integers up to 2048 are fp16-exact
  CHECK(stats_of({distinct}).entropy == Approx(std::log(1000.0)).epsilon(1e-12));
  CHECK(stats_of({distinct}).efficiency == Approx(1.0).epsilon(1e-12));
}

TEST_CASE("fp16 entropy counts values, not bit patterns: -0 = +0, equal fp16 roundings share a bin",
          "[pruning][block_stats]") {
  CHECK(stats_of({{0.0f, -0.0f, 1.0f, 1.0f}}).entropy == Approx(std::log(2.0)).epsilon(1e-14));
  const float near_one = 1.0f + std::ldexp(1.0f, -13);  // distinct in f32, 1.0 in fp16
  const BlockStats s = stats_of({{1.0f, near_one, 1.0f + std::ldexp(1.0f, -12)}});
  CHECK(s.distinct_values == 1);
  CHECK(s.entropy == 0.0);
}

TEST_CASE("K-bin histogram entropy over [min, max]", "[pruning][block_stats]") {
  const std::vector<float> w = {0.0f, 0.1f, 0.5f, 0.9f, 1.0f};
  // 2 bins, edges 0 | 0.5 | 1: {0, 0.1} and {0.5, 0.9, 1.0} (an inner edge goes up, max to the last bin)
  CHECK(stats_of({w}, 2).entropy == Approx(plogp_sum({2, 3})).epsilon(1e-14));
  CHECK(stats_of({w}, 2).distinct_values == 2);
  // 4 bins, edges 0 | .25 | .5 | .75 | 1: counts 2, 0, 1, 2
  CHECK(stats_of({w}, 4).entropy == Approx(plogp_sum({2, 1, 2})).epsilon(1e-14));
  CHECK(stats_of({{2.0f, 2.0f, 2.0f}}, 8).entropy == 0.0);  // constant block: one bin
  CHECK(stats_of({w}, 1).entropy == 0.0);
  REQUIRE_THROWS_WITH(block_statistics({block_of({w})}, {-1}), Catch::Contains("bins must be in 0..16777216"));
  REQUIRE_THROWS_WITH(block_statistics({block_of({w})}, {int64_t(1) << 30}), Catch::Contains("got 1073741824"));
}

TEST_CASE("moments, norms, kurtosis and value entropy match hand values", "[pruning][block_stats]") {
  const BlockStats s = stats_of({{1.0f, -1.0f}, {2.0f}});
  CHECK(s.mean_abs == Approx(4.0 / 3).epsilon(1e-15));
  CHECK(s.var_abs == Approx(2.0 / 9).epsilon(1e-15));
  CHECK(s.std_abs == Approx(std::sqrt(2.0 / 9)).epsilon(1e-15));
  CHECK(s.l1 == 4.0);
  CHECK(s.l2 == Approx(std::sqrt(6.0)).epsilon(1e-15));
  CHECK(s.value_entropy == Approx(1.5 * std::log(2.0)).epsilon(1e-13));  // p = 1/4, 1/4, 1/2
  CHECK(s.min == -1.0);
  CHECK(s.max == 2.0);
  // scipy.stats.kurtosis([1, 2, 3, 4]) = -1.36 (Fisher, biased)
  CHECK(stats_of({{1.0f, 2.0f}, {3.0f, 4.0f}}).kurtosis == Approx(-1.36).epsilon(1e-14));
  // a symmetric two-point distribution has excess kurtosis 1 - 3 = -2
  CHECK(stats_of({{-3.0f, 3.0f, -3.0f, 3.0f}}).kurtosis == Approx(-2.0).epsilon(1e-14));
  CHECK(std::isnan(stats_of({{0.5f, 0.5f}}).kurtosis));  // constant: undefined, as scipy
  // zeros contribute nothing to the value entropy (p = 0)
  CHECK(stats_of({{0.0f, 3.0f, -3.0f}}).value_entropy == Approx(std::log(2.0)).epsilon(1e-13));
}

TEST_CASE("statistics match a naive long-double reference across chunk boundaries", "[pruning][block_stats]") {
  std::mt19937_64 rng(11);
  std::normal_distribution<float> normal(0.01f, 0.05f);
  std::vector<std::vector<float>> mats = {std::vector<float>(1300000), std::vector<float>(7), std::vector<float>(900001)};
  for (auto& m : mats)
    for (auto& x : m) x = normal(rng);
  mats[1][3] = 0.0f;
  const BlockStats s = stats_of(mats);
  long double n = 0, sum = 0, sabs = 0, ssq = 0, xlx = 0;
  for (auto& m : mats)
    for (float x : m) {
      const long double w = x, a = std::fabs(w);
      n += 1;
      sum += w;
      sabs += a;
      ssq += w * w;
      if (a > 0) xlx += a * std::log(a);
    }
  const long double mean = sum / n, mean_abs = sabs / n;
  long double m2 = 0, m4 = 0, am2 = 0;
  for (auto& m : mats)
    for (float x : m) {
      const long double d = x - mean, da = std::fabs((long double)x) - mean_abs;
      m2 += d * d;
      m4 += d * d * d * d;
      am2 += da * da;
    }
  m2 /= n;
  m4 /= n;
  CHECK(s.count == 2200008);
  CHECK(s.l1 == Approx(double(sabs)).epsilon(1e-12));
  CHECK(s.l2 == Approx(double(std::sqrt(ssq))).epsilon(1e-12));
  CHECK(s.mean_abs == Approx(double(mean_abs)).epsilon(1e-12));
  CHECK(s.var_abs == Approx(double(am2 / n)).epsilon(1e-11));
  CHECK(s.kurtosis == Approx(double(m4 / (m2 * m2) - 3)).epsilon(1e-10));
  CHECK(s.value_entropy == Approx(double(std::log(sabs) - xlx / sabs)).epsilon(1e-12));
  // fp16 entropy against a count of the rounded values
  std::map<float, double> counts;
  for (auto& m : mats)
    for (float x : m) counts[round_to_fp16(x) + 0.0f] += 1;  // + 0.0f folds -0 into +0
  std::vector<double> c;
  for (auto& kv : counts) c.push_back(kv.second);
  CHECK(s.distinct_values == int64_t(c.size()));
  CHECK(s.entropy == Approx(plogp_sum(c)).epsilon(1e-12));
}

TEST_CASE("mutual information between blocks matches hand values", "[pruning][block_stats]") {
  const double ln2 = std::log(2.0);
  const BlockWeights a = block_of({{1.0f, 1.0f, 2.0f, 2.0f}}, "a"), b = block_of({{2.0f, 1.0f, 2.0f, 1.0f}}, "b"),
                     c = block_of({{3.0f, 3.0f, 4.0f, 4.0f}}, "c"), d = block_of({{1.0f, 2.0f}}, "d"),
                     e = block_of({{2.0f, 3.0f}}, "e");
  const auto counts = fp16_counts({a, b, c, d, e});
  CHECK(mutual_information(counts[0], counts[1]) == Approx(ln2).epsilon(1e-14));  // same distribution: H
  CHECK(mutual_information(counts[0], counts[2]) == Approx(0.0).margin(1e-15));   // disjoint, equal sizes
  CHECK(mutual_information(counts[3], counts[4]) == Approx(0.5 * ln2).epsilon(1e-14));  // {1,2} vs {2,3}
  const std::vector<double> mi = mean_mutual_information({counts[0], counts[1], counts[2]});
  CHECK(mi[0] == Approx(ln2 / 2).epsilon(1e-14));
  CHECK(mi[1] == Approx(ln2 / 2).epsilon(1e-14));
  CHECK(mi[2] == Approx(0.0).margin(1e-15));
  const auto s = block_statistics({a, b, c});
  CHECK(s[0].mutual_information == Approx(ln2 / 2).epsilon(1e-14));
  CHECK(s[2].mutual_information == Approx(0.0).margin(1e-15));
  CHECK(block_statistics({a})[0].mutual_information == 0.0);
  CHECK(count_entropy({0, 5, 0, 5}) == Approx(ln2).epsilon(1e-15));
  CHECK(min_max_normalize({2.0, 4.0, 3.0}) == std::vector<double>{0.0, 1.0, 0.5});
  CHECK(min_max_normalize({1.0, 1.0}) == std::vector<double>{0.0, 0.0});
}

TEST_CASE("block statistics do not depend on the thread count", "[pruning][block_stats]") {
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<BlockWeights> blocks;
  for (int b = 0; b < 3; ++b) {
    std::vector<float> m(1500000 + b);
    for (auto& x : m) x = normal(rng);
    blocks.push_back(block_of({m, {0.5f}}, "blocks." + std::to_string(b)));
  }
  const int before = get_num_threads();
  set_num_threads(1);
  const auto one = block_statistics(blocks, {0});
  const auto one_k = block_statistics(blocks, {256});
  set_num_threads(2);
  const auto two = block_statistics(blocks, {0});
  const auto two_k = block_statistics(blocks, {256});
  set_num_threads(before);
  for (size_t b = 0; b < blocks.size(); ++b) {
    CHECK(one[b].entropy == two[b].entropy);
    CHECK(one[b].l1 == two[b].l1);
    CHECK(one[b].var_abs == two[b].var_abs);
    CHECK(one[b].kurtosis == two[b].kurtosis);
    CHECK(one[b].value_entropy == two[b].value_entropy);
    CHECK(one[b].mutual_information == two[b].mutual_information);
    CHECK(one_k[b].entropy == two_k[b].entropy);
  }
}

TEST_CASE("block statistics refuse empty blocks and non-finite weights, naming the block", "[pruning][block_stats]") {
  REQUIRE_THROWS_WITH(block_statistics({block_of({{}}, "blocks.4")}), Catch::Contains("blocks.4") && Catch::Contains("no weights"));
  REQUIRE_THROWS_WITH(block_statistics({block_of({{1.0f, NAN, 2.0f}}, "blocks.2")}),
                      Catch::Contains("blocks.2") && Catch::Contains("1 non-finite"));
  REQUIRE_THROWS_WITH(block_statistics({block_of({{1.0f, INFINITY}}, "blocks.1")}), Catch::Contains("non-finite"));
}

TEST_CASE("block weights of a model: the four kernel matrices of each block", "[pruning][block_stats]") {
  nn::VisionTransformer model(tiny_config("vit"), 1);
  const auto blocks = block_weights(model);
  REQUIRE(blocks.size() == 3);
  CHECK(blocks[1].name == "blocks.1");
  CHECK(blocks[1].tensor_names == std::vector<std::string>{"blocks.1.attn.qkv.weight", "blocks.1.attn.proj.weight",
                                                           "blocks.1.mlp.fc1.weight", "blocks.1.mlp.fc2.weight"});
  CHECK(blocks[1].count() == 3 * 32 * 32 + 32 * 32 + 2 * 64 * 32);  // biases and norms excluded
  CHECK(blocks[1].matrices[0].is_same(model.blocks->items[1]->attn->qkv->weight));
}

TEST_CASE("checkpoint blocks: shears/timm and Hugging Face names give the model's statistics",
          "[pruning][block_stats]") {
  nn::VisionTransformer model(tiny_config("videomae"), 2);
  const auto from_model = block_statistics(block_weights(model));

  const std::string shears_path = tmp_path("shears_test_gardener_shears.safetensors");
  nn::save_model(shears_path, model);
  BlockSource source;
  const auto timm_blocks = block_weights(nn::read_safetensors(shears_path), shears_path, &source);
  CHECK(source.layout == BlockLayout::Timm);
  CHECK(source.prefix.empty());
  REQUIRE(timm_blocks.size() == 3);
  const auto from_timm = block_statistics(timm_blocks);

  const std::string hf_path = tmp_path("shears_test_gardener_hf.safetensors");
  nn::write_safetensors(hf_path, nn::shears_to_hf_videomae(nn::state_dict(model)));
  const auto hf_blocks = block_weights(nn::read_safetensors(hf_path), hf_path, &source);
  CHECK(source.layout == BlockLayout::HuggingFace);
  CHECK(source.prefix == "videomae.");
  REQUIRE(hf_blocks.size() == 3);
  CHECK(hf_blocks[2].name == "videomae.encoder.layer.2");
  CHECK(hf_blocks[2].matrices.size() == 6);  // query, key, value pooled as qkv
  const auto from_hf = block_statistics(hf_blocks);
  for (size_t b = 0; b < 3; ++b) {
    for (const auto* s : {&from_timm[b], &from_hf[b]}) {
      CHECK(s->count == from_model[b].count);
      CHECK(s->entropy == Approx(from_model[b].entropy).epsilon(1e-13));
      CHECK(s->l1 == Approx(from_model[b].l1).epsilon(1e-12));
      CHECK(s->kurtosis == Approx(from_model[b].kurtosis).epsilon(1e-10));
      CHECK(s->mutual_information == Approx(from_model[b].mutual_information).epsilon(1e-12));
    }
  }
  std::filesystem::remove(shears_path);
  std::filesystem::remove(hf_path);
}

TEST_CASE("checkpoint blocks: prefixes, decoders and clear errors", "[pruning][block_stats]") {
  const std::string path = tmp_path("shears_test_gardener_names.safetensors");
  auto m = [](int64_t r, int64_t c) { return zeros({r, c}); };
  auto timm_block = [&](const std::string& p, int i) {
    const std::string b = p + "blocks." + std::to_string(i) + ".";
    return std::vector<std::pair<std::string, Tensor>>{
        {b + "attn.qkv.weight", m(12, 4)}, {b + "attn.proj.weight", m(4, 4)}, {b + "mlp.fc1.weight", m(8, 4)},
        {b + "mlp.fc2.weight", m(4, 8)},   {b + "attn.qkv.bias", m(1, 12)},   {b + "norm1.weight", m(1, 4)}};
  };
  auto write = [&](std::vector<std::vector<std::pair<std::string, Tensor>>> parts) {
    std::vector<std::pair<std::string, Tensor>> all;
    for (auto& p : parts) all.insert(all.end(), p.begin(), p.end());
    nn::write_safetensors(path, all);
    return nn::read_safetensors(path);
  };

  // a pretraining checkpoint: encoder blocks under "encoder.", decoder blocks ignored
  auto file = write({timm_block("encoder.", 0), timm_block("encoder.", 1), timm_block("decoder.", 0)});
  auto blocks = block_weights(file, path);
  REQUIRE(blocks.size() == 2);
  CHECK(blocks[1].name == "encoder.blocks.1");
  CHECK(blocks[1].count() == 48 + 16 + 32 + 32);

  file = write({{{"head.weight", m(3, 4)}, {"cls_token", m(1, 4)}}});
  REQUIRE_THROWS_WITH(block_weights(file, path), Catch::Contains(path) && Catch::Contains("no transformer blocks") &&
                                                     Catch::Contains("blocks.N.{attn.qkv.weight") &&
                                                     Catch::Contains("encoder.layer.N.{attention.attention.query.weight"));
  auto missing = timm_block("", 1);
  missing.erase(missing.begin() + 3);  // no fc2
  file = write({timm_block("", 0), missing});
  REQUIRE_THROWS_WITH(block_weights(file, path), Catch::Contains("block 1 has no tensor 'blocks.1.mlp.fc2.weight'"));
  file = write({timm_block("", 0), timm_block("", 2)});
  REQUIRE_THROWS_WITH(block_weights(file, path), Catch::Contains("are not 0..1") && Catch::Contains("numbered 0..2"));
  // copies under longer prefixes (EMA weights, gradients) are ignored unless asked for
  file = write({timm_block("model.", 0), timm_block("model_ema.", 0), timm_block("model_ema.", 1)});
  BlockSource source;
  CHECK(block_weights(file, path, &source).size() == 1);
  CHECK(source.prefix == "model.");
  CHECK(source.other_prefixes == std::vector<std::string>{"model_ema."});
  CHECK(block_weights(file, path, &source, std::string("model_ema.")).size() == 2);
  REQUIRE_THROWS_WITH(block_weights(file, path, nullptr, std::string("ema.")),
                      Catch::Contains("no timm/shears blocks under the prefix 'ema.'") && Catch::Contains("'model_ema.'"));
  file = write({timm_block("abc.", 0), timm_block("ema.", 0)});
  REQUIRE_THROWS_WITH(block_weights(file, path), Catch::Contains("several prefixes") && Catch::Contains("'ema.'") &&
                                                     Catch::Contains("no single shortest"));
  std::filesystem::remove(path);
}
