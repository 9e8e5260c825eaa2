// Reader and writer of the safetensors format (8-byte little-endian header length, JSON
// header with dtype/shape/data_offsets per tensor and a string-only "__metadata__", then
// the raw data buffer). Reads F32/F16/BF16 as f32, F64/I64/BOOL as themselves; writes
// f32/f64/i64/bool tensors atomically (temp file + rename). Every error names the file.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace shears::nn {

struct SafetensorsFile {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in the file's data order
  std::map<std::string, std::string> metadata;           // "__metadata__" (strings only)

  // The tensor of that name, or nullptr.
  const Tensor* find(const std::string& name) const;
};

// Reads and validates the whole file: header length within the file, well-formed JSON (nesting
// at most kMaxJsonDepth deep, no duplicate key: nn/io/bounded_json.h), every entry with a known dtype, a shape and data offsets that lie inside the buffer,
// match shape * dtype size and do not overlap another tensor. Tensors are read straight
// into their own storage (no second copy of the file is held). Throws shears::Error
// "[safetensors] <path>: <problem>".
SafetensorsFile read_safetensors(const std::string& path);

// Only the "__metadata__" strings (reads just the header).
std::map<std::string, std::string> read_safetensors_metadata(const std::string& path);

// The tensor table of a file's header, validated like read_safetensors (every entry's bytes lie
// inside the file, so the shapes together hold at most file_size elements) but without reading
// any tensor data: what a loader checks an untrusted config against before allocating.
struct SafetensorsTable {
  struct Entry {
    std::string name;
    Shape shape;
    std::string dtype;  // as in the file: "F32", "F16", "BF16", "F64", "I64", "BOOL"
  };
  std::vector<Entry> tensors;  // in the file's data order
  std::map<std::string, std::string> metadata;
  uint64_t file_size = 0;  // bytes

  const Entry* find(const std::string& name) const;  // nullptr when absent
};
SafetensorsTable read_safetensors_table(const std::string& path);

// Writes tensors (any strides; f32, f64, i64 or bool) in sorted name order with the
// metadata strings; the header is padded with spaces to a multiple of 8 bytes. The bytes
// go to "<path>.tmp.<pid>" first and are renamed over `path` only when complete, so a
// failed or interrupted write leaves a previous file intact (nn/io/atomic_file.h; temp files of
// writers that died mid-write are removed on the next write of the same path). Throws on duplicate or
// empty names, undefined tensors and I/O errors.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// IEEE half (binary16) and bfloat16 bit patterns to float, exact (subnormals, inf, nan).
float half_to_float(uint16_t bits);
float bf16_to_float(uint16_t bits);

}  // namespace shears::nn
