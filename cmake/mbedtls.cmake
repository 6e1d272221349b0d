# mbedTLS: Debian's libmbedtls-dev (2.28) on the host, or the installation under
# CELLRTC_MBEDTLS_ROOT (its include/ and lib/), e.g. a 3.x build to check the code paths ESP-IDF
# uses (docs/dtls.md). The embedded build sees its headers alone, through a directory that holds
# only links to them, never /usr/include as a whole (that would drag the host's glibc headers
# into a newlib build).
set(CELLRTC_MBEDTLS_ROOT "" CACHE PATH
    "mbedTLS installation prefix to build against instead of the system's (empty: system)")
if(CELLRTC_MBEDTLS_ROOT)
  set(_mbedtls_include ${CELLRTC_MBEDTLS_ROOT}/include)
else()
  set(_mbedtls_include /usr/include)
endif()
if(CELLRTC_EMBEDDED)
  set(_mbedtls_dir ${CMAKE_BINARY_DIR}/mbedtls-headers)
  file(MAKE_DIRECTORY ${_mbedtls_dir})
  if(NOT EXISTS ${_mbedtls_dir}/mbedtls)
    file(CREATE_LINK ${_mbedtls_include}/mbedtls ${_mbedtls_dir}/mbedtls SYMBOLIC)
  endif()
  # 3.x headers include the PSA crypto API from a sibling folder.
  if(EXISTS ${_mbedtls_include}/psa AND NOT EXISTS ${_mbedtls_dir}/psa)
    file(CREATE_LINK ${_mbedtls_include}/psa ${_mbedtls_dir}/psa SYMBOLIC)
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
elseif(CELLRTC_MBEDTLS_ROOT)
  find_path(MBEDTLS_INCLUDE_DIR mbedtls/ssl.h PATHS ${_mbedtls_include} NO_DEFAULT_PATH REQUIRED)
  foreach(_lib mbedtls mbedx509 mbedcrypto)
    string(TOUPPER ${_lib} _var)
    find_library(${_var}_LIB ${_lib} PATHS ${CELLRTC_MBEDTLS_ROOT}/lib ${CELLRTC_MBEDTLS_ROOT}/lib64
                 NO_DEFAULT_PATH REQUIRED)
  endforeach()
  add_library(cellrtc_mbedtls INTERFACE)
  target_include_directories(cellrtc_mbedtls SYSTEM INTERFACE ${MBEDTLS_INCLUDE_DIR})
  target_link_libraries(cellrtc_mbedtls INTERFACE ${MBEDTLS_LIB} ${MBEDX509_LIB} ${MBEDCRYPTO_LIB})
  message(STATUS "mbedTLS from ${CELLRTC_MBEDTLS_ROOT}")
else()
  find_path(MBEDTLS_INCLUDE_DIR mbedtls/ssl.h REQUIRED)
  find_library(MBEDTLS_LIB mbedtls REQUIRED)
  find_library(MBEDX509_LIB mbedx509 REQUIRED)
  find_library(MBEDCRYPTO_LIB mbedcrypto REQUIRED)
  add_library(cellrtc_mbedtls INTERFACE)
  target_include_directories(cellrtc_mbedtls SYSTEM INTERFACE ${MBEDTLS_INCLUDE_DIR})
  target_link_libraries(cellrtc_mbedtls INTERFACE ${MBEDTLS_LIB} ${MBEDX509_LIB} ${MBEDCRYPTO_LIB})
endif()
