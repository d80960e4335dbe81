// SHA-256 of a byte range (OpenSSL's EVP), as lower-case hex: identifies models in results.
#pragma once

#include <cstddef>
#include <string>

namespace tlm {

std::string Sha256Hex(const void* data, size_t size);

}  // namespace tlm
