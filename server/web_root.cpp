#include "server/web_root.h"

namespace cellrtc::server {

const char* built_in_web_root() {
  return CELLRTC_WEB_ROOT;
}

}  // namespace cellrtc::server
