// timm DeiT checkpoints and the DeiT transforms (see timm_deit.h).
#include "common/timm_deit.h"

#include <cmath>
#include <filesystem>
#include <map>
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

nn::ModelConfig timm_vit_config(const std::string& path, int64_t num_classes, int64_t heads) {
  SHEARS_CHECK(std::filesystem::is_regular_file(path), kOp, "checkpoint '", path, "' is not a file");
  SHEARS_CHECK(heads >= 0, kOp, "heads must be >= 0 (0 = width / 64), got ", heads);
  const nn::SafetensorsFile file = nn::read_safetensors(path);
  std::map<std::string, Shape> shapes;
  std::set<int64_t> blocks;
  for (const auto& [raw, t] : file.tensors) {
    const std::string name = unwrapped(raw);
    shapes[name] = t.shape();
    if (name.compare(0, 7, "blocks.") == 0) blocks.insert(std::stoll(name.substr(7, name.find('.', 7) - 7)));
  }
  auto shape_of = [&](const std::string& name) -> const Shape& {
    auto it = shapes.find(name);
    SHEARS_CHECK(it != shapes.end(), kOp, "checkpoint '", path, "' has no '", name, "': expected a timm ViT/DeiT state dict");
    return it->second;
  };
  const Shape ps = shape_of("patch_embed.proj.weight");
  const Shape pos = shape_of("pos_embed");
  SHEARS_CHECK(ps.size() == 4 && ps[2] == ps[3] && pos.size() == 3 && pos[2] == ps[0] && shapes.count("cls_token"), kOp,
               "checkpoint '", path, "': expected patch_embed.proj.weight (dim, C, p, p), pos_embed (1, N, dim) and a "
               "cls_token, got ", shape_str(ps), " and ", shape_str(pos));
  const int64_t grid = int64_t(std::llround(std::sqrt(double(pos[1] - 1))));
  SHEARS_CHECK(grid * grid == pos[1] - 1, kOp, "checkpoint '", path, "': pos_embed holds ", pos[1],
               " tokens, not 1 + a square number of patches");
  SHEARS_CHECK(!blocks.empty() && *blocks.rbegin() + 1 == int64_t(blocks.size()), kOp, "checkpoint '", path,
               "': the blocks.<i> tensors are not numbered 0..depth-1");
  nn::ModelConfig cfg;
  cfg.arch = "vit";
  cfg.dim = ps[0];
  cfg.in_chans = ps[1];
  cfg.patch_size = ps[2];
  cfg.image_size = grid * ps[2];
  cfg.qkv_bias = shapes.count("blocks.0.attn.qkv.bias") > 0;
  if (cfg.in_chans != 3) cfg.mean = std::vector<double>(size_t(cfg.in_chans), 0.5), cfg.std = cfg.mean;
  for (int64_t b = 0; b < int64_t(blocks.size()); ++b) {
    const std::string prefix = "blocks." + std::to_string(b) + ".";
    const int64_t width = shape_of(prefix + "attn.qkv.weight")[0] / 3;
    const int64_t h = heads > 0 ? heads : width / 64;
    SHEARS_CHECK(h >= 1 && width % h == 0 && (heads > 0 || width % 64 == 0), kOp, "checkpoint '", path, "': block ", b,
                 " has attention width ", width, heads > 0 ? ", which the given head count does not divide"
                                                  : "; the head count is not stored in a timm file: give it (--heads)");
    cfg.blocks.push_back({h, width / h, shape_of(prefix + "mlp.fc1.weight")[0]});
  }
  const auto head = shapes.find("head.weight");
  cfg.num_classes = num_classes > 0 ? num_classes : head != shapes.end() ? head->second[0] : 0;
  cfg.validate();
  return cfg;
}

std::shared_ptr<nn::VisionTransformer> load_timm_vit(const std::string& path, int64_t num_classes, int64_t heads,
                                                     bool* head_replaced) {
  return load_timm_model(timm_vit_config(path, num_classes, heads), path, head_replaced);
}

std::shared_ptr<nn::VisionTransformer> load_timm_deit(const std::string& path, int64_t num_classes, double drop_path,
                                                      bool* head_replaced) {
  nn::ModelConfig cfg = timm_deit_config(path, num_classes);
  cfg.drop_path = drop_path;
  return load_timm_model(cfg, path, head_replaced);
}

std::shared_ptr<nn::VisionTransformer> load_timm_model(const nn::ModelConfig& cfg, const std::string& path,
                                                       bool* head_replaced) {
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
