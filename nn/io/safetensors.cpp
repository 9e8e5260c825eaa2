// safetensors reader/writer: header parsing and validation (every error names the file and
// the problem), per-tensor reads straight into tensor storage with F16/BF16 -> f32
// conversion, and atomic writes (temp file, fsync, rename).
#include "nn/io/safetensors.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "nn/io/bounded_json.h"

#include "nn/io/atomic_file.h"
#include "tensor/fp16.h"
#include "tensor/kernels.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors I/O assumes a little-endian host"
#endif

namespace shears::nn {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;
namespace fs = std::filesystem;

// File-level element types and how they land in a Tensor.
enum class FileDType { F32, F16, BF16, F64, I64, Bool };

struct Entry {
  std::string name;
  FileDType ftype;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

const char* supported_list() { return "F32, F16, BF16, F64, I64, BOOL"; }

bool parse_dtype(const std::string& s, FileDType& out) {
  if (s == "F32") out = FileDType::F32;
  else if (s == "F16") out = FileDType::F16;
  else if (s == "BF16") out = FileDType::BF16;
  else if (s == "F64") out = FileDType::F64;
  else if (s == "I64") out = FileDType::I64;
  else if (s == "BOOL") out = FileDType::Bool;
  else return false;
  return true;
}

const char* file_dtype_name(FileDType t) {
  switch (t) {
    case FileDType::F32: return "F32";
    case FileDType::F16: return "F16";
    case FileDType::BF16: return "BF16";
    case FileDType::F64: return "F64";
    case FileDType::I64: return "I64";
    case FileDType::Bool: return "BOOL";
  }
  return "?";
}

uint64_t file_elem_size(FileDType t) {
  switch (t) {
    case FileDType::F32: return 4;
    case FileDType::F16: case FileDType::BF16: return 2;
    case FileDType::F64: case FileDType::I64: return 8;
    case FileDType::Bool: return 1;
  }
  return 0;
}

DType tensor_dtype(FileDType t) {
  switch (t) {
    case FileDType::F64: return DType::F64;
    case FileDType::I64: return DType::I64;
    case FileDType::Bool: return DType::Bool;
    default: return DType::F32;
  }
}

// Everything known after reading the header.
struct Header {
  std::vector<Entry> entries;  // sorted by begin offset
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;     // 8 + header length
  uint64_t file_size = 0;
};

Entry parse_entry(const std::string& path, const std::string& name, const json& v) {
  auto bad = [&](const auto&... parts) { fail("safetensors", path, ": tensor '", name, "': ", parts...); };
  if (!v.is_object()) bad("header entry is not an object: ", json_excerpt(v));
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!v.contains(key)) bad("header entry is missing \"", key, "\"");
  Entry e;
  e.name = name;
  const json& dt = v["dtype"];
  if (!dt.is_string()) bad("\"dtype\" is not a string: ", json_excerpt(dt));
  if (!parse_dtype(dt.get<std::string>(), e.ftype))
    bad("unsupported dtype '", dt.get<std::string>(), "' (supported: ", supported_list(), ")");
  const json& sh = v["shape"];
  if (!sh.is_array()) bad("\"shape\" is not an array: ", json_excerpt(sh));
  for (const json& d : sh) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
      bad("\"shape\" must hold non-negative integers, got ", json_excerpt(sh));
    e.shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
  }
  const json& off = v["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    bad("\"data_offsets\" must be [begin, end] with non-negative integers, got ", json_excerpt(off));
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  return e;
}

// Bytes the shape needs, or false on overflow.
bool shape_bytes(const Shape& shape, uint64_t elem, uint64_t& out) {
  uint64_t n = elem;
  for (int64_t d : shape) {
    uint64_t u = static_cast<uint64_t>(d);
    if (u != 0 && n > std::numeric_limits<uint64_t>::max() / u) return false;
    n *= u;
  }
  out = n;
  return true;
}

void check_offsets(const std::string& path, std::vector<Entry>& entries, uint64_t buffer_size) {
  for (const Entry& e : entries) {
    if (e.begin > e.end || e.end > buffer_size)
      fail("safetensors", path, ": tensor '", e.name, "': data offsets [", e.begin, ", ", e.end,
           "] out of range of the ", buffer_size, "-byte data buffer");
    try {  // an empty tensor may still have huge dims: its strides must fit int64 too
      contiguous_strides(e.shape);
    } catch (const Error&) {
      fail("safetensors", path, ": tensor '", e.name, "': shape ", shape_str(e.shape), " overflows int64 strides");
    }
    uint64_t need = 0;
    const bool fits = shape_bytes(e.shape, file_elem_size(e.ftype), need);
    if (!fits || need != e.end - e.begin)
      fail("safetensors", path, ": tensor '", e.name, "': data offsets [", e.begin, ", ", e.end, "] hold ",
           e.end - e.begin, " bytes but shape ", shape_str(e.shape), " needs ",
           (fits ? std::to_string(need) : std::string("an overflowing number of")), " bytes");
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.name < b.name;
  });
  const Entry* prev = nullptr;  // the last non-empty range
  for (const Entry& e : entries) {
    if (e.begin == e.end) continue;
    if (prev && e.begin < prev->end)
      fail("safetensors", path, ": tensor '", e.name, "': data offsets [", e.begin, ", ", e.end,
           "] overlap tensor '", prev->name, "' [", prev->begin, ", ", prev->end, "]");
    prev = &e;
  }
}

void open_or_fail(std::ifstream& in, const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail("safetensors", path, ": file not found");
  if (fs::is_directory(path, ec)) fail("safetensors", path, ": is a directory, not a file");
  in.open(path, std::ios::binary);
  if (!in) fail("safetensors", path, ": cannot open file (", std::strerror(errno), ")");
}

Header read_header(std::ifstream& in, const std::string& path) {
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  if (ec) fail("safetensors", path, ": cannot get the file size (", ec.message(), ")");
  if (size < 8)
    fail("safetensors", path, ": file is ", size, " bytes, shorter than the 8-byte header length (truncated?)");
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  if (!in) fail("safetensors", path, ": cannot read the header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
  if (n > size - 8)
    fail("safetensors", path, ": header length ", n, " is beyond the file (", size,
         " bytes; truncated or not a safetensors file?)");
  std::string text(n, '\0');
  in.read(text.data(), static_cast<std::streamsize>(n));
  if (!in) fail("safetensors", path, ": cannot read the ", n, "-byte header");

  json j;
  try {  // depth-limited, duplicate tensor/metadata keys refused (nlohmann would keep the last one)
    j = parse_bounded_json<json>(text, "safetensors", path, "header JSON");
  } catch (const json::exception& e) {
    fail("safetensors", path, ": malformed header JSON (", e.what(), ")");
  }
  if (!j.is_object()) fail("safetensors", path, ": header JSON is not an object");

  Header h;
  h.data_start = 8 + n;
  h.file_size = size;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) fail("safetensors", path, ": \"__metadata__\" is not an object");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string())
          fail("safetensors", path, ": metadata value for \"", m.key(), "\" is not a string: ",
               json_excerpt(m.value()));
        h.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    h.entries.push_back(parse_entry(path, it.key(), it.value()));
  }
  check_offsets(path, h.entries, size - h.data_start);
  return h;
}

void read_bytes(std::ifstream& in, const std::string& path, const Entry& e, uint64_t pos, void* dst) {
  in.seekg(static_cast<std::streamoff>(pos));
  in.read(static_cast<char*>(dst), static_cast<std::streamsize>(e.end - e.begin));
  if (!in) fail("safetensors", path, ": tensor '", e.name, "': read error at byte ", pos);
}

Tensor read_tensor(std::ifstream& in, const std::string& path, const Entry& e, uint64_t data_start) {
  Tensor t = Tensor::empty(e.shape, tensor_dtype(e.ftype));
  const int64_t n = t.numel();
  if (n == 0) return t;
  const uint64_t pos = data_start + e.begin;
  switch (e.ftype) {
    case FileDType::F32: case FileDType::F64: case FileDType::I64:
      read_bytes(in, path, e, pos, t.raw_data());
      break;
    case FileDType::F16: case FileDType::BF16: {
      std::vector<uint16_t> raw(static_cast<size_t>(n));
      read_bytes(in, path, e, pos, raw.data());
      float* out = t.data<float>();
      if (e.ftype == FileDType::F16)
        for (int64_t i = 0; i < n; ++i) out[i] = half_to_float(raw[i]);
      else
        for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_float(raw[i]);
      break;
    }
    case FileDType::Bool: {
      std::vector<uint8_t> raw(static_cast<size_t>(n));
      read_bytes(in, path, e, pos, raw.data());
      bool* out = t.data<bool>();
      for (int64_t i = 0; i < n; ++i) out[i] = raw[i] != 0;
      break;
    }
  }
  return t;
}

const char* write_dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F64: return "F64";
    case DType::I64: return "I64";
    case DType::Bool: return "BOOL";
  }
  return "?";
}

}  // namespace

float half_to_float(uint16_t h) { return fp16_bits_to_float(h); }  // one binary16 decoder: tensor/fp16

float bf16_to_float(uint16_t b) {
  uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

const Tensor* SafetensorsFile::find(const std::string& name) const {
  for (const auto& p : tensors)
    if (p.first == name) return &p.second;
  return nullptr;
}

SafetensorsFile read_safetensors(const std::string& path) {
  std::ifstream in;
  open_or_fail(in, path);
  Header h = read_header(in, path);
  SafetensorsFile out;
  out.metadata = std::move(h.metadata);
  out.tensors.reserve(h.entries.size());
  for (const Entry& e : h.entries) out.tensors.emplace_back(e.name, read_tensor(in, path, e, h.data_start));
  return out;
}

std::map<std::string, std::string> read_safetensors_metadata(const std::string& path) {
  std::ifstream in;
  open_or_fail(in, path);
  return read_header(in, path).metadata;
}

const SafetensorsTable::Entry* SafetensorsTable::find(const std::string& name) const {
  for (const Entry& e : tensors)
    if (e.name == name) return &e;
  return nullptr;
}

SafetensorsTable read_safetensors_table(const std::string& path) {
  std::ifstream in;
  open_or_fail(in, path);
  Header h = read_header(in, path);
  SafetensorsTable out;
  out.metadata = std::move(h.metadata);
  out.file_size = h.file_size;
  out.tensors.reserve(h.entries.size());
  for (Entry& e : h.entries) out.tensors.push_back({std::move(e.name), std::move(e.shape), file_dtype_name(e.ftype)});
  return out;
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // Validate everything before touching the disk.
  // Files are device-independent: tensors on a device are copied to the host first.
  std::vector<std::pair<std::string, Tensor>> sorted = tensors;
  for (auto& entry : sorted)
    if (entry.second.defined() && !entry.second.device().is_cpu()) entry.second = entry.second.cpu();
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < sorted.size(); ++i) {
    const auto& [name, t] = sorted[i];
    if (name.empty()) fail("safetensors", path, ": cannot write a tensor with an empty name");
    if (name == "__metadata__") fail("safetensors", path, ": \"__metadata__\" is reserved, not a tensor name");
    if (i > 0 && sorted[i - 1].first == name) fail("safetensors", path, ": duplicate tensor name '", name, "'");
    if (!t.defined()) fail("safetensors", path, ": tensor '", name, "' is undefined");
  }

  ordered_json header = ordered_json::object();
  if (!metadata.empty()) {
    ordered_json m = ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = m;
  }
  uint64_t offset = 0;
  for (const auto& [name, t] : sorted) {
    const uint64_t nbytes = uint64_t(t.numel()) * dtype_size(t.dtype());
    header[name] = {{"dtype", write_dtype_name(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  // temp file "<path>.tmp.<pid>", fsync, rename; dead writers' temp files are removed first
  write_file_atomic(path, "safetensors", [&](const ByteSink& put) {
    unsigned char len_bytes[8];
    for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(uint64_t(text.size()) >> (8 * i));
    put(len_bytes, 8);
    put(text.data(), text.size());
    for (const auto& [name, t] : sorted) {
      Tensor c = kernels::contiguous(t);
      put(c.raw_data(), size_t(c.numel()) * dtype_size(c.dtype()));
    }
  });
}

}  // namespace shears::nn
