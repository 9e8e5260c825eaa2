// CudaBackend's elementwise kernels: copies (any dtype pair, into strided views), dtype
// conversion, fills, unary math, binary arithmetic and the activation-gradient helpers, scalar
// variants, pow, comparisons, where, clamp and axpby_. The formulas are those of the host
// (tensor/elementwise.cpp, tensor/copy_view.cpp), over strided and broadcast operands.
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_common.h"
#include "cuda/strided_launch.cuh"
#include "tensor/kernels.h"

namespace shears::cuda {

using kernels::BinaryOp;
using kernels::CompareOp;
using kernels::UnaryOp;

namespace {

using namespace strided;

Shape bstrides(const Tensor& t, const Shape& shape) { return broadcast_strides(t.shape(), t.strides(), shape); }

// ---------------------------------------------------------------------------------------------
// Element functors (operand 0 is the output)
// ---------------------------------------------------------------------------------------------
template <typename O, typename T, typename Op>
struct Map1 {  // o = op(a)
  O* o;
  const T* a;
  Op op;
  __device__ void operator()(const int64_t (&off)[2]) const { o[off[0]] = op(a[off[1]]); }
};

template <typename O, typename T, typename Op>
struct Map2 {  // o = op(a, b)
  O* o;
  const T* a;
  const T* b;
  Op op;
  __device__ void operator()(const int64_t (&off)[3]) const { o[off[0]] = op(a[off[1]], b[off[2]]); }
};

template <typename O, typename T, typename Op>
struct MapScalar {  // o = op(a, s)
  O* o;
  const T* a;
  T s;
  Op op;
  __device__ void operator()(const int64_t (&off)[2]) const { o[off[0]] = op(a[off[1]], s); }
};

template <typename T>
struct WhereFn {
  T* o;
  const bool* c;
  const T* a;
  const T* b;
  __device__ void operator()(const int64_t (&off)[4]) const { o[off[0]] = c[off[1]] ? a[off[2]] : b[off[3]]; }
};

template <typename D, typename S>
struct ConvertFn {
  D* d;
  const S* s;
  __device__ void operator()(const int64_t (&off)[2]) const { d[off[0]] = static_cast<D>(s[off[1]]); }
};

template <typename T>
struct FillFn {
  T* d;
  T v;
  __device__ void operator()(const int64_t (&off)[1]) const { d[off[0]] = v; }
};

template <typename T, bool kUnitBeta>
struct AxpbyFn {  // d = beta * d + alpha * s (d + alpha * s when beta == 1, as the host's fast path)
  T* d;
  const T* s;
  T alpha, beta;
  __device__ void operator()(const int64_t (&off)[2]) const {
    T& x = d[off[0]];
    if constexpr (kUnitBeta) x = x + alpha * s[off[1]];
    else x = beta * x + alpha * s[off[1]];
  }
};

template <typename O, typename T, typename Op>
void map1(const char* name, const Tensor& out, const Tensor& x, const Op& op) {
  launch<2>(name, out.shape(), {out.strides(), bstrides(x, out.shape())}, Map1<O, T, Op>{dptr<O>(out), dptr<T>(x), op});
}

template <typename O, typename T, typename Op>
void map2(const char* name, const Tensor& out, const Tensor& a, const Tensor& b, const Op& op) {
  launch<3>(name, out.shape(), {out.strides(), bstrides(a, out.shape()), bstrides(b, out.shape())},
            Map2<O, T, Op>{dptr<O>(out), dptr<T>(a), dptr<T>(b), op});
}

template <typename O, typename T, typename Op>
void map_scalar(const char* name, const Tensor& out, const Tensor& a, T s, const Op& op) {
  launch<2>(name, out.shape(), {out.strides(), bstrides(a, out.shape())},
            MapScalar<O, T, Op>{dptr<O>(out), dptr<T>(a), s, op});
}

// ---------------------------------------------------------------------------------------------
// Math (f32 in float, f64 in double)
// ---------------------------------------------------------------------------------------------
__device__ __forceinline__ float dexp(float x) { return expf(x); }
__device__ __forceinline__ double dexp(double x) { return exp(x); }
__device__ __forceinline__ float dlog(float x) { return logf(x); }
__device__ __forceinline__ double dlog(double x) { return log(x); }
__device__ __forceinline__ float dsqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double dsqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float dtanh(float x) { return tanhf(x); }
__device__ __forceinline__ double dtanh(double x) { return tanh(x); }
__device__ __forceinline__ float derf(float x) { return erff(x); }
__device__ __forceinline__ double derf(double x) { return erf(x); }
__device__ __forceinline__ float dfabs(float x) { return fabsf(x); }
__device__ __forceinline__ double dfabs(double x) { return fabs(x); }
__device__ __forceinline__ float dpow(float x, float e) { return powf(x, e); }
__device__ __forceinline__ double dpow(double x, double e) { return pow(x, e); }

template <typename T> __device__ __forceinline__ T inv_sqrt2() { return T(0.70710678118654752440); }
template <typename T> __device__ __forceinline__ T inv_sqrt2pi() { return T(0.39894228040143267794); }

// 0.5 x (1 + erf(x / sqrt 2)); -inf gives the limit 0 (not -inf * 0).
template <typename T> __device__ __forceinline__ T gelu_fn(T x) {
  const T y = T(0.5) * x * (T(1) + derf(x * inv_sqrt2<T>()));
  return x < std::numeric_limits<T>::lowest() ? T(0) : y;
}
// Phi(x) + x phi(x); +-inf give the limits 1 and 0.
template <typename T> __device__ __forceinline__ T gelu_grad(T x) {
  const T cdf = T(0.5) * (T(1) + derf(x * inv_sqrt2<T>()));
  const T d = cdf + x * inv_sqrt2pi<T>() * dexp(T(-0.5) * x * x);
  const T hi = x > std::numeric_limits<T>::max() ? T(1) : d;
  return x < std::numeric_limits<T>::lowest() ? T(0) : hi;
}

template <UnaryOp OP, typename T>
struct UnaryFn {
  __device__ T operator()(T v) const {
    if constexpr (OP == UnaryOp::Neg) {
      return -v;
    } else if constexpr (OP == UnaryOp::Abs) {
      if constexpr (std::is_integral_v<T>) return v < 0 ? -v : v;
      else return dfabs(v);
    } else if constexpr (OP == UnaryOp::Sign) {
      return T((v > 0) - (v < 0));
    } else if constexpr (OP == UnaryOp::Square) {
      return v * v;
    } else if constexpr (OP == UnaryOp::Relu) {
      return v > T(0) ? v : T(0);
    } else if constexpr (OP == UnaryOp::Exp) {
      return dexp(v);
    } else if constexpr (OP == UnaryOp::Log) {
      return dlog(v);
    } else if constexpr (OP == UnaryOp::Sqrt) {
      return dsqrt(v);
    } else if constexpr (OP == UnaryOp::Rsqrt) {
      return T(1) / dsqrt(v);
    } else if constexpr (OP == UnaryOp::Tanh) {
      return dtanh(v);
    } else if constexpr (OP == UnaryOp::Sigmoid) {
      return T(1) / (T(1) + dexp(-v));
    } else {
      static_assert(OP == UnaryOp::Gelu, "every UnaryOp has a case");
      return gelu_fn(v);
    }
  }
};

template <BinaryOp OP, typename T>
struct BinaryFn {
  __device__ T operator()(T x, T y) const {
    if constexpr (OP == BinaryOp::Add) {
      return x + y;
    } else if constexpr (OP == BinaryOp::Sub) {
      return x - y;
    } else if constexpr (OP == BinaryOp::Mul) {
      return x * y;
    } else if constexpr (OP == BinaryOp::Div) {
      return x / y;
    } else if constexpr (OP == BinaryOp::Max) {
      return x > y ? x : y;  // the host's NaN behaviour: a NaN x gives y, a NaN y gives NaN
    } else if constexpr (OP == BinaryOp::Min) {
      return x < y ? x : y;
    } else if constexpr (OP == BinaryOp::ReluBackward) {
      return x > T(0) ? y : T(0);
    } else if constexpr (OP == BinaryOp::GeluBackward) {
      return y * gelu_grad(x);
    } else if constexpr (OP == BinaryOp::TanhBackward) {
      return y * (T(1) - x * x);
    } else {
      static_assert(OP == BinaryOp::SigmoidBackward, "every BinaryOp has a case");
      return y * x * (T(1) - x);
    }
  }
};

template <CompareOp OP, typename T>
struct CompareFn {
  __device__ bool operator()(T x, T y) const {
    if constexpr (OP == CompareOp::Eq) return x == y;
    else if constexpr (OP == CompareOp::Ne) return x != y;
    else if constexpr (OP == CompareOp::Lt) return x < y;
    else if constexpr (OP == CompareOp::Le) return x <= y;
    else if constexpr (OP == CompareOp::Gt) return x > y;
    else {
      static_assert(OP == CompareOp::Ge, "every CompareOp has a case");
      return x >= y;
    }
  }
};

// pow modes, chosen on the host from the exponent as the host kernel does
enum PowMode { kPowSquare, kPowSqrt, kPowRecip, kPowGeneral };
template <int MODE, typename T>
struct PowFn {
  T e;
  __device__ T operator()(T v) const {
    if constexpr (MODE == kPowSquare) return v * v;
    else if constexpr (MODE == kPowSqrt) return dsqrt(v);
    else if constexpr (MODE == kPowRecip) return T(1) / v;
    else return dpow(v, e);
  }
};

template <bool kSquare, typename T>
struct PowBackwardFn {  // x^(e-1) * e * dy
  T e;
  __device__ T operator()(T v, T g) const {
    if constexpr (kSquare) return T(2) * v * g;
    else return e * dpow(v, e - T(1)) * g;
  }
};

template <typename T>
struct ClampFn {
  T l, h;
  __device__ T operator()(T v) const { return v < l ? l : (v > h ? h : v); }
};

template <typename T>
struct ClampBackwardFn {
  T l, h;
  __device__ T operator()(T v, T g) const { return (v >= l && v <= h) ? g : T(0); }
};

// ---------------------------------------------------------------------------------------------
// Typed dispatch
// ---------------------------------------------------------------------------------------------
template <typename T>
void unary_typed(UnaryOp op, const Tensor& out, const Tensor& x, const char* name) {
#define SHEARS_UNARY_CASE(OPV) \
  case UnaryOp::OPV: return map1<T, T>(name, out, x, UnaryFn<UnaryOp::OPV, T>{})
  if constexpr (std::is_integral_v<T>) {
    switch (op) {
      SHEARS_UNARY_CASE(Neg);
      SHEARS_UNARY_CASE(Abs);
      SHEARS_UNARY_CASE(Sign);
      SHEARS_UNARY_CASE(Square);
      SHEARS_UNARY_CASE(Relu);
      default: fail(name, "expected a floating dtype, got ", dtype_name(x.dtype()));
    }
  } else {
    switch (op) {
      SHEARS_UNARY_CASE(Neg);
      SHEARS_UNARY_CASE(Exp);
      SHEARS_UNARY_CASE(Log);
      SHEARS_UNARY_CASE(Sqrt);
      SHEARS_UNARY_CASE(Rsqrt);
      SHEARS_UNARY_CASE(Abs);
      SHEARS_UNARY_CASE(Tanh);
      SHEARS_UNARY_CASE(Sigmoid);
      SHEARS_UNARY_CASE(Relu);
      SHEARS_UNARY_CASE(Gelu);
      SHEARS_UNARY_CASE(Sign);
      SHEARS_UNARY_CASE(Square);
    }
  }
#undef SHEARS_UNARY_CASE
  fail(name, "unknown unary op ", static_cast<int>(op));
}

// `run(functor)` for the functor of op; fails as the host does for ops an integer type lacks.
template <typename T, typename Run>
void binary_dispatch(BinaryOp op, const char* name, DType dtype, const Run& run) {
#define SHEARS_BINARY_CASE(OPV) \
  case BinaryOp::OPV: return run(BinaryFn<BinaryOp::OPV, T>{})
  switch (op) {
    SHEARS_BINARY_CASE(Add);
    SHEARS_BINARY_CASE(Sub);
    SHEARS_BINARY_CASE(Mul);
    SHEARS_BINARY_CASE(Max);
    SHEARS_BINARY_CASE(Min);
    default: break;
  }
  if constexpr (std::is_integral_v<T>) {
    if (op == BinaryOp::Div) fail(name, "integer division is not supported; convert to f32/f64");
  } else {
    switch (op) {
      SHEARS_BINARY_CASE(Div);
      SHEARS_BINARY_CASE(ReluBackward);
      SHEARS_BINARY_CASE(GeluBackward);
      SHEARS_BINARY_CASE(TanhBackward);
      SHEARS_BINARY_CASE(SigmoidBackward);
      default: break;
    }
  }
#undef SHEARS_BINARY_CASE
  fail(name, "not defined for dtype ", dtype_name(dtype));
}

template <typename T, typename Run>
void compare_dispatch(CompareOp op, const Run& run) {
  switch (op) {
    case CompareOp::Eq: return run(CompareFn<CompareOp::Eq, T>{});
    case CompareOp::Ne: return run(CompareFn<CompareOp::Ne, T>{});
    case CompareOp::Lt: return run(CompareFn<CompareOp::Lt, T>{});
    case CompareOp::Le: return run(CompareFn<CompareOp::Le, T>{});
    case CompareOp::Gt: return run(CompareFn<CompareOp::Gt, T>{});
    case CompareOp::Ge: return run(CompareFn<CompareOp::Ge, T>{});
  }
  fail("compare", "unknown comparison ", static_cast<int>(op));
}

// dst (any layout) = src converted to dst's dtype, src broadcast to dst's shape.
template <typename D, typename S>
void convert_into(const char* name, const Tensor& dst, const Tensor& src) {
  launch<2>(name, dst.shape(), {dst.strides(), bstrides(src, dst.shape())},
            ConvertFn<D, S>{dptr<D>(dst), dptr<S>(src)});
}

void copy_any(const char* name, const Tensor& dst, const Tensor& src) {
  SHEARS_DISPATCH_ALL(dst.dtype(), name, [&] {
    using D = scalar_t;
    SHEARS_DISPATCH_ALL(src.dtype(), name, [&] { convert_into<D, scalar_t>(name, dst, src); });
  });
}

void check_not_bool(const Tensor& t, const char* name) {
  SHEARS_CHECK(t.dtype() != DType::Bool, name, "not defined for bool tensors");
}

void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  if (a.dtype() != b.dtype())
    fail(op, "dtype mismatch: ", dtype_name(a.dtype()), " ", shape_str(a.shape()), " and ", dtype_name(b.dtype()),
         " ", shape_str(b.shape()));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// copies, conversion, fill
// ---------------------------------------------------------------------------------------------
void CudaBackend::copy_(const Tensor& dst, const Tensor& src) {
  set_device(dst);
  const int64_t n = dst.numel();
  if (n == 0) return;
  if (dst.dtype() == src.dtype() && dst.shape() == src.shape() && dst.is_contiguous() && src.is_contiguous()) {
    if (dst.raw_data() != src.raw_data())
      SHEARS_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), static_cast<size_t>(n) * dtype_size(dst.dtype()),
                                        cudaMemcpyDeviceToDevice, 0));
    return;
  }
  copy_any("copy_", dst, src);
}

Tensor CudaBackend::to_dtype(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  set_device(x);
  Tensor out = Tensor::empty(x.shape(), dtype, x.device());
  copy_any("to_dtype", out, x);
  return out;
}

void CudaBackend::fill_(const Tensor& dst, double value) {
  set_device(dst);
  SHEARS_DISPATCH_ALL(dst.dtype(), "fill_", [&] {
    using T = scalar_t;
    launch<1>("fill_", dst.shape(), {dst.strides()}, FillFn<T>{dptr<T>(dst), static_cast<T>(value)});
  });
}

// ---------------------------------------------------------------------------------------------
// unary, binary, pow
// ---------------------------------------------------------------------------------------------
Tensor CudaBackend::unary(UnaryOp op, const Tensor& x) {
  const char* name = kernels::unary_name(op);
  check_not_bool(x, name);
  set_device(x);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  switch (x.dtype()) {
    case DType::F32: unary_typed<float>(op, out, x, name); break;
    case DType::F64: unary_typed<double>(op, out, x, name); break;
    case DType::I64: unary_typed<int64_t>(op, out, x, name); break;
    default: break;
  }
  return out;
}

Tensor CudaBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = kernels::binary_name(op);
  check_same_dtype(a, b, name);
  check_not_bool(a, name);
  set_device(a);
  Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), name), a.dtype(), a.device());
  auto typed = [&](auto tag) {
    using T = decltype(tag);
    binary_dispatch<T>(op, name, a.dtype(), [&](auto fn) { map2<T, T>(name, out, a, b, fn); });
  };
  switch (a.dtype()) {
    case DType::F32: typed(float{}); break;
    case DType::F64: typed(double{}); break;
    case DType::I64: typed(int64_t{}); break;
    default: break;
  }
  return out;
}

Tensor CudaBackend::binary_scalar(BinaryOp op, const Tensor& a, double s) {
  // The host fills a 0-d tensor of a's dtype with s (so s is first converted to that type) and
  // broadcasts it: the same here, with the converted scalar passed by value.
  const char* name = kernels::binary_name(op);
  check_not_bool(a, name);
  set_device(a);
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  auto typed = [&](auto tag) {
    using T = decltype(tag);
    const T sv = static_cast<T>(s);
    binary_dispatch<T>(op, name, a.dtype(), [&](auto fn) { map_scalar<T, T>(name, out, a, sv, fn); });
  };
  switch (a.dtype()) {
    case DType::F32: typed(float{}); break;
    case DType::F64: typed(double{}); break;
    case DType::I64: typed(int64_t{}); break;
    default: break;
  }
  return out;
}

Tensor CudaBackend::pow_scalar(const Tensor& x, double p) {
  set_device(x);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  SHEARS_DISPATCH_FLOAT(x.dtype(), "pow", [&] {
    using T = scalar_t;
    const T e = static_cast<T>(p);
    if (p == 2.0) map1<T, T>("pow", out, x, PowFn<kPowSquare, T>{e});
    else if (p == 0.5) map1<T, T>("pow", out, x, PowFn<kPowSqrt, T>{e});
    else if (p == -1.0) map1<T, T>("pow", out, x, PowFn<kPowRecip, T>{e});
    else map1<T, T>("pow", out, x, PowFn<kPowGeneral, T>{e});
  });
  return out;
}

Tensor CudaBackend::pow_scalar_backward(const Tensor& x, double p, const Tensor& dy) {
  check_same_dtype(x, dy, "pow_backward");
  set_device(x);
  Tensor out = Tensor::empty(broadcast_shapes(x.shape(), dy.shape(), "pow_backward"), x.dtype(), x.device());
  SHEARS_DISPATCH_FLOAT(x.dtype(), "pow_backward", [&] {
    using T = scalar_t;
    const T e = static_cast<T>(p);
    if (p == 2.0) map2<T, T>("pow_backward", out, x, dy, PowBackwardFn<true, T>{e});
    else map2<T, T>("pow_backward", out, x, dy, PowBackwardFn<false, T>{e});
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// comparisons, where
// ---------------------------------------------------------------------------------------------
Tensor CudaBackend::compare(CompareOp op, const Tensor& a, const Tensor& b) {
  check_same_dtype(a, b, "compare");
  set_device(a);
  Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), "compare"), DType::Bool, a.device());
  SHEARS_DISPATCH_ALL(a.dtype(), "compare", [&] {
    using T = scalar_t;
    compare_dispatch<T>(op, [&](auto fn) { map2<bool, T>("compare", out, a, b, fn); });
  });
  return out;
}

Tensor CudaBackend::compare_scalar(CompareOp op, const Tensor& a, double s) {
  set_device(a);
  Tensor out = Tensor::empty(a.shape(), DType::Bool, a.device());
  SHEARS_DISPATCH_ALL(a.dtype(), "compare", [&] {
    using T = scalar_t;
    const T sv = static_cast<T>(s);  // the host converts s to a's dtype first
    compare_dispatch<T>(op, [&](auto fn) { map_scalar<bool, T>("compare", out, a, sv, fn); });
  });
  return out;
}

Tensor CudaBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  SHEARS_CHECK(cond.dtype() == DType::Bool, "where", "condition must be bool, got ", dtype_name(cond.dtype()));
  check_same_dtype(a, b, "where");
  set_device(a);
  const Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  SHEARS_DISPATCH_ALL(a.dtype(), "where", [&] {
    using T = scalar_t;
    launch<4>("where", shape, {out.strides(), bstrides(cond, shape), bstrides(a, shape), bstrides(b, shape)},
              WhereFn<T>{dptr<T>(out), dptr<bool>(cond), dptr<T>(a), dptr<T>(b)});
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// clamp, axpby_
// ---------------------------------------------------------------------------------------------
Tensor CudaBackend::clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  check_not_bool(x, "clamp");
  set_device(x);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  SHEARS_DISPATCH_ALL(x.dtype(), "clamp", [&] {
    using T = scalar_t;
    const T l = lo ? static_cast<T>(*lo) : std::numeric_limits<T>::lowest();
    const T h = hi ? static_cast<T>(*hi) : std::numeric_limits<T>::max();
    map1<T, T>("clamp", out, x, ClampFn<T>{l, h});
  });
  return out;
}

Tensor CudaBackend::clamp_backward(const Tensor& x, std::optional<double> lo, std::optional<double> hi,
                                   const Tensor& dy) {
  check_same_dtype(x, dy, "clamp_backward");
  set_device(x);
  Tensor out = Tensor::empty(broadcast_shapes(x.shape(), dy.shape(), "clamp_backward"), x.dtype(), x.device());
  SHEARS_DISPATCH_FLOAT(x.dtype(), "clamp_backward", [&] {
    using T = scalar_t;
    const T l = lo ? static_cast<T>(*lo) : -std::numeric_limits<T>::infinity();
    const T h = hi ? static_cast<T>(*hi) : std::numeric_limits<T>::infinity();
    map2<T, T>("clamp_backward", out, x, dy, ClampBackwardFn<T>{l, h});
  });
  return out;
}

void CudaBackend::axpby_(const Tensor& dst, double alpha, const Tensor& src, double beta) {
  check_same_dtype(dst, src, "axpby_");
  const Shape shape = broadcast_shapes(dst.shape(), src.shape(), "axpby_");
  SHEARS_CHECK(shape == dst.shape(), "axpby_", "cannot accumulate ", shape_str(src.shape()), " into ",
               shape_str(dst.shape()));
  set_device(dst);
  SHEARS_DISPATCH_FLOAT(dst.dtype(), "axpby_", [&] {
    using T = scalar_t;
    const T a = static_cast<T>(alpha), bt = static_cast<T>(beta);
    const std::array<Shape, 2> strides{dst.strides(), bstrides(src, shape)};
    if (bt == T(1)) launch<2>("axpby_", shape, strides, AxpbyFn<T, true>{dptr<T>(dst), dptr<T>(src), a, bt});
    else launch<2>("axpby_", shape, strides, AxpbyFn<T, false>{dptr<T>(dst), dptr<T>(src), a, bt});
  });
}

}  // namespace shears::cuda
