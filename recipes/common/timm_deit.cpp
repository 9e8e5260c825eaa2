// timm DeiT checkpoints and the DeiT transforms (see timm_deit.h).
#include "common/timm_deit.h"

#include <filesystem>
#include <set>
#include <string>

#include "data/random_erasing.h"
#include "data/transforms.h"
#include "nn/io/safetensors.h"
#include "nn/io/state_dict.h"

namespace shears::recipes {

namespace {

const char* kOp = "timm_deit";

// Name without a wrapper prefix ("model.", "module.", "state_dict.").
std::string unwrapped(std::string name) {
  for (bool again = true; again;) {
    again = false;
    for (const char* p : {"model.", "module.", "state_dict."}) {
      const std::string prefix(p);
      if (name.compare(0, prefix.size(), prefix) == 0) {
        name = name.substr(prefix.size());
        again = true;
      }
    }
  }
  return name;
}

}  // namespace

nn::ModelConfig timm_deit_config(const std::string& path, int64_t num_classes) {
  SHEARS_CHECK(std::filesystem::is_regular_file(path), kOp, "checkpoint '", path, "' is not a file");
  const nn::SafetensorsFile file = nn::read_safetensors(path);
  const Tensor* patch = nullptr;
  const Tensor* pos = nullptr;
  std::set<int64_t> blocks;
  for (const auto& [raw, t] : file.tensors) {
    const std::string name = unwrapped(raw);
    if (name == "patch_embed.proj.weight") patch = &t;
    if (name == "pos_embed") pos = &t;
    if (name.compare(0, 7, "blocks.") == 0) blocks.insert(std::stoll(name.substr(7, name.find('.', 7) - 7)));
  }
  SHEARS_CHECK(patch && pos, kOp, "checkpoint '", path,
               "' has no patch_embed.proj.weight / pos_embed: expected a timm DeiT-S or DeiT-B state dict");
  const Shape ps = patch->shape();
  const bool shape_ok = ps.size() == 4 && (ps[0] == 384 || ps[0] == 768) && ps[1] == 3 && ps[2] == 16 && ps[3] == 16;
  SHEARS_CHECK(shape_ok && pos->dim() == 3 && pos->size(1) == 197, kOp, "checkpoint '", path,
               "' is not DeiT-S/B at 224 px: expected patch_embed.proj.weight (384 or 768, 3, 16, 16) and pos_embed "
               "(1, 197, dim), got ",
               shape_str(ps), " and ", shape_str(pos->shape()));
  SHEARS_CHECK(!blocks.empty() && *blocks.rbegin() + 1 == int64_t(blocks.size()), kOp, "checkpoint '", path,
               "': the blocks.<i> tensors are not numbered 0..depth-1");
  nn::ModelConfig cfg = ps[0] == 384 ? nn::deit_small_patch16_224(num_classes) : nn::deit_base_patch16_224(num_classes);
  const int64_t depth = int64_t(blocks.size());
  cfg.blocks = nn::uniform_blocks(depth, cfg.blocks[0].heads, cfg.blocks[0].head_dim, cfg.blocks[0].mlp_hidden);
  cfg.validate();
  return cfg;
}

std::shared_ptr<nn::VisionTransformer> load_timm_deit(const std::string& path, int64_t num_classes, double drop_path,
                                                      bool* head_replaced) {
  nn::ModelConfig cfg = timm_deit_config(path, num_classes);
  cfg.drop_path = drop_path;
  auto model = std::make_shared<nn::VisionTransformer>(cfg, 0);
  nn::LoadReport report = nn::load_safetensors(*model, path, /*strict=*/false);
  bool replaced = false;
  for (const std::string& m : report.missing) {
    SHEARS_CHECK(m.compare(0, 5, "head.") == 0, kOp, "checkpoint '", path, "' lacks backbone weights:\n", report.str());
    replaced = true;
  }
  for (const std::string& m : report.mismatched) {
    SHEARS_CHECK(m.compare(0, 5, "head.") == 0, kOp, "checkpoint '", path, "' has mis-shaped weights:\n", report.str());
    replaced = true;
  }
  if (head_replaced) *head_replaced = replaced;
  return model;
}

data::Transform deit_train_transform(int64_t size, double erase) {
  std::vector<data::Transform> tf = {
      data::random_resized_crop(size, {0.08, 1.0}, {3.0 / 4.0, 4.0 / 3.0}, data::Interpolation::Bicubic),
      data::horizontal_flip(0.5), data::normalize(data::kImageNetMean, data::kImageNetStd)};
  if (erase > 0) tf.push_back(data::random_erasing(erase, "pixel"));
  return data::compose(tf);
}

data::Transform deit_eval_transform(int64_t size) {
  return data::compose({data::resize_shorter(int64_t(double(size) / 0.875), data::Interpolation::Bicubic),
                        data::center_crop(size), data::normalize(data::kImageNetMean, data::kImageNetStd)});
}

}  // namespace shears::recipes
