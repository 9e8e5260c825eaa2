// Shape helpers: the Shape type (sizes or strides in elements), contiguous strides,
// dim normalization (negative dims count from the end), broadcasting, printing.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace shears {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);  // "(2, 3, 4)"

// Maps dim in [-ndim, ndim) to [0, ndim); throws "[op] dim d out of range for a k-d tensor".
int64_t normalize_dim(int64_t dim, int64_t ndim, const char* op);

// Broadcast result of two shapes (numpy rules); throws naming op and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Strides that read a tensor of `shape`/`strides` as if broadcast to `out` (0 on broadcast dims).
Shape broadcast_strides(const Shape& shape, const Shape& strides, const Shape& out);

}  // namespace shears
