// Length-prefixed protobuf messages over a pipe: how an agent and its worker process talk. Each
// frame is a 4-byte little-endian length followed by that many bytes of a serialized message.
#pragma once

#include <chrono>
#include <string>

#include <google/protobuf/message_lite.h>

#include "engine/common/status.h"

namespace tlm {

// Writes one frame, retrying short writes and EINTR.
Status WriteFrame(int fd, const google::protobuf::MessageLite& message);

// Reads one frame into *message. Returns NotFound at a clean end of stream (no bytes), DataLoss on
// a torn or oversized frame or a message that does not parse.
Status ReadFrame(int fd, google::protobuf::MessageLite* message);

// Reads everything up to end of stream (the worker's spec on stdin).
StatusOr<std::string> ReadAll(int fd);

}  // namespace tlm
