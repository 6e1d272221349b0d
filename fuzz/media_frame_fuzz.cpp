// Frame messages and JPEG marker walking, the parsers a viewer-facing server and a device's
// file/stdin sources run on untrusted bytes.
#include <cstdint>
#include <cstdlib>

#include "core/media/frame_header.h"
#include "core/media/jpeg_info.h"

using namespace cellrtc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in(data, size);
  if (auto f = media::parse_frame(in)) {
    // What parses re-encodes to a frame that parses the same.
    Bytes again = media::encode_frame(f->header, f->jpeg);
    auto g = media::parse_frame(again);
    if (!g || !(g->header == f->header) || g->jpeg.size() != f->jpeg.size()) std::abort();
    (void)media::inspect_jpeg(f->jpeg);
  }
  if (auto info = media::inspect_jpeg(in)) {
    if (info->size > size || info->width == 0 || info->height == 0) std::abort();
  }
  if (auto n = media::next_jpeg_length(in); n && n->has_value() && **n > size) std::abort();
  return 0;
}
