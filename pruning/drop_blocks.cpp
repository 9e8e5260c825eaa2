// Block removal (see drop_blocks.h).
#include "pruning/drop_blocks.h"

#include <string>

namespace shears::pruning {

std::vector<int64_t> kept_blocks(int64_t depth, const std::vector<int64_t>& indices) {
  std::vector<bool> removed(size_t(depth > 0 ? depth : 0), false);
  for (int64_t i : indices) {
    SHEARS_CHECK(i >= 0 && i < depth, "drop_blocks", "block index ", i, " is out of range for a model of depth ",
                 depth, " (valid indices: 0..", depth - 1, ")");
    SHEARS_CHECK(!removed[size_t(i)], "drop_blocks", "block index ", i, " is listed twice (model depth ", depth, ")");
    removed[size_t(i)] = true;
  }
  SHEARS_CHECK(int64_t(indices.size()) < depth, "drop_blocks", "removing ", indices.size(),
               " blocks would leave none of the model's ", depth, " blocks; keep at least one");
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < depth; ++i)
    if (!removed[size_t(i)]) kept.push_back(i);
  return kept;
}

void drop_blocks(nn::VisionTransformer& model, const std::vector<int64_t>& indices) {
  if (indices.empty()) return;
  const std::vector<int64_t> kept = kept_blocks(int64_t(model.blocks->size()), indices);
  std::vector<std::shared_ptr<nn::Block>> survivors;
  for (int64_t i : kept) survivors.push_back(model.blocks->items[size_t(i)]);
  model.blocks->assign(std::move(survivors));
}

}  // namespace shears::pruning
