// Built only where CMake found no OpenCL: fails, naming the packages, rather than skipping.
#include <gtest/gtest.h>

TEST(OpenClBackendTest, OpenClIsInstalled) {
  FAIL() << "the opencl backend was not built: OpenCL headers and ICD loader missing (Debian: ocl-icd-opencl-dev "
            "opencl-headers pocl-opencl-icd; scripts/setup installs them)";
}
