# mbedTLS: Debian's libmbedtls-dev (2.28) on the host. The embedded build sees its headers
# alone, through a directory that holds only a link to them, never /usr/include as a whole
# (that would drag the host's glibc headers into a newlib build).
if(CELLRTC_EMBEDDED)
  set(_mbedtls_dir ${CMAKE_BINARY_DIR}/mbedtls-headers)
  file(MAKE_DIRECTORY ${_mbedtls_dir})
  if(NOT EXISTS ${_mbedtls_dir}/mbedtls)
    file(CREATE_LINK /usr/include/mbedtls ${_mbedtls_dir}/mbedtls SYMBOLIC)
  endif()
  # Debian's configuration enables MBEDTLS_THREADING_PTHREAD, and rsa.h (reached from ssl.h and
  # pk.h) then needs pthread types newlib does not have. The device's own configuration
  # (ESP-IDF's) decides threading for itself; for this portability build it is switched off.
  file(WRITE ${_mbedtls_dir}/cellrtc_embedded_config.h
       "#undef MBEDTLS_THREADING_C\n#undef MBEDTLS_THREADING_PTHREAD\n")
  add_library(cellrtc_mbedtls INTERFACE)
  target_include_directories(cellrtc_mbedtls SYSTEM INTERFACE ${_mbedtls_dir})
  target_compile_definitions(cellrtc_mbedtls INTERFACE
                             MBEDTLS_USER_CONFIG_FILE="cellrtc_embedded_config.h")
else()
  find_path(MBEDTLS_INCLUDE_DIR mbedtls/ssl.h REQUIRED)
  find_library(MBEDTLS_LIB mbedtls REQUIRED)
  find_library(MBEDX509_LIB mbedx509 REQUIRED)
  find_library(MBEDCRYPTO_LIB mbedcrypto REQUIRED)
  add_library(cellrtc_mbedtls INTERFACE)
  target_include_directories(cellrtc_mbedtls SYSTEM INTERFACE ${MBEDTLS_INCLUDE_DIR})
  target_link_libraries(cellrtc_mbedtls INTERFACE ${MBEDTLS_LIB} ${MBEDX509_LIB} ${MBEDCRYPTO_LIB})
endif()
