// DataLoader tests on a synthetic in-memory Dataset: batch counts (drop_last), coverage of
// every index per epoch, seeded determinism across runs, thread counts and prefetch
// settings, exact mid-epoch resume, and errors (get() exceptions, mismatched shapes).
#include <catch2/catch.hpp>

#include <atomic>
#include <set>
#include <stdexcept>

#include "data/data_loader.h"
#include "data/mixup.h"
#include "data/random_erasing.h"
#include "tensor/creation.h"
#include "tensor/parallel.h"

using namespace shears;
using namespace shears::data;

namespace {

// Sample i: a (1, 4, 4) image filled with i, label i % 3; optional failures for tests.
class SyntheticDataset : public Dataset {
 public:
  explicit SyntheticDataset(int64_t n, int64_t throw_at = -1, int64_t odd_shape_at = -1)
      : n_(n), throw_at_(throw_at), odd_shape_at_(odd_shape_at) {}
  int64_t size() const override { return n_; }
  Sample get(int64_t index) const override {
    if (index == throw_at_) throw std::runtime_error("synthetic decode failure at " + std::to_string(index));
    const int64_t side = index == odd_shape_at_ ? 5 : 4;
    Sample s;
    s.input = full({1, side, side}, static_cast<double>(index), DType::F32);
    s.label = index % 3;
    s.group = index / 2;
    return s;
  }
  int64_t num_classes() const override { return 3; }
  std::string describe() const override { return "synthetic"; }

 private:
  int64_t n_, throw_at_, odd_shape_at_;
};

// A random per-sample transform: adds one uniform draw and some noise.
Transform noisy_transform() {
  return compose({[](const Tensor& x, Generator& gen) {
                    std::vector<float> v = x.to_vector<float>();
                    const float shift = static_cast<float>(gen.uniform());
                    for (auto& e : v) e += shift + 0.01f * static_cast<float>(gen.normal());
                    return from_vector(v, x.shape());
                  },
                  random_erasing(0.5, "pixel")});
}

std::vector<Batch> run_epoch(DataLoader& loader, int64_t epoch, int64_t first = 0) {
  std::vector<Batch> out;
  loader.start_epoch(epoch, first);
  Batch b;
  while (loader.next(b)) out.push_back(b);
  return out;
}

void require_same(const Batch& a, const Batch& b) {
  REQUIRE(a.indices == b.indices);
  REQUIRE(a.groups == b.groups);
  REQUIRE(a.inputs.shape() == b.inputs.shape());
  REQUIRE(a.inputs.to_vector<float>() == b.inputs.to_vector<float>());
  REQUIRE(a.labels.to_vector<int64_t>() == b.labels.to_vector<int64_t>());
  REQUIRE(a.targets.defined() == b.targets.defined());
  if (a.targets.defined()) REQUIRE(a.targets.to_vector<float>() == b.targets.to_vector<float>());
}

void require_same(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) require_same(a[i], b[i]);
}

std::unique_ptr<DataLoader> make_loader(int64_t n, LoaderOptions opt, bool augment = true) {
  auto ds = std::make_shared<SyntheticDataset>(n);
  MixupOptions mix;
  mix.num_classes = 3;
  return std::make_unique<DataLoader>(ds, opt, augment ? noisy_transform() : nullptr,
                                      augment ? mixup_cutmix(mix) : nullptr);
}

}  // namespace

TEST_CASE("loader: batch counts with and without drop_last", "[loader]") {
  for (bool drop : {true, false}) {
    LoaderOptions opt;
    opt.batch_size = 4;
    opt.drop_last = drop;
    opt.prefetch = drop ? 2 : 0;
    auto loader = make_loader(10, opt, false);
    REQUIRE(loader->batches_per_epoch() == (drop ? 2 : 3));
    auto batches = run_epoch(*loader, 0);
    REQUIRE(static_cast<int64_t>(batches.size()) == loader->batches_per_epoch());
    REQUIRE(batches[0].size() == 4);
    REQUIRE(batches[0].inputs.shape() == Shape{4, 1, 4, 4});
    if (!drop) REQUIRE(batches[2].size() == 2);
    REQUIRE(loader->next_batch_index() == loader->batches_per_epoch());
  }
}

TEST_CASE("loader: every index once per epoch, labels and inputs match", "[loader]") {
  LoaderOptions opt;
  opt.batch_size = 7;
  opt.drop_last = false;
  opt.seed = 11;
  auto loader = make_loader(50, opt, false);
  std::vector<int64_t> first_order;
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    std::multiset<int64_t> seen;
    std::vector<int64_t> order;
    for (const Batch& b : run_epoch(*loader, epoch)) {
      auto labels = b.labels.to_vector<int64_t>();
      auto x = b.inputs.to_vector<float>();
      for (int64_t i = 0; i < b.size(); ++i) {
        const int64_t idx = b.indices[i];
        REQUIRE(labels[i] == idx % 3);
        REQUIRE(b.groups[i] == idx / 2);
        REQUIRE(x[i * 16] == static_cast<float>(idx));
        seen.insert(idx);
        order.push_back(idx);
      }
    }
    REQUIRE(seen.size() == 50);
    REQUIRE(std::set<int64_t>(seen.begin(), seen.end()).size() == 50);
    if (epoch == 0) first_order = order;
    else REQUIRE(order != first_order);  // a fresh permutation each epoch
  }
}

TEST_CASE("loader: no shuffle keeps dataset order", "[loader]") {
  LoaderOptions opt;
  opt.batch_size = 4;
  opt.shuffle = false;
  auto loader = make_loader(8, opt, false);
  auto batches = run_epoch(*loader, 5);
  REQUIRE(batches[1].indices == std::vector<int64_t>{4, 5, 6, 7});
}

TEST_CASE("loader: same seed gives identical batches, another seed does not", "[loader]") {
  LoaderOptions opt;
  opt.batch_size = 6;
  opt.seed = 3;
  auto a = make_loader(40, opt);
  auto b = make_loader(40, opt);
  require_same(run_epoch(*a, 1), run_epoch(*b, 1));
  opt.seed = 4;
  auto c = make_loader(40, opt);
  REQUIRE(run_epoch(*a, 1)[0].indices != run_epoch(*c, 1)[0].indices);
  // The augmentation really is random: two epochs differ.
  REQUIRE(run_epoch(*a, 0)[0].inputs.to_vector<float>() != run_epoch(*a, 1)[0].inputs.to_vector<float>());
}

TEST_CASE("loader: identical batches on 1 and 2 threads, prefetch 0 and 2", "[loader]") {
  const int saved = get_num_threads();
  LoaderOptions opt;
  opt.batch_size = 8;
  opt.drop_last = false;
  opt.seed = 42;
  std::vector<std::vector<Batch>> runs;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (int64_t prefetch : {0, 2}) {
      opt.prefetch = prefetch;
      auto loader = make_loader(37, opt);
      runs.push_back(run_epoch(*loader, 2));
    }
  }
  set_num_threads(saved);
  for (size_t r = 1; r < runs.size(); ++r) require_same(runs[0], runs[r]);
  REQUIRE(runs[0].back().size() == 5);  // odd-sized last batch went through mixup
}

TEST_CASE("loader: resume start_epoch(e, k) equals the tail of a full epoch", "[loader]") {
  LoaderOptions opt;
  opt.batch_size = 5;
  opt.seed = 9;
  for (int64_t prefetch : {0, 3}) {
    opt.prefetch = prefetch;
    auto full_run = make_loader(33, opt);
    auto full_epoch = run_epoch(*full_run, 4);
    for (int64_t k : {0, 1, 4, 6}) {
      auto resumed = make_loader(33, opt);
      auto tail = run_epoch(*resumed, 4, k);
      REQUIRE(static_cast<int64_t>(tail.size()) == static_cast<int64_t>(full_epoch.size()) - k);
      for (size_t i = 0; i < tail.size(); ++i) require_same(tail[i], full_epoch[k + i]);
    }
    // Resume in the middle of a running epoch of the same loader.
    full_run->start_epoch(4);
    Batch b;
    REQUIRE(full_run->next(b));
    full_run->start_epoch(4, 3);
    REQUIRE(full_run->next_batch_index() == 3);
    REQUIRE(full_run->next(b));
    require_same(b, full_epoch[3]);
    REQUIRE(full_run->next_batch_index() == 4);
    REQUIRE_THROWS(full_run->start_epoch(4, 7));
  }
}

TEST_CASE("loader: an exception in get() surfaces from next() with its message", "[loader]") {
  for (int64_t prefetch : {0, 2}) {
    LoaderOptions opt;
    opt.batch_size = 4;
    opt.shuffle = false;
    opt.prefetch = prefetch;
    DataLoader loader(std::make_shared<SyntheticDataset>(20, 9), opt);
    loader.start_epoch(0);
    Batch b;
    REQUIRE(loader.next(b));  // indices 0..3
    REQUIRE(loader.next(b));  // indices 4..7
    REQUIRE_THROWS_WITH(loader.next(b), Catch::Contains("synthetic decode failure at 9") &&
                                            Catch::Contains("sample 9"));
    REQUIRE_THROWS_WITH(loader.next(b), Catch::Contains("synthetic decode failure at 9"));  // sticky, no hang
    loader.start_epoch(0, 3);  // skipping the bad batch works
    REQUIRE(loader.next(b));
    REQUIRE(b.indices[0] == 12);
  }
}

TEST_CASE("loader: mismatched sample shapes name the index and shapes", "[loader]") {
  LoaderOptions opt;
  opt.batch_size = 4;
  opt.shuffle = false;
  opt.prefetch = 1;
  DataLoader loader(std::make_shared<SyntheticDataset>(12, -1, 6), opt);
  loader.start_epoch(0);
  Batch b;
  REQUIRE(loader.next(b));
  REQUIRE_THROWS_WITH(loader.next(b), Catch::Contains("sample 6 has shape (1, 5, 5)") &&
                                          Catch::Contains("sample 4") && Catch::Contains("(1, 4, 4)"));
}

TEST_CASE("loader: misuse and lifetime", "[loader]") {
  LoaderOptions opt;
  opt.batch_size = 4;
  auto loader = make_loader(16, opt);
  Batch b;
  REQUIRE_THROWS_WITH(loader->next(b), Catch::Contains("before start_epoch"));
  REQUIRE_THROWS(DataLoader(std::make_shared<SyntheticDataset>(4), LoaderOptions{0}));
  loader->start_epoch(0);
  REQUIRE(loader->next(b));
  REQUIRE(loader->take_wait_seconds() >= 0.0);
  REQUIRE(loader->take_wait_seconds() == 0.0);
  REQUIRE(loader->epoch() == 0);
  REQUIRE(loader->dataset().size() == 16);
  // Destroyed mid-epoch with the producer running: must join cleanly.
  loader.reset();
  SUCCEED();
}
