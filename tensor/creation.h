// Tensor creation: empty/zeros/ones/full/arange, and construction from host values.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace shears {

Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
Tensor full(const Shape& shape, double value, DType dtype = DType::F32, Device device = Device::cpu());
// Same shape, dtype and device as x.
Tensor zeros_like(const Tensor& x);
Tensor ones_like(const Tensor& x);
Tensor full_like(const Tensor& x, double value);
// start, start+step, ... < end
Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::I64);
inline Tensor arange(int64_t end, DType dtype = DType::I64) { return arange(0.0, double(end), 1.0, dtype); }
// A 0-d tensor holding one value
Tensor scalar_tensor(double value, DType dtype = DType::F32);
// Copies host values (length must equal the shape's numel; an empty shape means 1-d).
Tensor from_vector(const std::vector<float>& values, const Shape& shape = {});
Tensor from_vector(const std::vector<double>& values, const Shape& shape = {});
Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape = {});

}  // namespace shears
