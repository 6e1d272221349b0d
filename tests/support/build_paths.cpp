#include "support/build_paths.h"

namespace cellrtc::test_paths {

std::string source_dir() {
  return CELLRTC_SOURCE_DIR;
}
std::string binary_dir() {
  return CELLRTC_BINARY_DIR;
}

}  // namespace cellrtc::test_paths
