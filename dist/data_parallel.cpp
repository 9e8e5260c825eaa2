// Data-parallel gradient all-reduce and trainer sharding (see data_parallel.h).
#include "dist/data_parallel.h"

#include <algorithm>
#include <cstring>

#include "dist/replica_check.h"
#include "dist/world.h"
#include "tensor/creation.h"
#include "tensor/kernels.h"
#include "train/progress.h"

namespace shears::dist {

DataParallel::DataParallel(DataParallelOptions options) : opts_(options) {
  SHEARS_CHECK(opts_.bucket_bytes >= int64_t(sizeof(float)), "dist::DataParallel", "bucket_bytes must be >= 4, got ",
               opts_.bucket_bytes);
}

void DataParallel::after_backward(nn::VisionTransformer& model, int64_t step) {
  if (!distributed()) return;
  const double t0 = train::now_s();
  last_elements_ = allreduce_gradients(model.parameters(), opts_.bucket_bytes, bucket_);
  last_seconds_ = train::now_s() - t0;
  total_seconds_ += last_seconds_;
}

void DataParallel::after_step(nn::VisionTransformer& model, int64_t step) {
  if (opts_.check_replicas && distributed())
    check_replicas_identical(model, "after optimizer step " + std::to_string(step + 1));
}

int64_t allreduce_gradients(const std::vector<Tensor>& params, int64_t bucket_bytes, std::vector<float>& bucket) {
  // 1. which gradients exist on which rank (a parameter unused by one rank's rows has none there)
  std::vector<int64_t> defined(params.size());
  for (size_t i = 0; i < params.size(); ++i) defined[i] = params[i].grad().defined() ? 1 : 0;
  allreduce_sum(defined.data(), int64_t(defined.size()));
  std::vector<Tensor> grads;
  for (size_t i = 0; i < params.size(); ++i) {
    if (defined[i] == 0) continue;
    Tensor p = params[i];
    Tensor g = p.grad();
    if (!g.defined()) {
      g = zeros(p.shape(), p.dtype());
      p.set_grad(g);
    } else if (!g.is_contiguous()) {
      g = kernels::contiguous(g);
      p.set_grad(g);
    }
    SHEARS_CHECK(g.dtype() == DType::F32, "dist::allreduce_gradients", "gradients must be f32, got ",
                 dtype_name(g.dtype()), " for parameter ", i);
    grads.push_back(g);
  }
  // 2. fixed buckets in parameter order: consecutive gradients packed up to bucket_bytes; a gradient
  // larger than a bucket is reduced in place on its own storage.
  const int64_t cap = std::max<int64_t>(1, bucket_bytes / int64_t(sizeof(float)));
  bucket.reserve(size_t(cap));
  int64_t total = 0;
  size_t i = 0;
  while (i < grads.size()) {
    if (grads[i].numel() >= cap) {
      allreduce_sum(grads[i].data<float>(), grads[i].numel());
      total += grads[i].numel();
      ++i;
      continue;
    }
    size_t end = i;
    int64_t n = 0;
    while (end < grads.size() && grads[end].numel() < cap && n + grads[end].numel() <= cap) n += grads[end++].numel();
    bucket.resize(size_t(n));
    int64_t at = 0;
    for (size_t k = i; k < end; ++k) {
      std::memcpy(bucket.data() + at, grads[k].data<float>(), size_t(grads[k].numel()) * sizeof(float));
      at += grads[k].numel();
    }
    allreduce_sum(bucket.data(), n);
    at = 0;
    for (size_t k = i; k < end; ++k) {
      std::memcpy(grads[k].data<float>(), bucket.data() + at, size_t(grads[k].numel()) * sizeof(float));
      at += grads[k].numel();
    }
    total += n;
    i = end;
  }
  return total;
}

void shard_trainer_options(train::TrainerOptions& options) {
  options.shard_rank = rank();
  options.shard_count = size();
  if (!is_root()) {
    options.quiet = true;
    options.log_path.clear();
  }
}

}  // namespace shears::dist
