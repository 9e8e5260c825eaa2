// P3B's Block Performance Indicator heads (METHODS.md §2.2): per sub-block j a cls head (Linear on
// token 0) and a patch head ([Conv3x3 no bias -> BatchNorm -> ReLU] x layers on the patch grid, global
// average pool, Linear), each applied to the detached input x_j and output x_{j+1} of the sub-block;
// ΔΨ_j = CE(head_j(x_j)) - CE(head_j(x_{j+1})) and the sum of all head losses trains the heads.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "nn/batch_norm.h"
#include "nn/conv2d.h"
#include "nn/linear.h"
#include "nn/module.h"

namespace shears::pruning {

struct BpiHeadOptions {
  int64_t patch_width = 0;   // conv channels of the patch heads; 0 = the model width (the paper). A lighter setting for small runs.
  int64_t patch_layers = 2;  // [Conv3x3 no bias -> BatchNorm -> ReLU] repetitions (paper: 2)
};

// One patch head: [Conv3x3 (no bias) -> BatchNorm -> ReLU] x layers, global average pool, Linear.
class PatchHead : public nn::Module {
 public:
  PatchHead(int64_t dim, int64_t width, int64_t layers, int64_t num_classes, Generator& gen);
  Tensor forward(const Tensor& grid_tokens);  // (B, grid, grid, dim) -> logits (B, classes)
  std::vector<std::shared_ptr<nn::Conv2d>> convs;
  std::vector<std::shared_ptr<nn::BatchNorm>> norms;
  std::shared_ptr<nn::Linear> fc;
};

class BlockPerformanceHeads : public nn::Module {
 public:
  // One cls head (Linear dim -> classes on token 0) and one patch head ([Conv3x3 -> BN -> ReLU] x layers on the
  // grid x grid patch tokens, global average pool, Linear width -> classes) per sub-block.
  BlockPerformanceHeads(int64_t sub_blocks, int64_t dim, int64_t grid, int64_t num_classes, const BpiHeadOptions& opt,
                        uint64_t seed);
  struct Result {
    Tensor loss;                    // scalar: sum over sub-blocks of the 4 head losses (cls/patch on input and output), graph to the heads only
    std::vector<double> delta_cls;  // per sub-block: CE(cls head on x_j) - CE(cls head on x_{j+1}) for this batch
    std::vector<double> delta_patch;
  };
  // features: sub_blocks + 1 tensors (B, 1 + grid*grid, dim): x_0 = embeddings, x_{j+1} = output of sub-block j.
  // They are DETACHED here (the backbone gets no gradient from the heads). criterion: the run's loss on logits (B, C).
  Result evaluate(const std::vector<Tensor>& features, const std::function<Tensor(const Tensor& logits)>& criterion);
  int64_t sub_blocks() const { return static_cast<int64_t>(cls_heads_.size()); }
  int64_t dim() const { return dim_; }
  int64_t grid() const { return grid_; }
  int64_t patch_width() const { return width_; }
  // Forward multiply-accumulates per image of all heads, each applied twice (input and output):
  // per sub-block 2 x (dim*C + layers' conv MACs grid^2*9*c_in*c_out + width*C). BN/ReLU/pool not counted.
  int64_t macs_per_image() const;
  nn::Linear& cls_head(int64_t j) { return *cls_heads_.at(static_cast<size_t>(j)); }
  PatchHead& patch_head(int64_t j) { return *patch_heads_.at(static_cast<size_t>(j)); }

 private:
  int64_t dim_, grid_, num_classes_, width_, layers_;
  std::vector<std::shared_ptr<nn::Linear>> cls_heads_;
  std::vector<std::shared_ptr<PatchHead>> patch_heads_;
};

}  // namespace shears::pruning
