# Cross-compiles for 64-bit Arm Linux with Debian's g++-aarch64-linux-gnu. Used with
# -DTLM_KERNELS_ONLY=ON (see scripts/test-aarch64): executables are linked statically, so
# qemu-aarch64 (qemu-user) runs them on x86-64 without an arm64 sysroot; CMake runs them through
# it (gtest discovery, ctest).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Libraries and headers only from the cross sysroot; build tools from the host.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

# QEMU_CPU in the environment picks the emulated CPU (e.g. max: dotprod; cortex-a53: ARMv8.0).
find_program(TLM_QEMU_AARCH64 qemu-aarch64)
if(TLM_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${TLM_QEMU_AARCH64})
endif()
