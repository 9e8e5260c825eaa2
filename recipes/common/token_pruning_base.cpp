// Recipe and training of the token-pruning study's base model (see token_pruning_base.h).
#include "common/token_pruning_base.h"

#include <sstream>
#include <vector>

#include "common/fashion_mnist_data.h"
#include "common/finetune.h"
#include "data/random_erasing.h"
#include "data/transforms.h"

namespace shears::recipes {

nn::ModelConfig TokenPruningBase::model_config() const { return fashion_mnist_vit(patch, dim, depth, heads, mlp); }

std::string TokenPruningBase::describe(int64_t images) const {
  std::ostringstream s;
  s << "ViT patch " << patch << " dim " << dim << " depth " << depth << " heads " << heads << " mlp " << mlp
    << "; Fashion-MNIST, " << images << " training images; " << epochs << " epochs, batch " << batch_size
    << ", AdamW lr " << lr << ", warm-up " << warmup_epochs << " epochs, cosine to " << min_lr << ", weight decay "
    << weight_decay << ", label smoothing " << smoothing << ", Mixup " << mixup << "/CutMix " << cutmix
    << " on " << mix_prob << " of the batches, random crop pad " << crop_padding << ", flip 0.5, RandomErasing "
    << erase << "; seed " << seed;
  return s.str();
}

std::shared_ptr<nn::VisionTransformer> train_token_pruning_base(const TokenPruningBase& b,
                                                                std::shared_ptr<const data::Dataset> train,
                                                                int64_t log_every) {
  const nn::ModelConfig c = b.model_config();
  auto model = std::make_shared<nn::VisionTransformer>(c, b.seed);
  FinetuneOptions o;
  o.epochs = b.epochs;
  o.warmup_epochs = b.warmup_epochs;
  o.lr = b.lr;
  o.min_lr = b.min_lr;
  o.weight_decay = b.weight_decay;
  o.label_smoothing = b.smoothing;
  o.batch_size = b.batch_size;
  o.seed = b.seed;
  o.mixing = b.mix_prob > 0 && (b.mixup > 0 || b.cutmix > 0);
  o.mix.mixup_alpha = b.mixup;
  o.mix.cutmix_alpha = b.cutmix;
  o.mix.prob = b.mix_prob;
  o.mix.label_smoothing = b.smoothing;
  o.log_every = log_every;
  std::vector<data::Transform> tf;
  if (b.crop_padding > 0) tf.push_back(data::random_crop(c.image_size, b.crop_padding));
  tf.push_back(data::horizontal_flip(0.5));
  tf.push_back(data::normalize(c.mean, c.std));
  if (b.erase > 0) tf.push_back(data::random_erasing(b.erase, "pixel"));
  finetune(*model, train, data::compose(tf), o);
  return model;
}

}  // namespace shears::recipes
