// Where the tests find the sources (scripts, profiles, the viewer page) and the built programs.
// The paths are compiled into build_paths.cpp alone, so the other test sources do not depend on
// where the tree is checked out and compile the same in every checkout.
#pragma once

#include <string>

namespace cellrtc::test_paths {

std::string source_dir();  // the repository's root
std::string binary_dir();  // the build tree of this preset

}  // namespace cellrtc::test_paths
