// Distillation recovery (METHODS.md §5.5): MSE on logits + MSE on pooled features against a frozen
// teacher, as a custom loss of recipes::finetune. The student's features are read from its
// training forward through VisionTransformer::keep_last_features.
#include "common/distillation.h"

#include "autograd/node.h"
#include "autograd/ops.h"
#include "tensor/error.h"

namespace shears::recipes {

namespace {

constexpr const char* kWhere = "distillation";

Tensor mse(const Tensor& a, const Tensor& b) {
  Tensor d = a - b;
  return mean(d * d);
}

// Teacher logits and pooled features on `inputs`, no gradients, eval mode (restored).
std::pair<Tensor, Tensor> teacher_outputs(nn::VisionTransformer& teacher, const Tensor& inputs) {
  NoGradGuard no_grad;
  const bool was_training = teacher.is_training();
  teacher.eval();
  Tensor features = teacher.forward_features(inputs);
  Tensor logits = teacher.head ? teacher.head->forward(features) : features;
  teacher.train(was_training);
  return {logits, features};
}

Tensor combine(const Tensor& student_logits, const Tensor& student_features, nn::VisionTransformer& teacher,
               const Tensor& inputs, const DistillationOptions& o) {
  auto [t_logits, t_features] = teacher_outputs(teacher, inputs);
  SHEARS_CHECK(student_logits.shape() == t_logits.shape(), kWhere, "student logits ", shape_str(student_logits.shape()),
               " and teacher logits ", shape_str(t_logits.shape()), " differ in shape");
  SHEARS_CHECK(student_features.shape() == t_features.shape(), kWhere, "student features ",
               shape_str(student_features.shape()), " and teacher features ", shape_str(t_features.shape()),
               " differ in shape (the student must keep the teacher's width)");
  Tensor loss = mul_scalar(mse(student_logits, t_logits), o.output_weight);
  if (o.feature_weight != 0) loss = loss + mul_scalar(mse(student_features, t_features), o.feature_weight);
  return loss;
}

void check_options(const DistillationOptions& o) {
  SHEARS_CHECK(o.output_weight >= 0 && o.feature_weight >= 0 && o.output_weight + o.feature_weight > 0, kWhere,
               "weights must be >= 0 and not both 0, got output ", o.output_weight, ", feature ", o.feature_weight);
}

}  // namespace

train::LossFunction distillation_loss(std::shared_ptr<nn::VisionTransformer> teacher, const DistillationOptions& options) {
  SHEARS_CHECK(teacher != nullptr, kWhere, "no teacher model");
  check_options(options);
  return [teacher, options](nn::VisionTransformer& student, const data::Batch& batch, const Tensor& logits,
                            int64_t) -> Tensor {
    SHEARS_CHECK(student.keep_last_features && student.last_features.defined(), kWhere,
                 "the student's pooled features are not cached: set keep_last_features = true before training "
                 "(recipes::distill does)");
    SHEARS_CHECK(student.last_features.dim() == 2 && student.last_features.size(0) == logits.size(0), kWhere,
                 "the cached student features ", shape_str(student.last_features.shape()),
                 " are not from the forward that gave logits ", shape_str(logits.shape()));
    return combine(logits, student.last_features, *teacher, batch.inputs, options);
  };
}

Tensor distillation_loss_on(nn::VisionTransformer& student, nn::VisionTransformer& teacher, const Tensor& inputs,
                            const DistillationOptions& options) {
  check_options(options);
  Tensor features = student.forward_features(inputs);
  Tensor logits = student.head ? student.head->forward(features) : features;
  return combine(logits, features, teacher, inputs, options);
}

double distill(nn::VisionTransformer& student, std::shared_ptr<nn::VisionTransformer> teacher,
               std::shared_ptr<const data::Dataset> train, data::Transform transform, FinetuneOptions options,
               const DistillationOptions& distillation) {
  SHEARS_CHECK(!options.mixing, kWhere, "Mixup/CutMix does not apply to distillation (the targets are the teacher's)");
  SHEARS_CHECK(teacher.get() != &student, kWhere, "the teacher must be a separate model (clone it before pruning)");
  options.loss = distillation_loss(std::move(teacher), distillation);
  struct FeatureCache {  // on for the run, off afterwards, also on error
    nn::VisionTransformer& m;
    explicit FeatureCache(nn::VisionTransformer& model) : m(model) { m.keep_last_features = true; }
    ~FeatureCache() {
      m.keep_last_features = false;
      m.last_features = Tensor();
    }
  } cache(student);
  return finetune(student, std::move(train), std::move(transform), options);
}

}  // namespace shears::recipes
