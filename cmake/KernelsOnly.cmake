# TLM_KERNELS_ONLY=ON: configures only the CPU kernels (kernels/cpu: reference, dispatch table,
# the ISA's hand-written kernels) and their tests, with no package beyond a C++ compiler and the
# host's arch-independent fmt and GoogleTest sources. This is the aarch64 cross build
# (cmake/toolchains/aarch64-linux-gnu.cmake, scripts/test-aarch64): the full project needs gRPC,
# protobuf, OpenSSL and more for the target, which are not cross-installed.
find_package(Threads REQUIRED)

add_compile_options(-Wall -Wextra)
include_directories(${PROJECT_SOURCE_DIR})

# fmt header-only from Debian's libfmt-dev: its headers are arch-independent, but /usr/include
# also holds the host's libc headers, so only fmt/ is exposed (through a link in the build tree).
set(TLM_HOST_FMT_DIR /usr/include/fmt CACHE PATH "fmt headers (libfmt-dev) for the kernels-only build")
if(NOT EXISTS ${TLM_HOST_FMT_DIR}/format.h)
  message(FATAL_ERROR "TLM_KERNELS_ONLY: ${TLM_HOST_FMT_DIR}/format.h not found; install libfmt-dev (scripts/setup)")
endif()
set(_tlm_fmt_include ${PROJECT_BINARY_DIR}/host-headers)
file(MAKE_DIRECTORY ${_tlm_fmt_include})
file(CREATE_LINK ${TLM_HOST_FMT_DIR} ${_tlm_fmt_include}/fmt SYMBOLIC)
add_library(tlm_fmt_header_only INTERFACE)
target_include_directories(tlm_fmt_header_only SYSTEM INTERFACE ${_tlm_fmt_include})
target_compile_definitions(tlm_fmt_header_only INTERFACE FMT_HEADER_ONLY=1)
add_library(fmt::fmt ALIAS tlm_fmt_header_only)

# The part of tlm_base the kernels use: data types and Status.
add_library(tlm_base STATIC engine/tensor/dtype.cc engine/common/status.cc)
target_link_libraries(tlm_base PUBLIC fmt::fmt Threads::Threads)

file(GLOB TLM_CPU_REF_SOURCES CONFIGURE_DEPENDS kernels/cpu/ref/*.cc)
add_library(tlm_cpu_ref STATIC ${TLM_CPU_REF_SOURCES})
target_link_libraries(tlm_cpu_ref PUBLIC tlm_base)
include(kernels/cpu/kernels.cmake)

if(TLM_BUILD_TESTS)
  # GoogleTest from the source that libgtest-dev ships, built with this build's compiler.
  set(TLM_GOOGLETEST_SOURCE_DIR /usr/src/googletest CACHE PATH "GoogleTest sources (libgtest-dev)")
  if(NOT EXISTS ${TLM_GOOGLETEST_SOURCE_DIR}/CMakeLists.txt)
    message(FATAL_ERROR "TLM_KERNELS_ONLY: no GoogleTest sources at ${TLM_GOOGLETEST_SOURCE_DIR}; install libgtest-dev (scripts/setup)")
  endif()
  set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
  set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
  add_subdirectory(${TLM_GOOGLETEST_SOURCE_DIR} ${PROJECT_BINARY_DIR}/googletest EXCLUDE_FROM_ALL SYSTEM)
  target_compile_options(gtest PRIVATE -w)  # its warnings are not ours to fix
  if(NOT TARGET GTest::gtest_main)  # googletest 1.12 defines these aliases itself
    add_library(GTest::gtest ALIAS gtest)
    add_library(GTest::gtest_main ALIAS gtest_main)
  endif()

  enable_testing()
  include(GoogleTest)
  # As tests/CMakeLists.txt's, with discovery at test time (through CMAKE_CROSSCOMPILING_EMULATOR,
  # so that QEMU_CPU applies to discovery and runs alike).
  function(tlm_add_test)
    cmake_parse_arguments(T "" "NAME" "SOURCES;LIBS;LABELS" ${ARGN})
    add_executable(${T_NAME} ${T_SOURCES})
    target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
    target_compile_definitions(${T_NAME} PRIVATE
      TLM_SOURCE_DIR="${PROJECT_SOURCE_DIR}" TLM_BINARY_DIR="${PROJECT_BINARY_DIR}")
    gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 120 DISCOVERY_MODE PRE_TEST PROPERTIES LABELS "${T_LABELS}")
  endfunction()
  # The kernel tests only (tests/kernels/cpu/backend needs the engine).
  foreach(dir ref dispatch)
    add_subdirectory(tests/kernels/cpu/${dir})
  endforeach()
endif()
