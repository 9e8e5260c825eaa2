// Token pruning pictures for one image (PNG under --out):
//   entropy_<order>.png  per-patch attention entropy of every block (head-mean Rényi/Shannon
//                        entropy of each patch's query row) as heatmaps: row 1 the image, then
//                        one heatmap per block (viridis, each block min-max scaled; dark = low
//                        entropy = kept first by the entropy policies); row 2 the same over the image
//   kept_patches.png     kept (bright) and pruned (darkened, red) patches after each pruning block,
//                        one row per policy (EViT, then Rényi), each applied through the transform
//                        API to a copy of the model with the policy's default fusion (EViT fused,
//                        Rényi not)
// The image: a Fashion-MNIST test index (--index) for the main job's model (--base-checkpoint),
// or an image file (--image) for a timm DeiT-S/B checkpoint (--checkpoint), resized 256 and
// center-cropped 224 as for evaluation.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <cxxopts.hpp>

#include "autograd/ops.h"
#include "common/fashion_mnist_data.h"
#include "common/recipe_main.h"
#include "common/timm_deit.h"
#include "common/token_pictures.h"
#include "data/datasets.h"
#include "data/fashion_mnist.h"
#include "data/transforms.h"
#include "pruning/provenance.h"

using namespace shears;

namespace {

const char* kProg = "shears_token_pictures";

struct Settings {
  std::string out, base_checkpoint, checkpoint, image, data_dir;
  bool random_model = false;
  int64_t index = 0, scale = 0;
  double keep_rate = 0.5;
  std::string policies = "evit,renyi:2";
  std::vector<double> orders = {1.0, 2.0};
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string order_name(double a) {
  if (a == 1.0) return "shannon";
  if (std::isinf(a)) return "renyi_inf";
  std::ostringstream s;
  s << "renyi" << a;
  return s.str();
}

std::string order_label(double a) {
  if (a == 1.0) return "Shannon";
  std::ostringstream s;
  s << "Rényi order " << (std::isinf(a) ? std::string("inf") : std::to_string(a).substr(0, 4));
  return s.str();
}

std::string png_info(const std::string& path, const data::Image8& im) {
  return path + " (" + std::to_string(im.width) + "x" + std::to_string(im.height) + ")";
}

int run(const Settings& s) {
  std::shared_ptr<nn::VisionTransformer> model;
  Tensor image;  // (C, H, W) in [0, 1] at the model's input size
  std::string source;
  if (!s.checkpoint.empty()) {
    SHEARS_CHECK(!s.image.empty(), kProg, "--checkpoint (timm DeiT) needs --image <file>");
    model = recipes::load_timm_deit(s.checkpoint, 1000, 0.0);
    Generator gen(0);
    image = data::center_crop(224)(data::resize_shorter(256, data::Interpolation::Bicubic)(
                                       data::load_image_rgb(s.image), gen),
                                   gen);
    source = s.image;
  } else {
    if (s.random_model) {
      nn::ModelConfig c = nn::vit_tiny_patch4_28(10);
      c.patch_size = 7;
      c.dim = 32;
      c.blocks = nn::uniform_blocks(4, 2, 16, 64);
      model = std::make_shared<nn::VisionTransformer>(c, 0);
      source = "random tiny ViT";
    } else {
      SHEARS_CHECK(std::filesystem::is_regular_file(s.base_checkpoint), kProg, "--base-checkpoint '",
                   s.base_checkpoint,
                   "' does not exist: run the main job first (bash scripts/main.sh), pass --base-checkpoint <file>, "
                   "or --random-model");
      model = pruning::load_model(s.base_checkpoint);  // a token-pruned checkpoint keeps its pruning
      source = s.base_checkpoint;
    }
    const nn::ModelConfig c = model->config();
    SHEARS_CHECK(c.in_chans == 1 && c.image_size == 28, kProg, "the model expects ", c.image_size, "x", c.image_size,
                 "x", c.in_chans, " inputs; Fashion-MNIST pictures need 28x28x1 (use --checkpoint + --image for DeiT)");
    recipes::FashionMnistSplits splits = recipes::load_fashion_mnist_splits(s.data_dir, 1, s.index + 1);
    SHEARS_CHECK(s.index >= 0 && s.index < splits.test->size(), kProg, "--index ", s.index,
                 " is outside the Fashion-MNIST test split");
    image = splits.test->get(s.index).input;
    source += ", Fashion-MNIST test image " + std::to_string(s.index) + " (label " +
              std::to_string(splits.test->get(s.index).label) + ")";
  }
  const nn::ModelConfig cfg = model->config();
  SHEARS_CHECK(cfg.has_cls_token(), kProg, "token pruning pictures need a ViT with a CLS token");
  Generator gen(0);
  const Tensor input = reshape(data::normalize(cfg.mean, cfg.std)(image, gen),
                               {1, cfg.in_chans, cfg.image_size, cfg.image_size});
  const int64_t scale = s.scale > 0 ? s.scale : std::max<int64_t>(1, 224 / cfg.image_size);
  const data::Image8 picture = recipes::picture_of(image, scale);
  const int64_t grid = cfg.grid();
  std::filesystem::create_directories(s.out);
  std::printf("%s: %s; %ld blocks, %ldx%ld patches; pictures %ldx upscaled\n", kProg, source.c_str(),
              long(cfg.depth()), long(grid), long(grid), long(scale));

  for (double order : s.orders) {
    pruning::AttentionEntropyOptions eo;
    eo.renyi_order = order;
    const auto entropies = recipes::patch_entropy_per_block(*model, input, eo);
    const data::Image8 fig = recipes::entropy_figure(picture, entropies, grid);
    const std::string path = s.out + "/entropy_" + order_name(order) + ".png";
    data::write_png(path, fig);
    std::printf("wrote %s: head-mean %s entropy of each patch's attention row, blocks 1..%ld left to right (row 1 "
                "heatmaps, dark = low entropy; row 2 over the image)\n",
                png_info(path, fig).c_str(), order_label(order).c_str(),
                long(cfg.depth()));
  }

  std::vector<std::vector<std::vector<int64_t>>> kept;
  std::vector<recipes::KeptPatches> results;
  std::string rows;
  for (const std::string& p : split_list(s.policies)) {
    pruning::TokenPruningConfig pc;  // fuse unset: the policy's default (EViT fused, entropy/random not)
    pc.policy = pruning::parse_token_policy(p);
    pc.keep_rate = s.keep_rate;
    results.push_back(recipes::kept_patches_per_pruning_block(*model, input, pc));
    kept.push_back(results.back().kept);
    rows += (rows.empty() ? "" : ", ") + pc.policy.name() + (results.back().fused ? " (fused)" : " (unfused)");
  }
  const data::Image8 fig = recipes::kept_patches_figure(picture, grid, kept);
  const std::string path = s.out + "/kept_patches.png";
  data::write_png(path, fig);
  std::string stages;
  for (int64_t loc : results.front().blocks) stages += " " + std::to_string(loc + 1);
  std::printf("wrote %s: rows %s at keep rate %.2f, each policy's default fusion; columns: the image, then the "
              "patches kept after blocks%s (pruned patches darkened red; a fused token is not drawn)\n",
              png_info(path, fig).c_str(), rows.c_str(), s.keep_rate, stages.c_str());
  for (size_t p = 0; p < kept.size(); ++p) {
    std::printf("  %s kept:", split_list(s.policies)[p].c_str());
    for (const auto& k : kept[p]) std::printf(" %zu", k.size());
    std::printf(" patches\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return shears::recipes::recipe_main([&]() -> int {
    cxxopts::Options options(kProg,
                             "Token pruning pictures for one image: per-patch attention entropy heatmaps of every "
                             "block and\nthe patches kept after each pruning block for EViT vs Rényi, as PNG under "
                             "--out.\n");
    options.add_options()
        ("out", "output folder", cxxopts::value<std::string>()->default_value("runs/token_pictures"))
        ("base-checkpoint", "shears checkpoint of a 28x28x1 ViT (the main job's)",
         cxxopts::value<std::string>()->default_value("runs/main/vit_fmnist.safetensors"))
        ("random-model", "use a tiny random ViT instead of a checkpoint (tests)")
        ("index", "Fashion-MNIST test image index", cxxopts::value<int64_t>()->default_value("0"))
        ("data-dir", "Fashion-MNIST IDX folder", cxxopts::value<std::string>()->default_value(data::kFashionMnistDefaultDir))
        ("checkpoint", "timm DeiT-S/B .safetensors (with --image) instead of --base-checkpoint",
         cxxopts::value<std::string>()->default_value(""))
        ("image", "image file for --checkpoint (resized 256, center crop 224)",
         cxxopts::value<std::string>()->default_value(""))
        ("keep-rate", "keep rate of the kept-patches picture", cxxopts::value<double>()->default_value("0.5"))
        ("policies", "rows of the kept-patches picture", cxxopts::value<std::string>()->default_value("evit,renyi:2"))
        ("orders", "entropy orders of the heatmaps (1 = Shannon, inf)", cxxopts::value<std::string>()->default_value("1,2"))
        ("scale", "upscale factor of every cell (0 = 224 / image size)", cxxopts::value<int64_t>()->default_value("0"))
        ("h,help", "print this help and exit");
    const auto parsed = recipes::parse_flags(options, argc, argv, kProg);
    if (!parsed) return 0;
    const cxxopts::ParseResult& r = *parsed;
    Settings s;
    s.out = r["out"].as<std::string>();
    s.base_checkpoint = r["base-checkpoint"].as<std::string>();
    s.random_model = r.count("random-model") > 0;
    s.index = r["index"].as<int64_t>();
    s.data_dir = r["data-dir"].as<std::string>();
    s.checkpoint = r["checkpoint"].as<std::string>();
    s.image = r["image"].as<std::string>();
    s.keep_rate = r["keep-rate"].as<double>();
    s.policies = r["policies"].as<std::string>();
    s.scale = r["scale"].as<int64_t>();
    SHEARS_CHECK(s.keep_rate > 0 && s.keep_rate <= 1, kProg, "--keep-rate must be in (0, 1], got ", s.keep_rate);
    SHEARS_CHECK(s.scale >= 0, kProg, "--scale must be >= 0, got ", s.scale);
    recipes::prepare_output_dir(s.out, kProg);
    s.orders.clear();
    for (const std::string& o : split_list(r["orders"].as<std::string>())) {
      const pruning::TokenPolicySpec spec = pruning::parse_token_policy(o == "1" ? "shannon" : "renyi:" + o);
      s.orders.push_back(spec.renyi_order);
    }
    return run(s);
  });
}
