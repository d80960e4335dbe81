# Turns OpenCL C sources into a C++ header (cmake -P): -DOUTPUT=<header> -DSOURCES=<a.cl;b.cl>.
# The program is the sources concatenated in the given order, as one raw string per file.
set(body "// Generated from kernels/opencl/*.cl by embed_cl.cmake; do not edit.\n#pragma once\n\nnamespace tlm::opencl {\ninline constexpr const char* kProgramSources[] = {\n")
foreach(src ${SOURCES})
  file(READ ${src} text)
  get_filename_component(name ${src} NAME)
  string(APPEND body "    // ${name}\n    R\"tlmcl(${text})tlmcl\",\n")
endforeach()
string(APPEND body "};\n}  // namespace tlm::opencl\n")
file(WRITE ${OUTPUT} "${body}")
