// Model checkpoints: a safetensors file holding the weights and, in __metadata__, the
// model's own configuration ("shears.config": ModelConfig JSON, per-block widths
// included), so any model, pruned ones too, reloads from the file alone with the
// preprocessing (mean/std, input size) it was trained with. A pruned model also carries its
// prune log ("shears.prune_log") and its extensions ("shears.extensions", token pruning).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/model_extension.h"
#include "nn/prune_log.h"
#include "nn/vision_transformer.h"

namespace shears::nn {

// Writes weights + config atomically (temp file + rename). `extra` metadata is kept. The prune
// log and the extensions are written only when non-empty (a plain model's file is unchanged);
// throws before writing anything when an extension cannot be serialised or a weight is NaN/inf
// (nn/io/non_finite.h: the previous file is kept).
void save_model(const std::string& path, const VisionTransformer& model,
                const std::map<std::string, std::string>& extra = {});

// Rebuilds the model from the file's config, after checking the config against the file's tensor
// table (parameter_shapes: names, shapes, and a size budget tied to the file, so a tiny file with a
// huge config fails naming the file before anything big is allocated), loads its weights strictly, restores the prune log
// and hands every saved extension to `restorer`. An extension that no restorer takes is an error
// naming the file and the kind (use pruning::load_model, pruning/provenance.h, which restores
// token pruning); a malformed prune log or extension list is an error naming the file and key.
std::shared_ptr<VisionTransformer> load_model(const std::string& path, const ExtensionRestorer& restorer = {});

// The metadata save_model writes for `model` besides `extra` and "format": "shears.config", and
// "shears.prune_log" / "shears.extensions" when non-empty. Training checkpoints
// (train/train_state.h) write the same keys. Throws naming `path` when an extension cannot be
// serialised.
std::map<std::string, std::string> model_metadata(const VisionTransformer& model, const std::string& path);
// The prune log / the saved extensions in a checkpoint's metadata (empty when the key is absent);
// throw naming `path` and the key when malformed.
std::vector<PruneStep> prune_log_in(const std::map<std::string, std::string>& metadata, const std::string& path);
std::vector<SavedExtension> extensions_in(const std::map<std::string, std::string>& metadata,
                                          const std::string& path);

// The parameters VisionTransformer(cfg) has, by state_dict name and shape, computed from the config
// alone (no allocation): load_model checks an untrusted config against the file's tensor table with
// it before building the model. Validates cfg first.
std::vector<std::pair<std::string, Shape>> parameter_shapes(const ModelConfig& cfg);

// The config stored in a checkpoint (throws naming the file when there is none).
ModelConfig read_model_config(const std::string& path);
// The prune log stored in a checkpoint (empty when it has none; throws naming the file and key
// when it is malformed).
std::vector<PruneStep> read_prune_log(const std::string& path);

}  // namespace shears::nn
