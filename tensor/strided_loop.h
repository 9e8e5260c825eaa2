// The strided iteration engine behind every elementwise kernel: walks N operands that
// share one (broadcast) shape but have their own element strides, merges dims that are
// contiguous in all operands, and hands rows to a callback with per-operand offsets and
// inner strides. Rows are split into thread-count-independent chunks (parallel.h).
#pragma once
#include <array>
#include <cstdint>

#include "tensor/parallel.h"
#include "tensor/shape.h"

namespace shears {

template <size_t N>
struct StridedLayout {
  Shape shape;                      // coalesced shape
  std::array<Shape, N> strides;     // coalesced strides per operand
};

// Drops size-1 dims and merges neighbours that are contiguous for every operand.
template <size_t N>
StridedLayout<N> coalesce(const Shape& shape, const std::array<Shape, N>& strides) {
  StridedLayout<N> out;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!out.shape.empty()) {
      bool merge = true;
      for (size_t k = 0; k < N; ++k)
        if (out.strides[k].back() != strides[k][d] * shape[d]) merge = false;
      if (merge) {
        out.shape.back() *= shape[d];
        for (size_t k = 0; k < N; ++k) out.strides[k].back() = strides[k][d];
        continue;
      }
    }
    out.shape.push_back(shape[d]);
    for (size_t k = 0; k < N; ++k) out.strides[k].push_back(strides[k][d]);
  }
  if (out.shape.empty()) {  // a scalar or all-ones shape: one row of one element
    out.shape.push_back(1);
    for (size_t k = 0; k < N; ++k) out.strides[k].push_back(0);
  }
  return out;
}

// Calls row(offsets, inner_strides, n) for every row of the coalesced layout, where
// offsets[k] is operand k's element offset of the row start. Long single rows are cut
// into pieces so that both threads get work.
template <size_t N, typename RowFn>
void for_each_row(const Shape& shape, const std::array<Shape, N>& strides, RowFn&& row,
                  int64_t min_parallel_elems = 32768) {
  for (int64_t size : shape)
    if (size == 0) return;  // no elements (e.g. a (2, 0) tensor from a file): no rows, nothing to divide by
  StridedLayout<N> L = coalesce<N>(shape, strides);
  const int64_t nd = static_cast<int64_t>(L.shape.size());
  const int64_t inner = L.shape[nd - 1];
  std::array<int64_t, N> inner_strides;
  for (size_t k = 0; k < N; ++k) inner_strides[k] = L.strides[k][nd - 1];
  int64_t rows = 1;
  for (int64_t d = 0; d < nd - 1; ++d) rows *= L.shape[d];

  if (rows == 1) {  // one long row: cut it into fixed pieces
    const int64_t piece = 16384;
    auto body = [&](int64_t b, int64_t e) {
      std::array<int64_t, N> offs;
      for (size_t k = 0; k < N; ++k) offs[k] = b * inner_strides[k];
      row(offs.data(), inner_strides.data(), e - b);
    };
    if (inner < min_parallel_elems) body(0, inner);
    else parallel_for(inner, piece, body);
    return;
  }
  auto body = [&](int64_t rb, int64_t re) {
    // multi-index of row rb over dims [0, nd-1)
    Shape idx(nd > 1 ? nd - 1 : 0);
    int64_t r = rb;
    for (int64_t d = nd - 2; d >= 0; --d) {
      idx[d] = r % L.shape[d];
      r /= L.shape[d];
    }
    std::array<int64_t, N> offs{};
    for (size_t k = 0; k < N; ++k)
      for (int64_t d = 0; d < nd - 1; ++d) offs[k] += idx[d] * L.strides[k][d];
    for (int64_t i = rb; i < re; ++i) {
      row(offs.data(), inner_strides.data(), inner);
      for (int64_t d = nd - 2; d >= 0; --d) {  // advance the multi-index
        ++idx[d];
        for (size_t k = 0; k < N; ++k) offs[k] += L.strides[k][d];
        if (idx[d] < L.shape[d]) break;
        for (size_t k = 0; k < N; ++k) offs[k] -= L.strides[k][d] * L.shape[d];
        idx[d] = 0;
      }
    }
  };
  if (rows * inner < min_parallel_elems) body(0, rows);
  else parallel_for(rows, grain_for(inner, 16384), body);
}

}  // namespace shears
