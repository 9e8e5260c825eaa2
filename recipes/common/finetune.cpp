// Fine-tuning loop on train::Trainer (see finetune.h).
#include "common/finetune.h"

#include <algorithm>

#include "data/data_loader.h"

namespace shears::recipes {

double finetune(nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> train, data::Transform transform,
                const FinetuneOptions& ft) {
  SHEARS_CHECK(ft.epochs >= 1 && ft.batch_size >= 2, "finetune", "need epochs >= 1 and batch_size >= 2, got ",
               ft.epochs, " and ", ft.batch_size);
  SHEARS_CHECK(train->size() >= ft.batch_size, "finetune", "the training set (", train->size(),
               " samples) is smaller than one batch of ", ft.batch_size);
  data::BatchTransform mixing;
  if (ft.mixing) {
    data::MixupOptions mix = ft.mix;
    mix.num_classes = train->num_classes();
    mixing = data::mixup_cutmix(mix);
  }
  data::LoaderOptions lo;
  lo.batch_size = ft.batch_size;
  lo.seed = ft.seed;
  lo.drop_last = true;
  data::DataLoader loader(train, lo, std::move(transform), mixing);
  train::TrainerOptions to = ft;
  to.warmup_epochs = std::min<double>(ft.warmup_epochs, double(ft.epochs));
  to.quiet = ft.quiet || ft.log_every <= 0;
  train::Trainer trainer(model, to, loader.batches_per_epoch());
  for (const auto& controller : ft.controllers) trainer.add_controller(controller);
  trainer.set_loss(ft.loss);
  double loss = 0;
  for (int64_t e = 0; e < ft.epochs; ++e) {
    loader.start_epoch(e);
    loss = trainer.train_epoch(loader, e);
  }
  return loss;
}

}  // namespace shears::recipes
