// Frames of length-prefixed protobuf messages over pipes (see event_pipe.h).
#include "devices/worker/event_pipe.h"

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace tlm {
namespace {

constexpr uint32_t kMaxFrameBytes = 64u << 20;

Status WriteExactly(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Internal("write to pipe: {}", std::strerror(errno));
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Reads exactly size bytes; *got says how many arrived before end of stream.
Status ReadExactly(int fd, char* data, size_t size, size_t* got) {
  *got = 0;
  while (*got < size) {
    ssize_t n = ::read(fd, data + *got, size - *got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Internal("read from pipe: {}", std::strerror(errno));
    if (n == 0) break;
    *got += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

Status WriteFrame(int fd, const google::protobuf::MessageLite& message) {
  std::string body;
  if (!message.SerializeToString(&body)) return Internal("cannot serialize {}", message.GetTypeName());
  const uint32_t n = static_cast<uint32_t>(body.size());
  const char header[4] = {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
                          static_cast<char>((n >> 16) & 0xff), static_cast<char>((n >> 24) & 0xff)};
  std::string frame(header, 4);
  frame += body;
  return WriteExactly(fd, frame.data(), frame.size());
}

Status ReadFrame(int fd, google::protobuf::MessageLite* message) {
  unsigned char header[4];
  size_t got = 0;
  if (Status st = ReadExactly(fd, reinterpret_cast<char*>(header), 4, &got); !st.ok()) return st;
  if (got == 0) return NotFound("end of stream");
  if (got < 4) return DataLoss("torn frame header ({} of 4 bytes)", got);
  const uint32_t n = header[0] | (header[1] << 8) | (header[2] << 16) | (static_cast<uint32_t>(header[3]) << 24);
  if (n > kMaxFrameBytes) return DataLoss("frame of {} bytes exceeds the limit of {}", n, kMaxFrameBytes);
  std::string body(n, '\0');
  if (Status st = ReadExactly(fd, body.data(), n, &got); !st.ok()) return st;
  if (got < n) return DataLoss("torn frame ({} of {} bytes)", got, n);
  if (!message->ParseFromString(body)) return DataLoss("frame does not parse as {}", message->GetTypeName());
  return Status::Ok();
}

StatusOr<std::string> ReadAll(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Internal("read: {}", std::strerror(errno));
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace tlm
