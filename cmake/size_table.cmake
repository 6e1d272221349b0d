# Code size per portable module in the embedded preset. A module registers its object library
# with cellrtc_report_size(name target); `cmake --build --preset embedded` ends by printing
# text/data/bss per module (arm-none-eabi-size over the module's objects).
function(cellrtc_report_size name target)
  set_property(GLOBAL APPEND PROPERTY CELLRTC_SIZE_ENTRIES "${name}=${target}")
endfunction()

function(cellrtc_size_table)
  find_program(CELLRTC_SIZE arm-none-eabi-size REQUIRED)
  get_property(entries GLOBAL PROPERTY CELLRTC_SIZE_ENTRIES)
  set(pairs "")
  set(targets "")
  foreach(entry IN LISTS entries)
    string(REPLACE "=" ";" parts "${entry}")
    list(GET parts 0 name)
    list(GET parts 1 target)
    if(NOT TARGET ${target})
      continue()
    endif()
    get_target_property(dir ${target} BINARY_DIR)
    list(APPEND pairs "${name}=${dir}/CMakeFiles/${target}.dir")
    list(APPEND targets ${target})
  endforeach()
  add_custom_target(size_table ALL
    COMMAND ${CMAKE_COMMAND} -DSIZE=${CELLRTC_SIZE} "-DENTRIES=${pairs}"
            -P ${PROJECT_SOURCE_DIR}/cmake/print_sizes.cmake
    DEPENDS ${targets}
    COMMENT "Code size per portable module (arm-none-eabi, -Os)"
    VERBATIM)
endfunction()
