// Training checkpoints: a round trip restores weights, optimizer moments and counters
// bit for bit; truncated and mismatched files give errors naming the file; a failed write
// leaves the previous checkpoint intact; k steps + save + load into a fresh model and
// optimizer + N-k steps equals N steps in one go, bitwise; a pruned model's prune log and
// extensions travel with the file (the log is restored, the extensions must already be installed);
// a save with NaN/inf weights or moments is refused and keeps the last good file; the run config
// round-trips.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "nn/io/safetensors.h"
#include "nn/model_extension.h"
#include "nn/prune_log.h"
#include "nn/vision_transformer.h"
#include "train/schedule.h"
#include "tiny_vit_task.h"
#include "train/train_state.h"

using namespace shears;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
  fs::path d = fs::temp_directory_path() / ("shears_train_state_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

nn::ModelConfig tiny_config(int64_t depth = 1) {
  nn::ModelConfig c = test::tiny_vit_config(3);
  c.blocks = nn::uniform_blocks(depth, 2, 8, 32);
  c.std = {0.25};
  return c;
}

// Fixed synthetic batch for step s.
std::pair<Tensor, Tensor> batch(int64_t s) {
  Generator g(1000 + uint64_t(s));
  Tensor x = randn({4, 1, 8, 8}, DType::F32, &g);
  std::vector<int64_t> y = {s % 3, (s + 1) % 3, (s * 7) % 3, 1};
  return {x, from_vector(y)};
}

struct Run {
  std::shared_ptr<nn::VisionTransformer> model;
  std::unique_ptr<train::AdamW> opt;
  Generator drop_gen{7, 1};
  train::CosineSchedule sched{1e-2, 1e-4, 1e-5, 2, 8};

  explicit Run(uint64_t seed) {
    model = std::make_shared<nn::VisionTransformer>(tiny_config(2), seed);
    train::apply_drop_path(*model, 0.2, &drop_gen);
    opt = std::make_unique<train::AdamW>(train::layer_decay_groups(*model, 0.05, 0.8), train::AdamWOptions{});
  }
  // one step; returns the loss
  float step(int64_t s) {
    opt->set_lr(sched.at(s));
    opt->zero_grad();
    auto [x, y] = batch(s);
    Tensor loss = cross_entropy(model->forward(x), y, 0.1);
    backward(loss);
    train::clip_grad_norm(model->parameters(), 1.0);
    opt->step();
    return loss.item<float>();
  }
};

void require_same_bits(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  auto va = a.to_vector<float>(), vb = b.to_vector<float>();
  REQUIRE(std::memcmp(va.data(), vb.data(), va.size() * sizeof(float)) == 0);
}

void require_same_model(const nn::Module& a, const nn::Module& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  REQUIRE(pa.size() == pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    INFO(pa[i].first);
    REQUIRE(pa[i].first == pb[i].first);
    require_same_bits(pa[i].second, pb[i].second);
  }
}

}  // namespace

TEST_CASE("train state round trip restores weights, moments and counters exactly", "[train][train_state]") {
  const fs::path dir = temp_dir();
  const std::string path = (dir / "round_trip.safetensors").string();
  Run a(1);
  for (int64_t s = 0; s < 3; ++s) a.step(s);
  train::TrainState st;
  st.epoch = 4;
  st.step = 3;
  st.next_batch = 17;
  st.rng["data"] = 12345678901234567ull;
  train::save_generator(st, "drop_path", a.drop_gen);
  st.extra_json = R"({"best_acc": 0.875, "keep_rate": [0.7, 0.7]})";
  train::save_train_state(path, *a.model, *a.opt, st);

  Run b(99);  // fresh: different weights, zero moments
  train::TrainState got = train::load_train_state(path, *b.model, *b.opt);
  train::restore_generator(got, "drop_path", b.drop_gen);
  require_same_model(*a.model, *b.model);
  auto ma = a.opt->state(), mb = b.opt->state();
  REQUIRE(ma.size() == mb.size());
  for (size_t i = 0; i < ma.size(); ++i) require_same_bits(ma[i], mb[i]);
  CHECK(b.opt->steps() == 3);
  CHECK(b.opt->lr() == a.opt->lr());
  CHECK(got.epoch == 4);
  CHECK(got.step == 3);
  CHECK(got.next_batch == 17);
  CHECK(got.rng.at("data") == 12345678901234567ull);
  CHECK(b.drop_gen.offset() == a.drop_gen.offset());
  CHECK(a.drop_gen.offset() > 0);  // drop path really drew numbers
  CHECK(got.extra_json == st.extra_json);

  auto counters = train::read_train_state(path);
  CHECK(counters.next_batch == 17);
  // the model config travels with the file
  CHECK(nn::read_model_config(path).to_json() == a.model->config().to_json());

  // a different seed on resume is refused
  Generator other(8, 1);
  CHECK_THROWS_WITH(train::restore_generator(got, "drop_path", other), Catch::Contains("seed"));
  fs::remove_all(dir);
}

TEST_CASE("SGD state round trips and the optimizer kind is checked", "[train][train_state]") {
  const fs::path dir = temp_dir();
  const std::string path = (dir / "sgd.safetensors").string();
  nn::VisionTransformer m(tiny_config(), 1);
  train::SGD sgd(train::decay_groups(m, 1e-4), train::SGDOptions{});
  for (int64_t s = 0; s < 2; ++s) {
    sgd.zero_grad();
    auto [x, y] = batch(s);
    backward(cross_entropy(m.forward(x), y));
    sgd.step();
  }
  train::save_train_state(path, m, sgd, {});
  nn::VisionTransformer m2(tiny_config(), 2);
  train::SGD sgd2(train::decay_groups(m2, 1e-4), train::SGDOptions{});
  train::load_train_state(path, m2, sgd2);
  require_same_model(m, m2);
  for (size_t i = 0; i < sgd.state().size(); ++i) require_same_bits(sgd.state()[i], sgd2.state()[i]);
  CHECK(sgd2.steps() == 2);

  train::AdamW adam(train::decay_groups(m2, 0.05), {});
  CHECK_THROWS_WITH(train::load_train_state(path, m2, adam), Catch::Contains(path) && Catch::Contains("sgd"));

  // plain SGD has no state tensors, so a model of another depth reaches the strict model
  // load, whose error lists the unexpected keys; nothing is copied
  train::SGDOptions plain;
  plain.momentum = 0.0;
  train::SGD psgd(train::decay_groups(m, 0.0), plain);
  train::save_train_state(path, m, psgd, {});
  nn::VisionTransformer deep(tiny_config(2), 3);
  train::SGD dsgd(train::decay_groups(deep, 0.0), plain);
  const auto before = deep.parameters()[0].to_vector<float>();
  CHECK_THROWS_WITH(train::load_train_state(path, deep, dsgd),
                    Catch::Contains(path) && Catch::Contains("blocks.1.attn.qkv.weight"));
  CHECK(deep.parameters()[0].to_vector<float>() == before);
  fs::remove_all(dir);
}

TEST_CASE("a truncated or mismatched checkpoint gives an error naming the file", "[train][train_state]") {
  const fs::path dir = temp_dir();
  const std::string path = (dir / "good.safetensors").string();
  const std::string cut = (dir / "truncated.safetensors").string();
  Run a(1);
  a.step(0);
  train::save_train_state(path, *a.model, *a.opt, {});
  {
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream out(cut, std::ios::binary);
    out.write(bytes.data(), std::streamsize(bytes.size() / 2));
  }
  Run b(2);
  const auto before = b.model->parameters()[0].to_vector<float>();
  CHECK_THROWS_WITH(train::load_train_state(cut, *b.model, *b.opt), Catch::Contains(cut));
  CHECK_THROWS_WITH(train::load_train_state((dir / "missing.safetensors").string(), *b.model, *b.opt),
                    Catch::Contains("missing.safetensors"));
  // a model of another shape: strict load error naming the file; nothing copied
  nn::ModelConfig c3 = tiny_config(3);
  nn::VisionTransformer deep(c3, 3);
  train::AdamW deep_opt(train::layer_decay_groups(deep, 0.05, 0.8), {});
  CHECK_THROWS_WITH(train::load_train_state(path, deep, deep_opt), Catch::Contains(path));
  // a model-only checkpoint is not a training checkpoint
  const std::string model_only = (dir / "model.safetensors").string();
  nn::save_model(model_only, *a.model);
  CHECK_THROWS_WITH(train::load_train_state(model_only, *b.model, *b.opt),
                    Catch::Contains(model_only) && Catch::Contains("not a training checkpoint"));
  CHECK(b.model->parameters()[0].to_vector<float>() == before);
  CHECK(b.opt->steps() == 0);
  fs::remove_all(dir);
}

TEST_CASE("an interrupted checkpoint write leaves the previous checkpoint intact", "[train][train_state]") {
  const fs::path dir = temp_dir();
  const std::string path = (dir / "ckpt.safetensors").string();
  Run a(1);
  a.step(0);
  train::TrainState st;
  st.step = 1;
  train::save_train_state(path, *a.model, *a.opt, st);
  const std::vector<float> saved = a.model->parameters()[0].to_vector<float>();
  a.step(1);
  st.step = 2;
  // the writer's temp file cannot be created: the path is taken by a directory
  const fs::path blocker = path + ".tmp." + std::to_string(::getpid());
  fs::create_directories(blocker / "x");
  CHECK_THROWS_WITH(train::save_train_state(path, *a.model, *a.opt, st), Catch::Contains(path));
  fs::remove_all(blocker);
  Run b(5);
  auto got = train::load_train_state(path, *b.model, *b.opt);
  CHECK(got.step == 1);
  CHECK(b.opt->steps() == 1);
  CHECK(b.model->parameters()[0].to_vector<float>() == saved);
  fs::remove_all(dir);
}

TEST_CASE("k steps + save + load into a fresh model + N-k steps equals N steps", "[train][train_state]") {
  const int64_t N = 8, k = 3;
  const fs::path dir = temp_dir();
  const std::string path = (dir / "resume.safetensors").string();

  Run full(1);
  std::vector<float> losses_full;
  for (int64_t s = 0; s < N; ++s) losses_full.push_back(full.step(s));

  std::vector<float> losses_resumed;
  {
    Run first(1);
    for (int64_t s = 0; s < k; ++s) losses_resumed.push_back(first.step(s));
    train::TrainState st;
    st.step = k;
    train::save_generator(st, "drop_path", first.drop_gen);
    train::save_train_state(path, *first.model, *first.opt, st);
  }
  Run second(42);  // fresh model (other init), fresh optimizer, fresh generator
  train::TrainState st = train::load_train_state(path, *second.model, *second.opt);
  train::restore_generator(st, "drop_path", second.drop_gen);
  REQUIRE(st.step == k);
  for (int64_t s = st.step; s < N; ++s) losses_resumed.push_back(second.step(s));

  REQUIRE(losses_resumed.size() == losses_full.size());
  for (size_t i = 0; i < losses_full.size(); ++i) {
    INFO("step " << i);
    CHECK(losses_resumed[i] == Approx(losses_full[i]).margin(1e-6));
    CHECK(std::memcmp(&losses_resumed[i], &losses_full[i], sizeof(float)) == 0);  // bitwise
  }
  require_same_model(*full.model, *second.model);
  auto ma = full.opt->state(), mb = second.opt->state();
  for (size_t i = 0; i < ma.size(); ++i) require_same_bits(ma[i], mb[i]);
  CHECK(full.drop_gen.offset() == second.drop_gen.offset());
  fs::remove_all(dir);
}

namespace {

// A stand-in for an extension train/ does not know (token pruning lives in pruning/).
class MarkerExtension : public nn::ModelExtension {
 public:
  explicit MarkerExtension(std::string state = R"({"keep_rate": 0.7})") : state_(std::move(state)) {}
  std::string kind() const override { return "test_marker"; }
  std::string to_json() const override {
    if (state_.empty()) fail("test_marker", "this marker cannot be serialised");
    return state_;
  }

 private:
  std::string state_;
};

// A "pruned" model: uneven MLP widths, a prune log of one step, optionally a marker extension.
std::shared_ptr<nn::VisionTransformer> pruned_model(uint64_t seed, bool with_extension) {
  nn::ModelConfig c = tiny_config(2);
  c.blocks[1].mlp_hidden = 20;
  auto m = std::make_shared<nn::VisionTransformer>(c, seed);
  nn::PruneStep step;
  step.kind = "prune_mlp";
  step.method = "mlp:magnitude:widths=32;20";
  step.params_json = R"({"criterion": "magnitude", "widths": [32, 20]})";
  step.kept["blocks.1.mlp"] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 31};
  m->prune_log.push_back(step);
  if (with_extension) m->extensions.push_back(std::make_shared<MarkerExtension>());
  return m;
}

}  // namespace

TEST_CASE("a pruned model's prune log and extensions are saved and the log is restored", "[train][train_state]") {
  const fs::path dir = temp_dir();
  const std::string path = (dir / "pruned.safetensors").string();
  auto a = pruned_model(1, true);
  train::AdamW opt_a(train::decay_groups(*a, 0.05), {});
  train::save_train_state(path, *a, opt_a, {});
  // the same keys and values nn::save_model writes
  CHECK(nn::read_prune_log(path) == a->prune_log);
  const auto meta = nn::read_safetensors_metadata(path);
  const auto saved = nn::extensions_in(meta, path);
  REQUIRE(saved.size() == 1);
  CHECK(saved[0].kind == "test_marker");
  CHECK(nn::read_model_config(path).to_json() == a->config().to_json());

  // resuming: a model of the file's config with the extension installed, log empty
  auto b = std::make_shared<nn::VisionTransformer>(nn::read_model_config(path), 2);
  b->extensions.push_back(std::make_shared<MarkerExtension>());
  train::AdamW opt_b(train::decay_groups(*b, 0.05), {});
  train::load_train_state(path, *b, opt_b);
  require_same_model(*a, *b);
  REQUIRE(b->prune_log.size() == 1);
  CHECK(b->prune_log == a->prune_log);

  // a file without a prune log leaves the model's log as it is; a plain model's file has no
  // prune-log or extensions key
  const std::string plain = (dir / "plain.safetensors").string();
  nn::VisionTransformer p(nn::read_model_config(path), 3);
  train::AdamW opt_p(train::decay_groups(p, 0.05), {});
  train::save_train_state(plain, p, opt_p, {});
  const auto plain_meta = nn::read_safetensors_metadata(plain);
  CHECK(plain_meta.count("shears.prune_log") == 0);
  CHECK(plain_meta.count("shears.extensions") == 0);
  b->extensions.clear();
  train::load_train_state(plain, *b, opt_b);
  CHECK(b->prune_log == a->prune_log);
  fs::remove_all(dir);
}

TEST_CASE("resuming a model without the checkpoint's extensions fails naming the file and kind",
          "[train][train_state]") {
  const fs::path dir = temp_dir();
  const std::string path = (dir / "with_marker.safetensors").string();
  auto a = pruned_model(1, true);
  train::AdamW opt_a(train::decay_groups(*a, 0.05), {});
  train::save_train_state(path, *a, opt_a, {});

  auto b = std::make_shared<nn::VisionTransformer>(nn::read_model_config(path), 2);
  train::AdamW opt_b(train::decay_groups(*b, 0.05), {});
  const auto before = b->parameters()[0].to_vector<float>();
  CHECK_THROWS_WITH(train::load_train_state(path, *b, opt_b),
                    Catch::Contains(path) && Catch::Contains("'test_marker'") && Catch::Contains("install"));
  CHECK(b->parameters()[0].to_vector<float>() == before);  // nothing copied
  CHECK(b->prune_log.empty());

  // twice the extension is not the same model either
  b->extensions = {std::make_shared<MarkerExtension>(), std::make_shared<MarkerExtension>()};
  CHECK_THROWS_WITH(train::load_train_state(path, *b, opt_b), Catch::Contains(path) && Catch::Contains("'test_marker'"));

  // a model WITH an extension resuming from a checkpoint saved without it
  const std::string plain = (dir / "no_marker.safetensors").string();
  auto c = pruned_model(4, false);
  train::AdamW opt_c(train::decay_groups(*c, 0.05), {});
  train::save_train_state(plain, *c, opt_c, {});
  b->extensions = {std::make_shared<MarkerExtension>()};
  CHECK_THROWS_WITH(train::load_train_state(plain, *b, opt_b),
                    Catch::Contains(plain) && Catch::Contains("'test_marker'") && Catch::Contains("without it"));
  CHECK(b->parameters()[0].to_vector<float>() == before);
  fs::remove_all(dir);
}

TEST_CASE("an extension that cannot be serialised fails the save before anything is written", "[train][train_state]") {
  const fs::path dir = temp_dir();
  const std::string path = (dir / "unsaveable.safetensors").string();
  auto a = pruned_model(1, false);
  a->extensions.push_back(std::make_shared<MarkerExtension>(""));
  train::AdamW opt(train::decay_groups(*a, 0.05), {});
  CHECK_THROWS_WITH(train::save_train_state(path, *a, opt, {}),
                    Catch::Contains(path) && Catch::Contains("test_marker"));
  CHECK_FALSE(fs::exists(path));
  fs::remove_all(dir);
}

TEST_CASE("a save with NaN/inf weights or moments is refused and the last good state is kept", "[train][train_state]") {
  const fs::path dir = temp_dir();
  const std::string path = (dir / "diverged.safetensors").string();
  Run a(1);
  a.step(0);
  train::TrainState st;
  st.step = 1;
  train::save_train_state(path, *a.model, *a.opt, st);
  std::ifstream in(path, std::ios::binary);
  const std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();

  // a weight
  const auto named = a.model->named_parameters();
  named[2].second.data<float>()[1] = std::numeric_limits<float>::quiet_NaN();
  st.step = 2;
  CHECK_THROWS_WITH(train::save_train_state(path, *a.model, *a.opt, st),
                    Catch::Contains(path) && Catch::Contains("refusing to save non-finite weights") &&
                        Catch::Contains("'model." + named[2].first + "' holds nan at element 1") &&
                        Catch::Contains("the previous file at " + path + " is kept"));
  named[2].second.data<float>()[1] = 0.5f;
  // an optimizer moment
  a.opt->state()[0].data<float>()[0] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH(train::save_train_state(path, *a.model, *a.opt, st), Catch::Contains("'optim.0' holds inf"));

  std::ifstream again(path, std::ios::binary);
  const std::string now((std::istreambuf_iterator<char>(again)), std::istreambuf_iterator<char>());
  CHECK(now == good);  // byte for byte the last good state
  Run b(5);
  CHECK(train::load_train_state(path, *b.model, *b.opt).step == 1);
  for (const auto& entry : fs::directory_iterator(dir))
    CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("the run config travels with the training state", "[train][train_state]") {
  const fs::path dir = temp_dir();
  const std::string path = (dir / "config.safetensors").string();
  Run a(1);
  train::TrainState st;
  st.run_config = {{"seed", "3"}, {"lr", "0.001"}, {"batch-size", "64"}};
  train::save_train_state(path, *a.model, *a.opt, st);
  CHECK(train::read_train_state(path).run_config == st.run_config);
  Run b(2);
  CHECK(train::load_train_state(path, *b.model, *b.opt).run_config == st.run_config);
  // no config saved: none read
  train::save_train_state(path, *a.model, *a.opt, train::TrainState{});
  CHECK(train::read_train_state(path).run_config.empty());
  fs::remove_all(dir);
}
