# libFuzzer targets, included by the top CMakeLists when TLM_BUILD_FUZZERS=ON (preset `fuzz`,
# clang). The libraries are compiled with -fsanitize=fuzzer-no-link from the preset's flags; only
# the fuzz targets link libFuzzer's main. scripts/fuzz-smoke builds and runs them.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "TLM_BUILD_FUZZERS needs clang (use the `fuzz` preset)")
endif()

set(TLM_FUZZ_DIR ${PROJECT_SOURCE_DIR}/tests/fuzz)

add_executable(gguf_fuzz ${TLM_FUZZ_DIR}/gguf_fuzz.cc)
target_link_libraries(gguf_fuzz PRIVATE tlm_gguf)
target_compile_options(gguf_fuzz PRIVATE -fsanitize=fuzzer)
target_link_options(gguf_fuzz PRIVATE -fsanitize=fuzzer)

# Seed corpus writer: valid files of several shapes plus the corrupt-file corpus.
add_executable(gguf_fuzz_seeds ${TLM_FUZZ_DIR}/gguf_seeds.cc
               ${PROJECT_SOURCE_DIR}/tests/engine/model/corrupt_corpus.cc)
target_link_libraries(gguf_fuzz_seeds PRIVATE tlm_gguf tlm_synthetic)

set_target_properties(gguf_fuzz gguf_fuzz_seeds PROPERTIES
                      RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/fuzz)
