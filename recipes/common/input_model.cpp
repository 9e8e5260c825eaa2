// Loading a pruning recipe's input checkpoint in any supported format (see input_model.h).
#include "common/input_model.h"

#include <map>

#include "common/timm_deit.h"
#include "nn/checkpoint.h"
#include "nn/io/safetensors.h"
#include "nn/io/state_dict.h"
#include "pruning/provenance.h"
#include "tensor/error.h"

namespace shears::recipes {

namespace {
constexpr const char* kOp = "load_input_model";
}  // namespace

std::string detect_checkpoint_format(const std::string& path) {
  const auto meta = nn::read_safetensors_metadata(path);
  if (meta.count("shears.config")) return "shears";
  const nn::SafetensorsFile file = nn::read_safetensors(path);
  for (const auto& [name, tensor] : file.tensors)
    if (name.find("encoder.layer.") != std::string::npos) return "hf-videomae";
  return "timm";
}

std::shared_ptr<nn::VisionTransformer> load_hf_videomae(const std::string& path, int64_t num_classes, int64_t heads,
                                                        int64_t frames, int64_t image_size) {
  const nn::SafetensorsFile file = nn::read_safetensors(path);
  std::map<std::string, Shape> shapes;
  for (const auto& [name, tensor] : file.tensors) {
    std::string n = name.rfind("videomae.", 0) == 0 ? name.substr(9) : name;
    shapes[n] = tensor.shape();
  }
  auto shape_of = [&](const std::string& name) -> const Shape& {
    auto it = shapes.find(name);
    SHEARS_CHECK(it != shapes.end(), kOp, path, ": no '", name, "' in this Hugging Face VideoMAE file");
    return it->second;
  };
  const Shape proj = shape_of("embeddings.patch_embeddings.projection.weight");  // (dim, C, t, p, p)
  SHEARS_CHECK(proj.size() == 5 && proj[3] == proj[4], kOp, path,
               ": embeddings.patch_embeddings.projection.weight should be (dim, C, t, p, p), got ", shape_str(proj));
  nn::ModelConfig cfg = nn::videomae_base_patch16_224(1);
  cfg.dim = proj[0], cfg.in_chans = proj[1], cfg.tubelet = proj[2], cfg.patch_size = proj[3];
  cfg.frames = frames, cfg.image_size = image_size;
  cfg.qkv_bias = shapes.count("encoder.layer.0.attention.attention.q_bias") > 0;
  cfg.blocks.clear();
  for (int64_t b = 0; shapes.count("encoder.layer." + std::to_string(b) + ".intermediate.dense.weight"); ++b) {
    const std::string l = "encoder.layer." + std::to_string(b) + ".";
    const int64_t width = shape_of(l + "attention.attention.query.weight")[0];
    const int64_t h = heads > 0 ? heads : width / 64;
    SHEARS_CHECK(h >= 1 && width % h == 0, kOp, path, ": layer ", b, " has attention width ", width, " which ",
                 heads > 0 ? "--heads does not divide" : "is not a multiple of 64: give --heads");
    cfg.blocks.push_back({h, width / h, shape_of(l + "intermediate.dense.weight")[0]});
  }
  SHEARS_CHECK(!cfg.blocks.empty(), kOp, path, ": no encoder.layer.<i> weights (not a VideoMAE encoder)");
  const auto head = shapes.find("classifier.weight");
  SHEARS_CHECK(head != shapes.end() || num_classes > 0, kOp, path,
               ": no classifier.weight in this Hugging Face VideoMAE file; give --num-classes for a fresh head");
  cfg.num_classes = head != shapes.end() ? head->second[0] : num_classes;
  SHEARS_CHECK(num_classes == 0 || num_classes == cfg.num_classes, kOp, path, ": the head has ", cfg.num_classes,
               " classes, --num-classes says ", num_classes, " (pruning keeps the head; fine-tune it elsewhere)");
  cfg.validate();
  auto model = std::make_shared<nn::VisionTransformer>(cfg);
  nn::load_safetensors(*model, path, /*strict=*/head != shapes.end());
  return model;
}

std::shared_ptr<nn::VisionTransformer> load_input_model(const std::string& path, const InputModelOptions& o,
                                                        std::string& format, bool* head_replaced) {
  format = o.format == "auto" ? detect_checkpoint_format(path) : o.format;
  if (head_replaced) *head_replaced = false;
  if (format == "shears") return pruning::load_model(path);
  if (format == "hf-videomae") return load_hf_videomae(path, o.num_classes, o.heads, o.frames, o.image_size);
  SHEARS_CHECK(format == "timm", kOp, path, ": unknown checkpoint format '", format,
               "' (expected auto, shears, timm or hf-videomae)");
  return load_timm_vit(path, o.num_classes, o.heads, head_replaced);
}

}  // namespace shears::recipes
