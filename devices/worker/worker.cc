// `tlmbench worker`: one run in an isolated process (see worker.h).
#include "devices/worker/worker.h"

#include <unistd.h>

#include <cstdio>

#include "devices/worker/event_pipe.h"
#include "devices/worker/workload.h"

namespace tlm {

int RunWorkerProcess(int event_fd, const std::string& model_path) {
  namespace v1 = tlmbench::v1;
  auto input = ReadAll(STDIN_FILENO);
  v1::RunSpec spec;
  Status write_status;
  auto send = [&](const v1::RunEvent& e) {
    if (write_status.ok()) write_status = WriteFrame(event_fd, e);
  };
  auto fail = [&](const Status& st) {
    v1::RunEvent e;
    e.set_run_id(spec.run_id());
    v1::RunError* err = e.mutable_error();
    const bool bad_input = st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kNotFound ||
                           st.code() == StatusCode::kDataLoss || st.code() == StatusCode::kUnimplemented ||
                           st.code() == StatusCode::kUnavailable;
    err->set_status(bad_input ? v1::REFUSED : v1::FAILED);
    err->set_message(st.message());
    err->set_retryable(!bad_input);
    send(e);
    std::fprintf(stderr, "worker: %s\n", st.message().c_str());
    return 1;
  };
  if (!input.ok()) return fail(input.status());
  if (!spec.ParseFromString(*input)) return fail(DataLoss("the run spec on stdin does not parse"));

  auto result = RunWorkload(spec, model_path, send);
  if (!result.ok()) return fail(result.status());
  v1::RunEvent e;
  e.set_run_id(spec.run_id());
  *e.mutable_result() = std::move(*result);
  send(e);
  if (!write_status.ok()) {
    std::fprintf(stderr, "worker: %s\n", write_status.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace tlm
