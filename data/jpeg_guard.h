// A pre-check of JPEG files before stb_image decodes them: Debian's stb_image (2022-09) builds a
// Huffman table from a DHT segment's 16 code counts without checking that they sum to at most 256
// (the JPEG limit), so a hostile file writes past the table's fixed arrays inside stb's decoder
// state (found by tests/fuzz/fuzz_image; later stb releases refuse it the same way).
#pragma once
#include <cstddef>
#include <string>

namespace shears::data {

// Walks the JPEG markers the way stb_image reads them and returns why the file must not be handed
// to stb ("" when it is fine, or when the bytes are not a JPEG at all: stb then refuses them).
std::string jpeg_huffman_problem(const unsigned char* bytes, size_t size);

// The same for a file (read only when its first byte is 0xFF, as every JPEG's is); "" when fine,
// unreadable or not a JPEG (the decoder reports those).
std::string jpeg_file_huffman_problem(const std::string& path);

}  // namespace shears::data
