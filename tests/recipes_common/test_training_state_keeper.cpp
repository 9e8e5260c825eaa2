// TrainingStateKeeper (recipes/common/training_state_keeper.h): positions after k steps (the epoch
// rolls over at its last batch), saves every N steps and at epoch ends (not twice for one step), a
// resumed run's loaded state as the last good one, and the divergence message naming it.
#include <catch2/catch.hpp>

#include <filesystem>

#include <unistd.h>

#include "common/training_state_keeper.h"
#include "data/data_loader.h"
#include "tiny_vit_task.h"

using namespace shears;

TEST_CASE("training state keeper: positions, periodic and epoch-end saves, resume and divergence",
          "[recipes_common][resume]") {
  const auto dir = std::filesystem::temp_directory_path() / ("shears_keeper_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "train_state.safetensors").string();
  const nn::ModelConfig cfg = test::tiny_vit_config();
  nn::VisionTransformer model(cfg, 7);
  data::LoaderOptions lo;
  lo.batch_size = 8, lo.seed = 3;
  data::DataLoader loader(std::make_shared<test::QuadrantDataset>(24), lo, test::normalize_for(cfg));  // 3 batches
  train::TrainerOptions to;
  to.epochs = 2;
  train::Trainer trainer(model, to, loader.batches_per_epoch());
  recipes::TrainingStateKeeper keeper(path, model, trainer.optimizer(), loader, {{"lr", "0.001"}}, true);

  // no state yet: the divergence message says so and suggests a lower lr
  const train::NonFiniteError boom("loss is nan at step 2", 0, 1);
  std::string msg = keeper.diverged(boom, 5e-3).what();
  CHECK_THAT(msg, Catch::Contains("no training state had been saved before step 2") &&
                      Catch::Contains("--lr 0.0005"));

  trainer.add_controller(keeper.periodic_saver(2));
  keeper.set_epoch(0);
  loader.start_epoch(0);
  trainer.train_epoch(loader, 0);  // steps 1..3: the periodic save wrote step 2
  train::TrainState saved = train::read_train_state(path);
  CHECK(saved.step == 2);
  CHECK(saved.epoch == 0);
  CHECK(saved.next_batch == 2);
  CHECK(saved.run_config.at("lr") == "0.001");
  // after the epoch's last batch the position rolls over to the next epoch
  const train::TrainState end = keeper.after(3);
  CHECK(end.epoch == 1);
  CHECK(end.next_batch == 0);
  keeper.save_at_epoch_end(3);
  CHECK(train::read_train_state(path).step == 3);
  // a second epoch-end call for the same step does not write again
  std::filesystem::remove(path);
  keeper.save_at_epoch_end(3);
  CHECK_FALSE(std::filesystem::exists(path));
  msg = keeper.diverged(boom, 5e-3).what();
  CHECK_THAT(msg, Catch::Contains("the last good training state " + path + " (after step 3)") &&
                      Catch::Contains("--resume-override lr --lr 0.0005") && Catch::Contains("--clip-grad 1"));

  // a resumed run: the loaded file is the last good state until this run saves
  recipes::TrainingStateKeeper resumed(path, model, trainer.optimizer(), loader, {}, false);
  train::TrainState from;
  from.epoch = 1, from.step = 3;
  resumed.resumed_from("/somewhere/else.safetensors", from);
  CHECK_THAT(std::string(resumed.diverged(boom, 1e-3).what()),
             Catch::Contains("/somewhere/else.safetensors (after step 3)"));
  loader.start_epoch(1);  // where the resumed run continues: epoch 1, batch 0
  const train::TrainState pos = resumed.after(3);
  CHECK(pos.epoch == 1);
  CHECK(pos.next_batch == 0);
  resumed.save_after(4);  // not the writer (another MPI rank): tracks the position, writes nothing
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK_THAT(std::string(resumed.diverged(boom, 1e-3).what()), Catch::Contains(path + " (after step 4)"));
  std::filesystem::remove_all(dir);
}
