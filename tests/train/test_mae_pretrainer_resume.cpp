// Exact resume of VideoMAE pretraining with DropPath on (issue 15): a run stopped after 2 steps and
// continued in a fresh model + MaePretrainer (weights and AdamW moments copied, set_step) ends at the
// uninterrupted run's exact bytes, however the process generator was used meanwhile, because
// DropPath draws are keyed by (mask_seed, step) like the masks.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "autograd/ops.h"
#include "tensor/kernels.h"
#include "train/mae_pretrainer.h"

using namespace shears;

namespace {
nn::PretrainConfig tiny_config(double drop_path) {
  nn::PretrainConfig pc;
  nn::ModelConfig& e = pc.encoder;
  e.arch = "videomae";
  e.image_size = 16, e.in_chans = 1, e.patch_size = 4, e.frames = 4, e.tubelet = 2, e.dim = 32;
  e.blocks = nn::uniform_blocks(3, 2, 16, 64);
  e.num_classes = 0;
  e.mean = {0.5}, e.std = {0.5};
  e.drop_path = drop_path;
  pc.decoder_dim = 32, pc.decoder_depth = 1, pc.decoder_heads = 2, pc.decoder_mlp_hidden = 64;
  pc.mask_ratio = 0.5;
  return pc;
}

Tensor clips() {
  Generator gen(11);
  return rand({4, 1, 4, 16, 16}, DType::F32, &gen);
}

train::MaePretrainOptions options() {
  train::MaePretrainOptions o;
  o.epochs = 1, o.lr = 1e-3, o.warmup_epochs = 0.25, o.min_lr = 1e-4, o.mask_seed = 21, o.quiet = true;
  return o;
}

std::vector<float> flat_parameters(const nn::Module& m) {
  std::vector<float> out;
  for (const auto& [name, t] : m.named_parameters()) {
    const Tensor c = kernels::contiguous(t);
    out.insert(out.end(), c.data<float>(), c.data<float>() + c.numel());
  }
  return out;
}

// Uses the process generator the way unrelated code in a resumed process would.
void disturb_process_generator() { (void)rand({1000}, DType::F32); }

struct Run {
  std::vector<double> losses;
  std::vector<float> weights;
};

Run uninterrupted(double drop_path, int steps) {
  nn::VideoMAEPretrain model(tiny_config(drop_path), 5);
  train::MaePretrainer trainer(model, options(), steps);
  Run r;
  const Tensor x = clips();
  for (int s = 0; s < steps; ++s) {
    r.losses.push_back(trainer.train_step(x));
    disturb_process_generator();
  }
  r.weights = flat_parameters(model);
  return r;
}

Run stopped_and_resumed(double drop_path, int steps, int stop_after) {
  const Tensor x = clips();
  Run r;
  nn::VideoMAEPretrain first(tiny_config(drop_path), 5);
  train::MaePretrainer first_trainer(first, options(), steps);
  for (int s = 0; s < stop_after; ++s) r.losses.push_back(first_trainer.train_step(x));
  disturb_process_generator();
  disturb_process_generator();
  // a "new process": another init, then the saved weights and optimizer state copied in
  nn::VideoMAEPretrain second(tiny_config(drop_path), 99);
  train::MaePretrainer second_trainer(second, options(), steps);
  const auto from = first.named_parameters(), to = second.named_parameters();
  REQUIRE(from.size() == to.size());
  for (size_t i = 0; i < from.size(); ++i) kernels::copy_(to[i].second, from[i].second);
  const TensorList m_from = first_trainer.optimizer().state(), m_to = second_trainer.optimizer().state();
  REQUIRE(m_from.size() == m_to.size());
  for (size_t i = 0; i < m_from.size(); ++i) kernels::copy_(m_to[i], m_from[i]);
  second_trainer.optimizer().set_steps(first_trainer.optimizer().steps());
  second_trainer.set_step(first_trainer.step());
  for (int s = stop_after; s < steps; ++s) r.losses.push_back(second_trainer.train_step(x));
  r.weights = flat_parameters(second);
  return r;
}

bool same_bytes(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}
}  // namespace

TEST_CASE("MAE pretraining: a resumed run with DropPath is bit-identical to an uninterrupted one", "[train][mae][resume]") {
  const Run whole = uninterrupted(0.5, 4);
  const Run resumed = stopped_and_resumed(0.5, 4, 2);
  CHECK(resumed.losses == whole.losses);
  CHECK(same_bytes(resumed.weights, whole.weights));
  // DropPath really draws (the check above would hold trivially otherwise)
  const Run no_drop = uninterrupted(0.0, 4);
  CHECK(no_drop.losses[0] != whole.losses[0]);
  CHECK_FALSE(same_bytes(no_drop.weights, whole.weights));
}

TEST_CASE("MAE pretraining: DropPath leaves the blocks' generators as they were after a step", "[train][mae]") {
  nn::VideoMAEPretrain model(tiny_config(0.5), 5);
  Generator mine(3);
  model.encoder->blocks->items[1]->drop_path_gen = &mine;
  train::MaePretrainer trainer(model, options(), 2);
  trainer.train_step(clips());
  CHECK(model.encoder->blocks->items[1]->drop_path_gen == &mine);
  CHECK(model.encoder->blocks->items[0]->drop_path_gen == nullptr);
  CHECK(model.decoder->blocks->items[0]->drop_path_gen == nullptr);
  CHECK_THROWS_WITH(trainer.set_step(-1), Catch::Contains("set_step"));
}
