// A pre-check of PNG files before stb_image decodes them: Debian's stb_image (2022-09) reallocates
// its IDAT buffer to whatever length a chunk claims (a 176-byte file asked for 2 GB) and copies an
// empty first IDAT chunk from a null buffer (UB); both found by tests/fuzz/fuzz_image. The chunk
// walk here refuses such files, so stb only ever sees chunks that fit in the file.
#pragma once
#include <cstddef>
#include <string>

namespace shears::data {

// Walks the PNG chunks (length, type, data, CRC) from byte 8 the way stb_image reads them and
// returns why the bytes must not be handed to stb: a chunk claiming more bytes than are left, or
// an empty IDAT chunk before any image data. "" when fine, or when the bytes are not a PNG.
std::string png_chunk_problem(const unsigned char* bytes, size_t size);

// The same for a file (read only when it starts like a PNG); "" when fine, unreadable or not a
// PNG (the decoder reports those).
std::string png_file_chunk_problem(const std::string& path);

}  // namespace shears::data
