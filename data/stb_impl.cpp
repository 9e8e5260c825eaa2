// The one translation unit that compiles stb_image (decoding of JPEG, PNG and BMP under a
// dimension cap, with readable failure messages) and stb_image_write (used by tests and recipes' PNG figures). stb keeps its
// failure reason thread-local, so concurrent decodes from oneTBB tasks are safe.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#endif

#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
// Hostile input (docs/DESIGN.md): only the formats the datasets list (JPEG, PNG, BMP), and
// stb refuses sides above the cap before allocating; data/datasets.cpp checks more (pixel
// count, file size) from stbi_info before decoding.
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_MAX_DIMENSIONS 16384  // = data::kMaxImageSide
#include <stb_image.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
