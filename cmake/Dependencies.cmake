# Finds every package of the design, including those the later backends use, so that a machine
# set up by scripts/setup is known to be complete at configure time.
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)

set(_tlm_req "")
if(TLM_REQUIRE_ALL_PACKAGES)
  set(_tlm_req REQUIRED)
endif()

find_package(fmt REQUIRED)
find_package(OpenSSL REQUIRED)  # libcrypto: SHA-256 of models
find_package(benchmark ${_tlm_req})
find_package(GTest ${_tlm_req})
find_package(OpenCL ${_tlm_req})
find_package(Vulkan ${_tlm_req})
find_package(Protobuf ${_tlm_req})
find_package(gRPC CONFIG ${_tlm_req})
find_package(CLI11 CONFIG ${_tlm_req})
find_package(nlohmann_json ${_tlm_req})
find_package(yaml-cpp ${_tlm_req})
find_package(SQLite3 ${_tlm_req})
# libpq: the PostgreSQL dataset (tlmbench sweep --store postgresql://...); without it, SQLite only.
pkg_check_modules(LIBPQ ${_tlm_req} IMPORTED_TARGET libpq)
find_program(GLSLC_EXECUTABLE glslc ${_tlm_req})

# XNNPACK ships no CMake config in Debian: find the header and libraries directly.
find_path(XNNPACK_INCLUDE_DIR xnnpack.h ${_tlm_req})
find_library(XNNPACK_LIBRARY XNNPACK ${_tlm_req})
find_library(PTHREADPOOL_LIBRARY pthreadpool ${_tlm_req})
find_library(CPUINFO_LIBRARY cpuinfo ${_tlm_req})
if(XNNPACK_INCLUDE_DIR AND XNNPACK_LIBRARY)
  add_library(tlm::xnnpack INTERFACE IMPORTED)
  target_include_directories(tlm::xnnpack INTERFACE ${XNNPACK_INCLUDE_DIR})
  target_link_libraries(tlm::xnnpack INTERFACE ${XNNPACK_LIBRARY} ${PTHREADPOOL_LIBRARY} ${CPUINFO_LIBRARY})
endif()

message(STATUS "tlmbench packages: fmt=${fmt_FOUND} benchmark=${benchmark_FOUND} gtest=${GTest_FOUND} "
               "opencl=${OpenCL_FOUND} vulkan=${Vulkan_FOUND} protobuf=${Protobuf_FOUND} grpc=${gRPC_FOUND} "
               "xnnpack=${XNNPACK_LIBRARY} glslc=${GLSLC_EXECUTABLE} libpq=${LIBPQ_FOUND}")
