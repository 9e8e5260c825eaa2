// Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/): small valid inputs
// made with shears' own writers (checkpoints, configs, prune logs, IDX, images) and hand-made
// invalid ones (truncated, wrong magic, deep nesting, overflowing sizes). Run once after a format
// change: make_fuzz_seeds <corpus dir>; the output is committed (kept well under 2 MB).
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

// Its own static copy of stb_image_write, compiled without UBSan (CMakeLists.txt): stb's JPEG
// encoder left-shifts negative values, which is not what the seeds are for.
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#include "nn/checkpoint.h"
#include "nn/config.h"
#include "nn/io/hf_videomae.h"
#include "nn/io/safetensors.h"
#include "nn/io/state_dict.h"
#include "nn/prune_log.h"
#include "nn/vision_transformer.h"
#include "pruning/transform.h"
#include "tensor/creation.h"

namespace fs = std::filesystem;
using namespace shears;

namespace {

std::string g_root;

void put(const std::string& target, const std::string& name, const std::string& bytes) {
  const fs::path dir = fs::path(g_root) / target;
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::string u64le(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = char((v >> (8 * i)) & 0xff);
  return s;
}
std::string u32be(uint32_t v) {
  return std::string{char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}

// A safetensors file from a header JSON and a data buffer.
std::string safetensors_bytes(const std::string& header, const std::string& buffer) {
  return u64le(header.size()) + header + buffer;
}

std::string gzip(const std::string& raw) {
  const std::string path = (fs::temp_directory_path() / "shears_seed.gz").string();
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, raw.data(), unsigned(raw.size()));
  gzclose(f);
  std::string out = slurp(path);
  fs::remove(path);
  return out;
}

nn::ModelConfig tiny_vit() {
  nn::ModelConfig cfg;
  cfg.image_size = 8;
  cfg.in_chans = 1;
  cfg.patch_size = 4;
  cfg.dim = 8;
  cfg.blocks = nn::uniform_blocks(3, 2, 4, 16);
  cfg.num_classes = 3;
  cfg.mean = {0.5};
  cfg.std = {0.5};
  return cfg;
}

nn::ModelConfig tiny_videomae() {
  nn::ModelConfig cfg;
  cfg.arch = "videomae";
  cfg.image_size = 4;
  cfg.in_chans = 1;
  cfg.patch_size = 2;
  cfg.frames = 2;
  cfg.tubelet = 2;
  cfg.dim = 4;
  cfg.blocks = nn::uniform_blocks(2, 2, 2, 6);
  cfg.num_classes = 3;
  cfg.mean = {0.5};
  cfg.std = {0.5};
  return cfg;
}

std::string tmp_file(const std::string& name) { return (fs::temp_directory_path() / name).string(); }

void checkpoints() {
  const std::string path = tmp_file("shears_seed.safetensors");
  // A plain tiny ViT, a tiny VideoMAE and a pruned ViT (MLP pruning + token pruning: prune log
  // and the token_pruning extension in the metadata).
  nn::VisionTransformer vit(tiny_vit(), 1);
  nn::save_model(path, vit);
  const std::string plain = slurp(path);
  put("fuzz_load_model", "vit_tiny.safetensors", plain);
  put("fuzz_safetensors", "vit_tiny.safetensors", plain);

  nn::VisionTransformer vmae(tiny_videomae(), 2);
  nn::save_model(path, vmae);
  put("fuzz_load_model", "videomae_tiny.safetensors", slurp(path));

  nn::VisionTransformer pruned(tiny_vit(), 3);
  pruning::PruneContext ctx;
  pruning::apply_all(pruned, pruning::parse_steps("mlp:magnitude:keep=0.5,heads:magnitude:keep=1,tokens:evit@0.7"),
                     ctx);
  nn::save_model(path, pruned);
  const std::string pruned_bytes = slurp(path);
  put("fuzz_load_model", "vit_pruned_tokens.safetensors", pruned_bytes);
  put("fuzz_safetensors", "vit_pruned_tokens.safetensors", pruned_bytes);
  // Truncated: the header intact, the data cut.
  put("fuzz_load_model", "vit_truncated.safetensors", plain.substr(0, plain.size() - 64));

  // The prune log / extensions of the pruned model as seeds of fuzz_prune_log (mode byte first).
  put("fuzz_prune_log", "log_pruned.json", std::string(1, '\0') + nn::prune_log_to_json(pruned.prune_log));
  put("fuzz_prune_log", "extensions_pruned.json", std::string(1, '\1') + nn::extensions_to_json(pruned.extensions));
  put("fuzz_prune_log", "extensions_restore.json", std::string(1, '\2') + nn::extensions_to_json(pruned.extensions));
  put("fuzz_prune_log", "log_empty.json", std::string(1, '\0') + "[]");
  put("fuzz_prune_log", "log_bad_params.json",
      std::string(1, '\0') + R"([{"kind":"prune_mlp","method":"mlp:magnitude:keep=0.5","params":[1],"kept":{}}])");
  put("fuzz_prune_log", "extension_unknown.json", std::string(1, '\2') + R"([{"kind":"nope","state":{}}])");

  // HF VideoMAE names of the tiny VideoMAE (fuzz_hf_videomae's line format: "<name> <sizes>", one
  // digit per dim). First byte: bit 0 = "encoder." prefix, bit 1 = strict load into the tiny model.
  std::string lines(1, '\2');
  for (const auto& [name, t] : nn::shears_to_hf_videomae(nn::state_dict(vmae))) {
    lines += name + " ";
    for (int64_t d = 0; d < t.dim(); ++d) lines += char('0' + t.size(d) % 7);
    lines += "\n";
  }
  put("fuzz_hf_videomae", "videomae_tiny_hf.txt", lines);
  put("fuzz_hf_videomae", "names_mixed.txt",
      std::string(1, '\3') +
          "videomae.encoder.layer.0.attention.attention.query.weight 33\n"
          "encoder.layer.0.attention.attention.key.weight 33\n"
          "encoder.layer.0.attention.attention.value.weight 33\n"
          "decoder.decoder_layers.1.attention.attention.value.bias 3\n"
          "blocks.0.attn.qkv.weight 62\nclassifier.weight 34\nfc_norm.bias 4\nmask_token 111\n"
          "encoder.layer.99999999999999999999.layernorm_before.weight 4\n");

  // Hand-made safetensors files: other dtypes, metadata, and broken headers.
  nn::write_safetensors(path, {{"a", from_vector(std::vector<double>{1, 2, 3}, {3})},
                           {"b", from_vector(std::vector<int64_t>{4, 5}, {2, 1})},
                           {"c", zeros({2}, DType::Bool)}},
                    {{"note", "seed"}});
  put("fuzz_safetensors", "f64_i64_bool.safetensors", slurp(path));
  put("fuzz_safetensors", "f16_bf16.safetensors",
      safetensors_bytes(R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
                        R"("b":{"dtype":"BF16","shape":[1,1],"data_offsets":[4,6]},"__metadata__":{"k":"v"}})",
                        std::string("\x00\x3c\x00\xfc\x80\x3f", 6)));
  put("fuzz_safetensors", "empty_header.safetensors", safetensors_bytes("{}", ""));
  put("fuzz_safetensors", "header_too_long.safetensors", u64le(1ull << 40) + "{}");
  put("fuzz_safetensors", "overlap.safetensors",
      safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                        R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                        std::string(4, '\0')));
  put("fuzz_safetensors", "huge_shape.safetensors",
      safetensors_bytes(R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}})",
                        std::string(4, '\0')));
  put("fuzz_safetensors", "deep_nesting.safetensors", safetensors_bytes(std::string(5000, '[') + std::string(5000, ']'), ""));
  put("fuzz_safetensors", "duplicate_key.safetensors",
      safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                        R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                        std::string(4, '\0')));
  put("fuzz_load_model", "config_deep_nesting.safetensors",
      safetensors_bytes(R"({"__metadata__":{"shears.config":")" + std::string(3000, '[') + R"("}})", ""));
  fs::remove(path);
}

void configs() {
  int i = 0;
  for (const auto& name : {"deit_tiny_patch16_224", "vit_tiny_patch4_28", "videomae_small_patch4_32"})
    put("fuzz_model_config", std::string("preset_") + name + ".json", nn::preset(name, 10).to_json());
  nn::ModelConfig pruned = tiny_vit();
  pruned.blocks[1].mlp_hidden = 5;
  pruned.blocks[2].heads = 1;
  pruned.blocks[2].attn_scale = 0.5;
  pruned.fc_norm_eps = 1e-5;
  put("fuzz_model_config", "pruned.json", pruned.to_json());
  // Invalid configs: the tiny config's JSON with one value replaced, so every other key is present.
  const std::string base = tiny_vit().to_json();
  auto with = [&](const std::string& key, const std::string& value) {
    const size_t k = base.find("\"" + key + "\"");
    if (k == std::string::npos) throw std::runtime_error("make_fuzz_seeds: no key " + key + " in " + base);
    const size_t v = base.find(':', k) + 1;
    size_t e = v;
    int depth = 0;
    for (; e < base.size(); ++e) {
      const char c = base[e];
      if (c == '[' || c == '{') ++depth;
      if (c == ']' || c == '}') {
        if (depth == 0) break;
        --depth;
      }
      if (c == ',' && depth == 0) break;
    }
    return base.substr(0, v) + value + base.substr(e);
  };
  const std::pair<const char*, const char*> bad[] = {
      {"image_size", "0"},
      {"dim", "9223372036854775807"},
      {"blocks", R"([{"heads":-1,"head_dim":4,"mlp_hidden":16}])"},
      {"blocks", R"([{"heads":600000,"head_dim":64,"mlp_hidden":1536}])"},
      {"blocks", "[]"},
      {"patch_size", "3"},
      {"mean", "[1,2]"},
      {"std", "[0]"},
      {"ln_eps", "-1"},
      {"arch", R"("resnet")"},
      {"num_classes", "1e30"},
      {"frames", "3"},
  };
  for (const auto& [key, value] : bad) put("fuzz_model_config", "bad_" + std::to_string(i++) + ".json", with(key, value));
  put("fuzz_model_config", "not_an_object.json", "[1,2,3]");

  // Checkpoints whose config asks for far more than the file holds (no tensors at all).
  const std::string path = tmp_file("shears_seed_cfg.safetensors");
  nn::write_safetensors(path, {}, {{"shears.config", with("dim", "40000")}});
  put("fuzz_load_model", "config_wide_no_tensors.safetensors", slurp(path));
  nn::write_safetensors(path, {}, {{"shears.config", with("blocks", R"([{"heads":6,"head_dim":64,"mlp_hidden":1536}])")}});
  put("fuzz_load_model", "config_big_block_no_tensors.safetensors", slurp(path));
  fs::remove(path);
}

void idx_files() {
  auto images = [](uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols, size_t payload) {
    std::string s = u32be(magic) + u32be(n) + u32be(rows) + u32be(cols);
    for (size_t i = 0; i < payload; ++i) s.push_back(char(i * 37));
    return s;
  };
  auto labels = [](uint32_t magic, uint32_t n, size_t payload) {
    std::string s = u32be(magic) + u32be(n);
    for (size_t i = 0; i < payload; ++i) s.push_back(char(i % 10));
    return s;
  };
  // First byte: 1 = images, 0 = labels.
  const std::string ok_images = images(0x803, 2, 4, 3, 24), ok_labels = labels(0x801, 5, 5);
  put("fuzz_idx", "images_ok.idx", "\1" + ok_images);
  put("fuzz_idx", "images_ok.idx.gz", "\1" + gzip(ok_images));
  put("fuzz_idx", "labels_ok.idx", std::string(1, '\0') + ok_labels);
  put("fuzz_idx", "labels_ok.idx.gz", std::string(1, '\0') + gzip(ok_labels));
  put("fuzz_idx", "images_huge_dims.idx", "\1" + images(0x803, 60000, 60000, 60000, 8));
  put("fuzz_idx", "images_truncated.idx", "\1" + images(0x803, 3, 4, 3, 20));
  put("fuzz_idx", "images_wrong_magic.idx", "\1" + ok_labels);
  put("fuzz_idx", "labels_huge_count.idx.gz", std::string(1, '\0') + gzip(labels(0x801, 0xffffffffu, 16)));
  std::string cut = gzip(ok_images);
  put("fuzz_idx", "images_cut.idx.gz", "\1" + cut.substr(0, cut.size() / 2));
}

void images() {
  const std::string path = tmp_file("shears_seed_img");
  std::vector<unsigned char> px(256);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<unsigned char>(i * 13);
  auto write = [&](const std::string& name, auto&& writer) {
    writer(path.c_str());
    put("fuzz_image", name, slurp(path));
  };
  write("rgb.png", [&](const char* p) { stbi_write_png(p, 5, 3, 3, px.data(), 15); });
  write("grey.png", [&](const char* p) { stbi_write_png(p, 4, 4, 1, px.data(), 4); });
  write("rgba.png", [&](const char* p) { stbi_write_png(p, 3, 3, 4, px.data(), 12); });
  write("rgb.bmp", [&](const char* p) { stbi_write_bmp(p, 5, 3, 3, px.data()); });
  write("grey.bmp", [&](const char* p) { stbi_write_bmp(p, 4, 4, 1, px.data()); });
  write("rgb.jpg", [&](const char* p) { stbi_write_jpg(p, 5, 3, 3, px.data(), 80); });
  write("grey.jpg", [&](const char* p) { stbi_write_jpg(p, 8, 8, 1, px.data(), 50); });
  // A PNG header claiming 16384 x 16384 in a few bytes, and a BMP claiming more rows than it has.
  std::string png = slurp((fs::path(g_root) / "fuzz_image" / "rgb.png").string());
  std::string huge = png;
  huge.replace(16, 8, u32be(16384) + u32be(16384));
  put("fuzz_image", "png_huge_header.png", huge.substr(0, 64));
  std::string bmp = slurp((fs::path(g_root) / "fuzz_image" / "rgb.bmp").string());
  std::string tall = bmp;
  tall[22] = char(0xff);
  tall[23] = char(0x7f);
  put("fuzz_image", "bmp_tall.bmp", tall);
  fs::remove(path);
}

void flags() {
  auto argv = [](std::vector<std::string> args) {
    std::string s;
    for (size_t i = 0; i < args.size(); ++i) s += (i ? std::string(1, '\0') : "") + args[i];
    return s;
  };
  put("fuzz_flags", "ok.args", argv({"--checkpoint", "m.safetensors", "--steps", "blocks:entropy:k=2", "--lr=1e-3",
                                     "--threads", "4", "--resume", "--resume-override", "lr,seed", "-s", "mini"}));
  put("fuzz_flags", "help.args", argv({"--help"}));
  put("fuzz_flags", "stray.args", argv({"stray", "--heads", "0"}));
  put("fuzz_flags", "bad_numbers.args", argv({"--heads", "99999999999999999999", "--min-lr", "-1", "--threads", "999",
                                              "--weight-decay", "nan", "--timing-samples", "3.5"}));
  put("fuzz_flags", "missing_value.args", argv({"--lr"}));
  put("fuzz_flags", "unknown.args", argv({"--nope", "-xyz", "--", "--frames", "0"}));
}

void steps() {
  int i = 0;
  for (const char* s :
       {"blocks:entropy:k=2", "blocks:random:7:k=3,mlp:magnitude:keep=0.5", "heads:magnitude:keep=4",
        "mlp:amp:delta=0.01:tau=2:steps=6", "tokens:renyi:2@0.7:locations=3;6;9:fuse=1:seed=5",
        "tokens:evit@0.5", "mlp:magnitude:widths=4;8;16", "blocks:order:1;2:k=2", "blocks:l1:k=9,  tokens:shannon@1",
        "none", "", "blocks:foo:k=2", "mlp:magnitude:keep=1e309", "tokens:renyi:inf@0.7", "heads:magnitude:keep=-1"})
    put("fuzz_steps", "steps_" + std::to_string(i++) + ".txt", s);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_fuzz_seeds <corpus dir>\n";
    return 2;
  }
  g_root = argv[1];
  try {
    checkpoints();
    configs();
    idx_files();
    images();
    flags();
    steps();
  } catch (const std::exception& e) {
    std::cerr << "make_fuzz_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
