// Element types of a Tensor and the compile-time mapping between DType and C++ types.
// f32 is the training type, f64 the gradient-check type, i64 holds indices and labels,
// boolean holds masks and comparison results (one byte per element).
#pragma once
#include <cstdint>
#include <string>

#include "tensor/error.h"

namespace shears {

enum class DType : uint8_t { F32, F64, I64, Bool };

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::F64: return "f64";
    case DType::I64: return "i64";
    case DType::Bool: return "bool";
  }
  return "?";
}

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F64: return 8;
    case DType::I64: return 8;
    case DType::Bool: return 1;
  }
  return 0;
}

inline bool is_floating(DType t) { return t == DType::F32 || t == DType::F64; }

template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::F32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::F64; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::I64; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };

}  // namespace shears

// Runs the body with `scalar_t` bound to the C++ type of `dtype`.
#define SHEARS_DISPATCH_FLOAT(dtype, op, ...)                                  \
  [&] {                                                                        \
    switch (dtype) {                                                           \
      case ::shears::DType::F32: { using scalar_t = float; return __VA_ARGS__(); }  \
      case ::shears::DType::F64: { using scalar_t = double; return __VA_ARGS__(); } \
      default: ::shears::fail(op, "expected a floating dtype (f32 or f64), got ",   \
                              ::shears::dtype_name(dtype));                    \
    }                                                                          \
  }()

#define SHEARS_DISPATCH_ALL(dtype, op, ...)                                    \
  [&] {                                                                        \
    switch (dtype) {                                                           \
      case ::shears::DType::F32: { using scalar_t = float; return __VA_ARGS__(); }   \
      case ::shears::DType::F64: { using scalar_t = double; return __VA_ARGS__(); }  \
      case ::shears::DType::I64: { using scalar_t = int64_t; return __VA_ARGS__(); } \
      case ::shears::DType::Bool: { using scalar_t = bool; return __VA_ARGS__(); }   \
    }                                                                          \
    ::shears::fail(op, "unknown dtype");                                       \
  }()
