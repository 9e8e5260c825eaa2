// Label-smoothed one-hot targets (the one implementation used by the loss in autograd/
// and by Mixup/CutMix in data/).
#include "tensor/device_dispatch.h"
#include "tensor/kernels.h"

namespace shears::kernels {

Tensor smoothed_one_hot(const Tensor& labels, int64_t num_classes, double smoothing, DType dtype) {
  SHEARS_CHECK(labels.dim() == 1 && labels.dtype() == DType::I64, "one_hot", "labels must be 1-d i64, got ",
               shape_str(labels.shape()), " ", dtype_name(labels.dtype()));
  SHEARS_CHECK(num_classes > 0, "one_hot", "num_classes must be > 0, got ", num_classes);
  SHEARS_CHECK(smoothing >= 0.0 && smoothing < 1.0, "one_hot", "label smoothing must be in [0, 1), got ", smoothing);
  SHEARS_CHECK(is_floating(dtype), "one_hot", "target dtype must be f32 or f64, got ", dtype_name(dtype));
  if (Backend* be = device_backend("one_hot", {&labels}))
    return be->smoothed_one_hot(labels, num_classes, smoothing, dtype);
  const double off = smoothing / double(num_classes), on = 1.0 - smoothing + off;
  const std::vector<int64_t> y = labels.to_vector<int64_t>();
  const int64_t n = static_cast<int64_t>(y.size());
  Tensor out = Tensor::empty({n, num_classes}, dtype);
  fill_(out, off);
  SHEARS_DISPATCH_FLOAT(dtype, "one_hot", [&] {
    scalar_t* p = out.data<scalar_t>();
    for (int64_t b = 0; b < n; ++b) {
      SHEARS_CHECK(y[b] >= 0 && y[b] < num_classes, "one_hot", "label ", y[b], " of sample ", b,
                   " out of range for ", num_classes, " classes");
      p[b * num_classes + y[b]] = static_cast<scalar_t>(on);
    }
  });
  return out;
}

}  // namespace shears::kernels
