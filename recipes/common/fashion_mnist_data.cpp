// Fashion-MNIST splits and the main job's transforms (see fashion_mnist_data.h).
#include "common/fashion_mnist_data.h"

#include <vector>

#include "data/datasets.h"
#include "data/transforms.h"

namespace shears::recipes {

FashionMnistSplits load_fashion_mnist_splits(const std::string& dir, int64_t train_limit, int64_t test_limit) {
  FashionMnistSplits s;
  s.train = std::make_shared<data::FashionMnistDataset>(dir, true, train_limit > 0 ? train_limit : -1);
  s.test = std::make_shared<data::FashionMnistDataset>(dir, false, test_limit > 0 ? test_limit : -1);
  return s;
}

data::Transform fashion_mnist_train_transform(const nn::ModelConfig& cfg, int64_t crop_padding) {
  std::vector<data::Transform> tf;
  if (crop_padding > 0) tf.push_back(data::random_crop(cfg.image_size, crop_padding));
  tf.push_back(data::horizontal_flip(0.5));
  tf.push_back(data::normalize(cfg.mean, cfg.std));
  return data::compose(tf);
}

data::Transform fashion_mnist_test_transform(const nn::ModelConfig& cfg) { return data::normalize(cfg.mean, cfg.std); }

nn::ModelConfig fashion_mnist_vit(int64_t patch, int64_t dim, int64_t depth, int64_t heads, int64_t mlp) {
  nn::ModelConfig c = nn::vit_tiny_patch4_28(10);
  c.patch_size = patch;
  c.dim = dim;
  c.blocks = nn::uniform_blocks(depth, heads, dim / heads, mlp);
  c.validate();
  return c;
}

}  // namespace shears::recipes
