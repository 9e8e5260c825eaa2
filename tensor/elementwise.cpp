// Elementwise kernels with broadcasting: unary math, binary arithmetic (and the fused
// activation-gradient helpers), scalar variants, pow, comparisons, where, clamp, axpby_.
// Inner loops are specialized for contiguous and scalar-broadcast operands so that the
// compiler vectorizes them; rows are spread over threads by for_each_row.
#include <cmath>
#include <limits>

#include "tensor/vec_math.h"
#include "tensor/device_dispatch.h"
#include "tensor/kernels.h"
#include "tensor/strided_loop.h"
#include "tensor/profile.h"

namespace shears::kernels {

const char* unary_name(UnaryOp op) {
  static const char* names[] = {"neg", "exp", "log", "sqrt", "rsqrt", "abs", "tanh", "sigmoid", "relu",
                                "gelu", "sign", "square"};
  return names[static_cast<int>(op)];
}

const char* binary_name(BinaryOp op) {
  static const char* names[] = {"add", "sub", "mul", "div", "max", "min", "relu_backward", "gelu_backward",
                                "tanh_backward", "sigmoid_backward"};
  return names[static_cast<int>(op)];
}

namespace {

// One row of a unary map. `flatten` inlines f into the loops so that they vectorize
// (GCC will not inline a large lambda such as gelu's on its own).
template <typename O, typename T, typename F>
__attribute__((flatten)) void row1(O* __restrict o, const T* __restrict a, int64_t so, int64_t sa, int64_t n,
                                   const F& f) {
  if (so == 1 && sa == 1) {
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) o[i * so] = f(a[i * sa]);
  }
}

// One row of a binary map, with contiguous and scalar-broadcast fast paths.
template <typename O, typename T, typename F>
__attribute__((flatten)) void row2(O* __restrict o, const T* x, const T* y, const int64_t* st, int64_t n,
                                   const F& f) {
  if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
    for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
  } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
    const T yv = y[0];
    for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
  } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {
    const T xv = x[0];
    for (int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(x[i * st[1]], y[i * st[2]]);
  }
}

// out[i] = f(x[i]) over the broadcast-free shape of x (out is fresh and contiguous).
template <typename O, typename T, typename F>
void map1(const Tensor& out, const Tensor& x, F f) {
  O* op = static_cast<O*>(out.raw_data());
  const T* xp = static_cast<const T*>(x.raw_data());
  for_each_row<2>(out.shape(), {out.strides(), x.strides()}, [&](const int64_t* off, const int64_t* st, int64_t n) {
    row1(op + off[0], xp + off[1], st[0], st[1], n, f);
  });
}

// out[i] = f(a[i], b[i]) with a and b broadcast to out's shape.
template <typename O, typename T, typename F>
void map2(const Tensor& out, const Tensor& a, const Tensor& b, F f) {
  O* op = static_cast<O*>(out.raw_data());
  const T* ap = static_cast<const T*>(a.raw_data());
  const T* bp = static_cast<const T*>(b.raw_data());
  Shape as = broadcast_strides(a.shape(), a.strides(), out.shape());
  Shape bs = broadcast_strides(b.shape(), b.strides(), out.shape());
  for_each_row<3>(out.shape(), {out.strides(), as, bs}, [&](const int64_t* off, const int64_t* st, int64_t n) {
    row2(op + off[0], ap + off[1], bp + off[2], st, n, f);
  });
}

template <typename T>
constexpr T kInvSqrt2Pi = T(0.39894228040143267794);

template <typename T> __attribute__((always_inline)) inline T gelu_grad(T x) {
  T cdf = T(0.5) * (T(1) + verf(x * kInvSqrt2<T>));
  T d = cdf + x * kInvSqrt2Pi<T> * vexp(T(-0.5) * x * x);
  const T hi = x > std::numeric_limits<T>::max() ? T(1) : d;  // +-inf: the limits
  return x < std::numeric_limits<T>::lowest() ? T(0) : hi;
}

void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  if (a.dtype() != b.dtype())
    fail(op, "dtype mismatch: ", dtype_name(a.dtype()), " ", shape_str(a.shape()), " and ", dtype_name(b.dtype()),
         " ", shape_str(b.shape()));
}

}  // namespace

namespace {
template <typename T>
void unary_typed(UnaryOp op, const Tensor& out, const Tensor& x, const char* name) {
  if constexpr (std::is_integral_v<T>) {
    switch (op) {
      case UnaryOp::Neg: return map1<T, T>(out, x, [](T v) { return -v; });
      case UnaryOp::Abs: return map1<T, T>(out, x, [](T v) { return v < 0 ? -v : v; });
      case UnaryOp::Sign: return map1<T, T>(out, x, [](T v) { return T((v > 0) - (v < 0)); });
      case UnaryOp::Square: return map1<T, T>(out, x, [](T v) { return v * v; });
      case UnaryOp::Relu: return map1<T, T>(out, x, [](T v) { return v > 0 ? v : T(0); });
      default: fail(name, "expected a floating dtype, got ", dtype_name(x.dtype()));
    }
  } else {
    switch (op) {
      case UnaryOp::Neg: return map1<T, T>(out, x, [](T v) { return -v; });
      case UnaryOp::Exp: return map1<T, T>(out, x, [](T v) { return vexp(v); });
      case UnaryOp::Log: return map1<T, T>(out, x, [](T v) { return std::log(v); });
      case UnaryOp::Sqrt: return map1<T, T>(out, x, [](T v) { return std::sqrt(v); });
      case UnaryOp::Rsqrt: return map1<T, T>(out, x, [](T v) { return T(1) / std::sqrt(v); });
      case UnaryOp::Abs: return map1<T, T>(out, x, [](T v) { return std::fabs(v); });
      case UnaryOp::Tanh: return map1<T, T>(out, x, [](T v) { return vtanh(v); });
      case UnaryOp::Sigmoid: return map1<T, T>(out, x, [](T v) { return T(1) / (T(1) + vexp(-v)); });
      case UnaryOp::Relu: return map1<T, T>(out, x, [](T v) { return v > T(0) ? v : T(0); });
      case UnaryOp::Gelu: return map1<T, T>(out, x, [](T v) { return vgelu(v); });
      case UnaryOp::Sign: return map1<T, T>(out, x, [](T v) { return T((v > 0) - (v < 0)); });
      case UnaryOp::Square: return map1<T, T>(out, x, [](T v) { return v * v; });
    }
  }
}
}  // namespace

Tensor unary(UnaryOp op, const Tensor& x) {
  SHEARS_PROFILE(Elementwise);
  const char* name = unary_name(op);
  SHEARS_CHECK(x.dtype() != DType::Bool, name, "not defined for bool tensors");
  if (Backend* be = device_backend(name, {&x})) return be->unary(op, x);
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  switch (x.dtype()) {
    case DType::F32: unary_typed<float>(op, out, x, name); break;
    case DType::F64: unary_typed<double>(op, out, x, name); break;
    case DType::I64: unary_typed<int64_t>(op, out, x, name); break;
    default: break;
  }
  return out;
}

namespace {
template <typename T>
void binary_typed(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b, const char* name) {
  switch (op) {
    case BinaryOp::Add: return map2<T, T>(out, a, b, [](T x, T y) { return x + y; });
    case BinaryOp::Sub: return map2<T, T>(out, a, b, [](T x, T y) { return x - y; });
    case BinaryOp::Mul: return map2<T, T>(out, a, b, [](T x, T y) { return x * y; });
    case BinaryOp::Div:
      if constexpr (std::is_integral_v<T>) fail(name, "integer division is not supported; convert to f32/f64");
      else return map2<T, T>(out, a, b, [](T x, T y) { return x / y; });
    case BinaryOp::Max: return map2<T, T>(out, a, b, [](T x, T y) { return x > y ? x : y; });
    case BinaryOp::Min: return map2<T, T>(out, a, b, [](T x, T y) { return x < y ? x : y; });
    default: break;
  }
  if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case BinaryOp::ReluBackward: return map2<T, T>(out, a, b, [](T x, T g) { return x > T(0) ? g : T(0); });
      case BinaryOp::GeluBackward: return map2<T, T>(out, a, b, [](T x, T g) { return g * gelu_grad(x); });
      case BinaryOp::TanhBackward: return map2<T, T>(out, a, b, [](T y, T g) { return g * (T(1) - y * y); });
      case BinaryOp::SigmoidBackward: return map2<T, T>(out, a, b, [](T y, T g) { return g * y * (T(1) - y); });
      default: break;
    }
  }
  fail(name, "not defined for dtype ", dtype_name(a.dtype()));
}
}  // namespace

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  SHEARS_PROFILE(Elementwise);
  const char* name = binary_name(op);
  check_same_dtype(a, b, name);
  SHEARS_CHECK(a.dtype() != DType::Bool, name, "not defined for bool tensors");
  if (Backend* be = device_backend(name, {&a, &b})) {
    broadcast_shapes(a.shape(), b.shape(), name);  // validates
    return be->binary(op, a, b);
  }
  Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), name), a.dtype());
  switch (a.dtype()) {
    case DType::F32: binary_typed<float>(op, out, a, b, name); break;
    case DType::F64: binary_typed<double>(op, out, a, b, name); break;
    case DType::I64: binary_typed<int64_t>(op, out, a, b, name); break;
    default: break;
  }
  return out;
}

Tensor binary_scalar(BinaryOp op, const Tensor& a, double s) {
  SHEARS_PROFILE(Elementwise);
  if (Backend* be = device_backend(binary_name(op), {&a})) {
    SHEARS_CHECK(a.dtype() != DType::Bool, binary_name(op), "not defined for bool tensors");
    return be->binary_scalar(op, a, s);
  }
  Tensor st = Tensor::empty({}, a.dtype());
  fill_(st, s);
  return binary(op, a, st);
}

Tensor pow_scalar(const Tensor& x, double p) {
  SHEARS_PROFILE(Elementwise);
  if (Backend* be = device_backend("pow", {&x})) {
    SHEARS_CHECK(is_floating(x.dtype()), "pow", "expected a floating dtype (f32 or f64), got ", dtype_name(x.dtype()));
    return be->pow_scalar(x, p);
  }
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  SHEARS_DISPATCH_FLOAT(x.dtype(), "pow", [&] {
    using T = scalar_t;
    const T e = static_cast<T>(p);
    if (p == 2.0) map1<T, T>(out, x, [](T v) { return v * v; });
    else if (p == 0.5) map1<T, T>(out, x, [](T v) { return std::sqrt(v); });
    else if (p == -1.0) map1<T, T>(out, x, [](T v) { return T(1) / v; });
    else map1<T, T>(out, x, [e](T v) { return std::pow(v, e); });
  });
  return out;
}

Tensor pow_scalar_backward(const Tensor& x, double p, const Tensor& dy) {
  SHEARS_PROFILE(Elementwise);
  check_same_dtype(x, dy, "pow_backward");
  if (Backend* be = device_backend("pow_backward", {&x, &dy})) {
    broadcast_shapes(x.shape(), dy.shape(), "pow_backward");
    SHEARS_CHECK(is_floating(x.dtype()), "pow_backward", "expected a floating dtype (f32 or f64), got ",
                 dtype_name(x.dtype()));
    return be->pow_scalar_backward(x, p, dy);
  }
  Tensor out = Tensor::empty(broadcast_shapes(x.shape(), dy.shape(), "pow_backward"), x.dtype());
  SHEARS_DISPATCH_FLOAT(x.dtype(), "pow_backward", [&] {
    using T = scalar_t;
    const T e = static_cast<T>(p);
    if (p == 2.0) map2<T, T>(out, x, dy, [](T v, T g) { return T(2) * v * g; });
    else map2<T, T>(out, x, dy, [e](T v, T g) { return e * std::pow(v, e - T(1)) * g; });
  });
  return out;
}

namespace {
template <typename F>
Tensor compare_with(CompareOp op, const Tensor& a, const Tensor& b, const char* name) {
  check_same_dtype(a, b, name);
  if (Backend* be = device_backend(name, {&a, &b})) {
    broadcast_shapes(a.shape(), b.shape(), name);
    return be->compare(op, a, b);
  }
  Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), name), DType::Bool);
  SHEARS_DISPATCH_ALL(a.dtype(), name, [&] {
    using T = scalar_t;
    switch (op) {
      case CompareOp::Eq: return map2<bool, T>(out, a, b, [](T x, T y) { return x == y; });
      case CompareOp::Ne: return map2<bool, T>(out, a, b, [](T x, T y) { return x != y; });
      case CompareOp::Lt: return map2<bool, T>(out, a, b, [](T x, T y) { return x < y; });
      case CompareOp::Le: return map2<bool, T>(out, a, b, [](T x, T y) { return x <= y; });
      case CompareOp::Gt: return map2<bool, T>(out, a, b, [](T x, T y) { return x > y; });
      case CompareOp::Ge: return map2<bool, T>(out, a, b, [](T x, T y) { return x >= y; });
    }
  });
  return out;
}
}  // namespace

Tensor compare(CompareOp op, const Tensor& a, const Tensor& b) { return compare_with<int>(op, a, b, "compare"); }

Tensor compare_scalar(CompareOp op, const Tensor& a, double s) {
  if (Backend* be = device_backend("compare", {&a})) return be->compare_scalar(op, a, s);
  Tensor st = Tensor::empty({}, a.dtype());
  fill_(st, s);
  return compare(op, a, st);
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  SHEARS_PROFILE(Elementwise);
  SHEARS_CHECK(cond.dtype() == DType::Bool, "where", "condition must be bool, got ", dtype_name(cond.dtype()));
  check_same_dtype(a, b, "where");
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  if (Backend* be = device_backend("where", {&cond, &a, &b})) return be->where(cond, a, b);
  Tensor out = Tensor::empty(shape, a.dtype());
  Shape cs = broadcast_strides(cond.shape(), cond.strides(), shape);
  Shape as = broadcast_strides(a.shape(), a.strides(), shape);
  Shape bs = broadcast_strides(b.shape(), b.strides(), shape);
  const bool* cp = static_cast<const bool*>(cond.raw_data());
  SHEARS_DISPATCH_ALL(a.dtype(), "where", [&] {
    using T = scalar_t;
    T* op = static_cast<T*>(out.raw_data());
    const T* ap = static_cast<const T*>(a.raw_data());
    const T* bp = static_cast<const T*>(b.raw_data());
    for_each_row<4>(shape, {out.strides(), cs, as, bs}, [&](const int64_t* off, const int64_t* st, int64_t n) {
      for (int64_t i = 0; i < n; ++i)
        op[off[0] + i * st[0]] = cp[off[1] + i * st[1]] ? ap[off[2] + i * st[2]] : bp[off[3] + i * st[3]];
    });
  });
  return out;
}

Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  SHEARS_PROFILE(Elementwise);
  SHEARS_CHECK(x.dtype() != DType::Bool, "clamp", "not defined for bool tensors");
  if (Backend* be = device_backend("clamp", {&x})) return be->clamp(x, lo, hi);
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  SHEARS_DISPATCH_ALL(x.dtype(), "clamp", [&] {
    using T = scalar_t;
    const T l = lo ? static_cast<T>(*lo) : std::numeric_limits<T>::lowest();
    const T h = hi ? static_cast<T>(*hi) : std::numeric_limits<T>::max();
    map1<T, T>(out, x, [l, h](T v) { return v < l ? l : (v > h ? h : v); });
  });
  return out;
}

Tensor clamp_backward(const Tensor& x, std::optional<double> lo, std::optional<double> hi, const Tensor& dy) {
  SHEARS_PROFILE(Elementwise);
  check_same_dtype(x, dy, "clamp_backward");
  if (Backend* be = device_backend("clamp_backward", {&x, &dy})) {
    broadcast_shapes(x.shape(), dy.shape(), "clamp_backward");
    SHEARS_CHECK(is_floating(x.dtype()), "clamp_backward", "expected a floating dtype (f32 or f64), got ",
                 dtype_name(x.dtype()));
    return be->clamp_backward(x, lo, hi, dy);
  }
  Tensor out = Tensor::empty(broadcast_shapes(x.shape(), dy.shape(), "clamp_backward"), x.dtype());
  SHEARS_DISPATCH_FLOAT(x.dtype(), "clamp_backward", [&] {
    using T = scalar_t;
    const T l = lo ? static_cast<T>(*lo) : -std::numeric_limits<T>::infinity();
    const T h = hi ? static_cast<T>(*hi) : std::numeric_limits<T>::infinity();
    map2<T, T>(out, x, dy, [l, h](T v, T g) { return (v >= l && v <= h) ? g : T(0); });
  });
  return out;
}

void axpby_(const Tensor& dst, double alpha, const Tensor& src, double beta) {
  SHEARS_PROFILE(Elementwise);
  check_same_dtype(dst, src, "axpby_");
  Shape shape = broadcast_shapes(dst.shape(), src.shape(), "axpby_");
  SHEARS_CHECK(shape == dst.shape(), "axpby_", "cannot accumulate ", shape_str(src.shape()), " into ",
               shape_str(dst.shape()));
  if (Backend* be = device_backend("axpby_", {&dst, &src})) {
    SHEARS_CHECK(is_floating(dst.dtype()), "axpby_", "expected a floating dtype (f32 or f64), got ",
                 dtype_name(dst.dtype()));
    return be->axpby_(dst, alpha, src, beta);
  }
  SHEARS_DISPATCH_FLOAT(dst.dtype(), "axpby_", [&] {
    using T = scalar_t;
    T* dp = static_cast<T*>(dst.raw_data());
    const T* sp = static_cast<const T*>(src.raw_data());
    const T a = static_cast<T>(alpha), bt = static_cast<T>(beta);
    Shape ss = broadcast_strides(src.shape(), src.strides(), shape);
    for_each_row<2>(shape, {dst.strides(), ss}, [&](const int64_t* off, const int64_t* st, int64_t n) {
      T* d = dp + off[0];
      const T* s = sp + off[1];
      if (st[0] == 1 && st[1] == 1) {
        if (bt == T(1)) for (int64_t i = 0; i < n; ++i) d[i] += a * s[i];
        else for (int64_t i = 0; i < n; ++i) d[i] = bt * d[i] + a * s[i];
      } else {
        for (int64_t i = 0; i < n; ++i) d[i * st[0]] = bt * d[i * st[0]] + a * s[i * st[1]];
      }
    });
  });
}

}  // namespace shears::kernels
