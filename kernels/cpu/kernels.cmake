# Included from kernels/CMakeLists.txt: the CPU kernel dispatch table (tlm_cpu_kernels) with the
# AVX2+FMA+F16C kernels (and the AVX-512 VNNI ones) on x86-64 and the NEON (and NEON dotprod)
# kernels on aarch64, and the kernel benchmark (bench_cpu_kernels).
set(TLM_CPU_KERNELS_DIR ${CMAKE_CURRENT_LIST_DIR})

add_library(tlm_cpu_kernels STATIC ${TLM_CPU_KERNELS_DIR}/dispatch.cc ${TLM_CPU_KERNELS_DIR}/huge_pages.cc)
target_link_libraries(tlm_cpu_kernels PUBLIC tlm_cpu_ref)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  file(GLOB TLM_CPU_X86_SOURCES CONFIGURE_DEPENDS ${TLM_CPU_KERNELS_DIR}/x86/*.cc)
  # Only these files get the ISA flags: the dispatch table calls them after checking the CPU.
  # -ffp-contract=off: GCC fuses a * b + c into an FMA by default in C++ once -mfma is on, even
  # when written with _mm256_mul_ps and _mm256_add_ps; the dequantizers and the activation
  # quantizer promise the reference's separate roundings. Explicit fma intrinsics still fuse.
  set_source_files_properties(${TLM_CPU_X86_SOURCES} PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c;-ffp-contract=off")
  # *_avx512.cc: AVX-512 (F, BW, VL, VNNI) on top; the dispatch table calls them only after
  # checking those features and that the OS saves the zmm state. AVX-512 code stays in these
  # files (an inline function in a shared header takes the flags of the file including it).
  file(GLOB TLM_CPU_X86_AVX512_SOURCES CONFIGURE_DEPENDS ${TLM_CPU_KERNELS_DIR}/x86/*_avx512.cc)
  foreach(source IN LISTS TLM_CPU_X86_AVX512_SOURCES)
    set_source_files_properties(${source} PROPERTIES COMPILE_OPTIONS
      "-mavx2;-mfma;-mf16c;-mavx512f;-mavx512bw;-mavx512vl;-mavx512vnni;-ffp-contract=off")
  endforeach()
  target_sources(tlm_cpu_kernels PRIVATE ${TLM_CPU_X86_SOURCES})
  target_compile_definitions(tlm_cpu_kernels PRIVATE TLM_CPU_KERNELS_X86=1)
endif()

if(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  file(GLOB TLM_CPU_ARM_SOURCES CONFIGURE_DEPENDS ${TLM_CPU_KERNELS_DIR}/arm/*.cc)
  # The baseline stays ARMv8.0 (NEON is part of it); only the dotprod dot products get the
  # flag, and the dispatch table calls them after checking HWCAP_ASIMDDP.
  set_source_files_properties(${TLM_CPU_KERNELS_DIR}/arm/vec_dot_neon_dotprod.cc
                              PROPERTIES COMPILE_OPTIONS "-march=armv8.2-a+dotprod")
  target_sources(tlm_cpu_kernels PRIVATE ${TLM_CPU_ARM_SOURCES})
  target_compile_definitions(tlm_cpu_kernels PRIVATE TLM_CPU_KERNELS_ARM=1)
  # GCC fuses a * b + c into one rounding by default on aarch64 (every aarch64 CPU has FMA),
  # which would change the reference's results from those of x86-64 and ggml's order, and
  # the bit-identical dequantizers with them. Explicit fma intrinsics still fuse.
  target_compile_options(tlm_cpu_ref PRIVATE -ffp-contract=off)
  target_compile_options(tlm_cpu_kernels PRIVATE -ffp-contract=off)
endif()

if(TARGET benchmark::benchmark)
  add_executable(bench_cpu_kernels ${TLM_CPU_KERNELS_DIR}/bench/cpu_kernels_bench.cc)
  target_link_libraries(bench_cpu_kernels PRIVATE tlm_cpu_kernels benchmark::benchmark)
endif()
