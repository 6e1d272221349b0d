// The viewer page's files (web/ of the source tree) that a server serves when http.web_root is
// empty. The path is compiled into web_root.cpp alone, so no other source depends on where the
// tree is checked out.
#pragma once

namespace cellrtc::server {

const char* built_in_web_root();

}  // namespace cellrtc::server
