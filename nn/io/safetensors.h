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

// Reads and validates the whole file: header length within the file, well-formed JSON,
// every entry with a known dtype, a shape and data offsets that lie inside the buffer,
// match shape * dtype size and do not overlap another tensor. Tensors are read straight
// into their own storage (no second copy of the file is held). Throws shears::Error
// "[safetensors] <path>: <problem>".
SafetensorsFile read_safetensors(const std::string& path);

// Only the "__metadata__" strings (reads just the header).
std::map<std::string, std::string> read_safetensors_metadata(const std::string& path);

// Writes tensors (any strides; f32, f64, i64 or bool) in sorted name order with the
// metadata strings; the header is padded with spaces to a multiple of 8 bytes. The bytes
// go to "<path>.tmp.<pid>" first and are renamed over `path` only when complete, so a
// failed or interrupted write leaves a previous file intact. Throws on duplicate or
// empty names, undefined tensors and I/O errors.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// IEEE half (binary16) and bfloat16 bit patterns to float, exact (subnormals, inf, nan).
float half_to_float(uint16_t bits);
float bf16_to_float(uint16_t bits);

}  // namespace shears::nn
