// Shape helpers: the Shape type (sizes or strides in elements), contiguous strides,
// dim normalization (negative dims count from the end), broadcasting, printing.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace shears {

using Shape = std::vector<int64_t>;

// Element count; throws "[shape] ..." on a negative size or when the product overflows int64
// (sizes come from files and flags: a wrapped count would allocate too little).
int64_t shape_numel(const Shape& shape);
// shape_numel * elem_size, overflow-checked the same way (the byte size of a storage).
int64_t shape_nbytes(const Shape& shape, int64_t elem_size);
// Row-major strides; throws when a stride overflows int64 (zero-size dims count as 1).
Shape contiguous_strides(const Shape& shape);
// a * b, throwing "[op] <what> overflows int64: a * b" instead of wrapping.
int64_t checked_mul(int64_t a, int64_t b, const char* op, const char* what);
std::string shape_str(const Shape& shape);  // "(2, 3, 4)"

// Maps dim in [-ndim, ndim) to [0, ndim); throws "[op] dim d out of range for a k-d tensor".
int64_t normalize_dim(int64_t dim, int64_t ndim, const char* op);

// Broadcast result of two shapes (numpy rules); throws naming op and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Strides that read a tensor of `shape`/`strides` as if broadcast to `out` (0 on broadcast dims).
Shape broadcast_strides(const Shape& shape, const Shape& strides, const Shape& out);

}  // namespace shears
