// dist/ in one process (no mpirun needed; the 2-rank runs are the dist.* CTest entries): sharded
// training is exact: the gradients of the shards of a global batch (TrainerOptions::shard_*),
// summed, equal the one-process full-batch gradient with DropPath, Mixup/CutMix and RandomErasing
// on; DropPath's shard rows are the global draw's rows; the bucketed gradient all-reduce keeps
// every gradient (and undefined ones undefined) on one rank; the weight hash sees every weight.
#include <catch2/catch.hpp>

#include <map>

#include "autograd/ops.h"
#include "data/data_loader.h"
#include "data/mixup.h"
#include "data/random_erasing.h"
#include "data/transforms.h"
#include "dist/data_parallel.h"
#include "dist/replica_check.h"
#include "dist/world.h"
#include "test_util.h"
#include "tiny_vit_task.h"

using namespace shears;

namespace {

using Grads = std::map<std::string, std::vector<double>>;

// Copies the gradients after backward (step `at`), before the optimizer uses them.
class GradientTap : public train::TrainingController {
 public:
  explicit GradientTap(int64_t at) : at_(at) {}
  void after_backward(nn::VisionTransformer& model, int64_t step) override {
    if (step != at_) return;
    for (const auto& [name, p] : model.named_parameters())
      if (p.grad().defined()) grads[name] = test::ref_values(p.grad());
  }
  Grads grads;

 private:
  int64_t at_;
};

// The gradients of one step, global step `at` on batch 1 of epoch 0 (fresh weights: the shards of
// one process apply no all-reduce, so only their first step is comparable), of a tiny ViT trained
// on rows `rank` of `count` of a global batch of 12 (DropPath 0.5, Mixup/CutMix, RandomErasing, flips).
Grads step_gradients(int64_t rank, int64_t count, int64_t at) {
  nn::ModelConfig cfg = test::tiny_vit_config(4);
  cfg.blocks = nn::uniform_blocks(2, 2, 8, 32);
  cfg.drop_path = 0.5;
  nn::VisionTransformer model(cfg, 3);
  auto ds = std::make_shared<test::QuadrantDataset>(48, 4, 2);
  data::LoaderOptions lo;
  lo.batch_size = 12;
  lo.seed = 1;
  lo.prefetch = 0;
  data::MixupOptions mix;
  mix.num_classes = 4;
  data::DataLoader loader(ds, lo,
                          data::compose({data::horizontal_flip(0.5), test::normalize_for(cfg),
                                         data::random_erasing(0.5, "pixel")}),
                          data::mixup_cutmix(mix));
  train::TrainerOptions to;
  to.epochs = 1;
  to.log_every = 0;
  to.quiet = true;
  to.stop_at_step = at + 1;
  to.seed = 4;
  to.shard_rank = rank;
  to.shard_count = count;
  train::Trainer trainer(model, to, loader.batches_per_epoch());
  trainer.set_step(at);
  auto tap = std::make_shared<GradientTap>(at);
  trainer.add_controller(tap);
  loader.start_epoch(0, 1);
  trainer.train_epoch(loader, 0);
  return tap->grads;
}

}  // namespace

TEST_CASE("shard gradients of a global batch sum to the one-process gradient", "[dist]") {
  const Grads full = step_gradients(0, 1, 3);
  REQUIRE(full.size() > 10);
  for (int64_t count : {2, 3, 5}) {
    std::vector<Grads> parts;
    for (int64_t r = 0; r < count; ++r) parts.push_back(step_gradients(r, count, 3));
    for (const auto& [name, g] : full) {
      INFO(name << " with " << count << " shards");
      std::vector<double> sum(g.size(), 0.0);
      for (const Grads& p : parts) {
        REQUIRE(p.count(name) == 1);
        for (size_t i = 0; i < g.size(); ++i) sum[i] += p.at(name)[i];
      }
      double diff = 0, norm = 0;
      for (size_t i = 0; i < g.size(); ++i) diff += (sum[i] - g[i]) * (sum[i] - g[i]), norm += g[i] * g[i];
      CHECK(std::sqrt(diff) <= 1e-5 * std::sqrt(norm) + 1e-9);
    }
    // the shards really are parts: each one alone is not the full gradient
    double off = 0;
    for (const auto& [name, g] : full)
      for (size_t i = 0; i < g.size(); ++i) off = std::max(off, std::fabs(parts[0].at(name)[i] - g[i]));
    CHECK(off > 1e-4);
  }
}

TEST_CASE("a trainer refuses a shard rank outside 0..count-1 and a batch smaller than the count", "[dist]") {
  nn::VisionTransformer model(test::tiny_vit_config(), 1);
  train::TrainerOptions to;
  to.shard_rank = 2;
  to.shard_count = 2;
  CHECK_THROWS_WITH(train::Trainer(model, to, 4), Catch::Contains("shard_rank must be in [0, shard_count)"));
  to.shard_rank = 0;
  to.shard_count = 5;
  to.quiet = true;
  to.log_every = 0;
  auto ds = std::make_shared<test::QuadrantDataset>(8);
  data::LoaderOptions lo;
  lo.batch_size = 4;
  data::DataLoader loader(ds, lo, test::normalize_for(test::tiny_vit_config()));
  train::Trainer trainer(model, to, loader.batches_per_epoch());
  loader.start_epoch(0);
  CHECK_THROWS_WITH(trainer.train_epoch(loader, 0), Catch::Contains("cannot be split over 5 processes"));
}

TEST_CASE("DropPath of a shard keeps the global draw's rows", "[dist]") {
  const Tensor x = ones({10, 3, 4});
  Generator g_full(7, 1);
  const std::vector<double> full = test::ref_values(nn::drop_path(x, 0.5, true, &g_full));
  for (int64_t first : {0, 3, 6}) {
    Generator g(7, 1);
    const std::vector<double> part =
        test::ref_values(nn::drop_path(kernels::narrow(x, 0, first, 4), 0.5, true, &g, {first, 10}));
    CHECK(std::vector<double>(full.begin() + first * 12, full.begin() + (first + 4) * 12) == part);
    CHECK(g.offset() == g_full.offset());  // a shard advances the generator as the global draw does
  }
  Generator g(7, 1);
  CHECK_THROWS_WITH(nn::drop_path(x, 0.5, true, &g, {3, 10}), Catch::Contains("does not fit in a global batch"));
}

TEST_CASE("on one rank the bucketed all-reduce keeps every gradient", "[dist]") {
  REQUIRE(dist::size() == 1);
  std::vector<Tensor> params;
  Generator gen(5);
  for (int64_t n : {3, 700, 5, 1, 2000, 9}) params.push_back(randn({n}, DType::F32, &gen).set_requires_grad());
  std::vector<std::vector<double>> before;
  for (size_t i = 0; i < params.size(); ++i) {
    if (i == 3) continue;  // no gradient: stays undefined
    params[i].set_grad(randn(params[i].shape(), DType::F32, &gen));
  }
  for (const Tensor& p : params) before.push_back(p.grad().defined() ? test::ref_values(p.grad()) : std::vector<double>{});
  std::vector<float> bucket;
  const int64_t n = dist::allreduce_gradients(params, 1024 * 4, bucket);  // 1024-float buckets: 2000 goes alone
  CHECK(n == 3 + 700 + 5 + 2000 + 9);
  for (size_t i = 0; i < params.size(); ++i) {
    INFO("parameter " << i);
    CHECK(params[i].grad().defined() == (i != 3));
    if (i != 3) CHECK(test::ref_values(params[i].grad()) == before[i]);
  }
}

TEST_CASE("the weight hash changes with any weight and with the names", "[dist]") {
  nn::VisionTransformer a(test::tiny_vit_config(), 1), b(test::tiny_vit_config(), 1), c(test::tiny_vit_config(), 2);
  CHECK(dist::weights_hash(a) == dist::weights_hash(b));
  CHECK(dist::weights_hash(a) != dist::weights_hash(c));
  b.head->bias.data<float>()[0] += 1e-7f;
  CHECK(dist::weights_hash(a) != dist::weights_hash(b));
  dist::check_replicas_identical(a, "in a one-process test");  // one rank: always identical
}

TEST_CASE("one process without mpirun is a group of one", "[dist]") {
  CHECK(dist::rank() == 0);
  CHECK(dist::size() == 1);
  CHECK(dist::is_root());
  CHECK_FALSE(dist::distributed());
  CHECK(dist::all_ranks_equal(42));
  CHECK(dist::gather_to_root("x") == std::vector<std::string>{"x"});
  CHECK(dist::broadcast_from_root("y") == "y");
  train::TrainerOptions to;
  to.log_path = "log.jsonl";
  dist::shard_trainer_options(to);
  CHECK(to.shard_rank == 0);
  CHECK(to.shard_count == 1);
  CHECK(to.log_path == "log.jsonl");
  CHECK_FALSE(to.quiet);
}
