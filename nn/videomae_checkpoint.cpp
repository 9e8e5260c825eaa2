// VideoMAE pretraining checkpoints and encoder transfer (see videomae_checkpoint.h).
#include "nn/videomae_checkpoint.h"

#include <nlohmann/json.hpp>

#include "nn/io/hf_videomae.h"
#include "nn/io/safetensors.h"

namespace shears::nn {

namespace {
const char* kConfigKey = "shears.config";
const char* kPretrainKey = "shears.pretrain";
const std::string kEncoder = "encoder.";

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// encoder.patch_embed.* / encoder.blocks.* -> patch_embed.* / blocks.*; everything else is
// reported as unexpected (encoder.norm, decoder.*, encoder_to_decoder, mask_token) and skipped.
LoadReport transfer(const std::vector<std::pair<std::string, Tensor>>& tensors, VisionTransformer& classifier,
                    const std::string& source) {
  std::vector<std::pair<std::string, Tensor>> encoder;
  std::vector<std::string> skipped;
  for (const auto& [name, t] : tensors) {
    if (starts_with(name, kEncoder + "patch_embed.") || starts_with(name, kEncoder + "blocks."))
      encoder.emplace_back(name.substr(kEncoder.size()), t);
    else
      skipped.push_back(name);
  }
  SHEARS_CHECK(!encoder.empty(), "transfer_encoder", source,
               ": no encoder.patch_embed.* / encoder.blocks.* tensors; expected a VideoMAE pretraining checkpoint");
  LoadReport report = load_state_dict(classifier, encoder, /*strict=*/false);
  std::vector<std::string> real_missing;
  for (const auto& m : report.missing)
    if (!starts_with(m, "fc_norm.") && !starts_with(m, "head.")) real_missing.push_back(m);
  if (!real_missing.empty() || !report.mismatched.empty() || !report.unexpected.empty()) {
    LoadReport bad = report;
    bad.missing = real_missing;
    fail("transfer_encoder", source, ": the pretrained encoder does not fit the classifier (same dim, depth, heads, "
         "tubelet and input size needed): ", bad.str());
  }
  report.unexpected = skipped;
  return report;
}
}  // namespace

void save_pretrain_model(const std::string& path, const VideoMAEPretrain& model,
                         const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> meta = extra;
  meta[kConfigKey] = model.cfg.encoder.to_json();
  nlohmann::ordered_json j;
  j["decoder_dim"] = model.cfg.decoder_dim;
  j["decoder_depth"] = model.cfg.decoder_depth;
  j["decoder_heads"] = model.cfg.decoder_heads;
  j["decoder_mlp_hidden"] = model.cfg.decoder_mlp_hidden;
  j["mask_ratio"] = model.cfg.mask_ratio;
  j["norm_pixel_loss"] = model.cfg.norm_pixel_loss;
  meta[kPretrainKey] = j.dump();
  meta["format"] = "pt";
  write_safetensors(path, state_dict(model), meta);
}

PretrainConfig read_pretrain_config(const std::string& path) {
  auto meta = read_safetensors_metadata(path);
  auto c = meta.find(kConfigKey), p = meta.find(kPretrainKey);
  if (c == meta.end() || p == meta.end())
    fail("pretrain_checkpoint", path, ": no '", kConfigKey, "' / '", kPretrainKey,
         "' metadata; this file was not written by save_pretrain_model");
  PretrainConfig cfg;
  try {
    cfg.encoder = ModelConfig::from_json(c->second);
    auto j = nlohmann::json::parse(p->second);
    cfg.decoder_dim = j.at("decoder_dim").get<int64_t>();
    cfg.decoder_depth = j.at("decoder_depth").get<int64_t>();
    cfg.decoder_heads = j.at("decoder_heads").get<int64_t>();
    cfg.decoder_mlp_hidden = j.at("decoder_mlp_hidden").get<int64_t>();
    cfg.mask_ratio = j.at("mask_ratio").get<double>();
    cfg.norm_pixel_loss = j.at("norm_pixel_loss").get<bool>();
  } catch (const nlohmann::json::exception& e) {
    fail("pretrain_checkpoint", path, ": bad '", kPretrainKey, "' metadata: ", e.what());
  } catch (const Error& e) {
    fail("pretrain_checkpoint", path, ": bad model config: ", e.what());
  }
  return cfg;
}

std::shared_ptr<VideoMAEPretrain> load_pretrain_model(const std::string& path) {
  auto model = std::make_shared<VideoMAEPretrain>(read_pretrain_config(path));
  load_safetensors(*model, path, /*strict=*/true);
  return model;
}

LoadReport transfer_encoder(const VideoMAEPretrain& pretrain, VisionTransformer& classifier) {
  return transfer(state_dict(pretrain), classifier, "pretraining model");
}

LoadReport load_pretrained_encoder(VisionTransformer& classifier, const std::string& path) {
  SafetensorsFile file = read_safetensors(path);
  std::vector<std::string> names;
  for (const auto& p : file.tensors) names.push_back(p.first);
  auto tensors = looks_like_hf_videomae(names) ? hf_videomae_to_shears(file.tensors, kEncoder) : std::move(file.tensors);
  return transfer(tensors, classifier, path);
}

}  // namespace shears::nn
