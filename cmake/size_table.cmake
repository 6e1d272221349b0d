# `cmake --build --preset embedded` ends by printing code size per core module.
find_program(CELLRTC_SIZE arm-none-eabi-size REQUIRED)
add_custom_target(size_table ALL
  COMMAND ${CMAKE_COMMAND} -DSIZE=${CELLRTC_SIZE} -DBUILD_DIR=${CMAKE_BINARY_DIR}
          "-DMODULES=${CELLRTC_CORE_MODULES}" -P ${PROJECT_SOURCE_DIR}/cmake/print_sizes.cmake
  DEPENDS cellrtc_core
  COMMENT "Code size per core module (arm-none-eabi, -Os)"
  VERBATIM)
