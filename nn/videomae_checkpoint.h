// VideoMAE pretraining checkpoints and the encoder hand-over to a classifier: the whole
// pretraining model (encoder + decoder, original VideoMAE names) saved atomically with its
// configuration in the safetensors metadata, and the transfer of the encoder (patch_embed,
// blocks) into a VisionTransformer of arch "videomae" for fine-tuning, as
// run_class_finetuning.py does: "encoder." is stripped, encoder.norm is dropped (mean
// pooling uses a fresh fc_norm), fc_norm and head keep their initialization.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "nn/io/state_dict.h"
#include "nn/videomae_pretrain.h"

namespace shears::nn {

// Writes every parameter of `model` plus "shears.config" (encoder ModelConfig JSON) and
// "shears.pretrain" (decoder width/depth/heads/MLP, mask ratio, norm_pixel_loss) through a
// temp file + rename. `extra` metadata strings are kept.
void save_pretrain_model(const std::string& path, const VideoMAEPretrain& model,
                         const std::map<std::string, std::string>& extra = {});

// The PretrainConfig stored by save_pretrain_model (throws naming the file when absent).
PretrainConfig read_pretrain_config(const std::string& path);

// Rebuilds the pretraining model from the file and loads it strictly.
std::shared_ptr<VideoMAEPretrain> load_pretrain_model(const std::string& path);

// Copies encoder.patch_embed.* and encoder.blocks.* of `pretrain` into the classifier's
// patch_embed.* and blocks.* (fc_norm and head untouched). Throws naming every missing or
// mis-shaped tensor when the two configs disagree (dim, depth, tubelet, ...). The report
// lists fc_norm/head as missing (expected) and encoder.norm as unexpected (dropped).
LoadReport transfer_encoder(const VideoMAEPretrain& pretrain, VisionTransformer& classifier);

// Same from a file: a shears pretraining checkpoint, or a Hugging Face VideoMAEForPreTraining
// safetensors file (names converted first). Errors name the file.
LoadReport load_pretrained_encoder(VisionTransformer& classifier, const std::string& path);

}  // namespace shears::nn
