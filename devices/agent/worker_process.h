// Runs `tlmbench worker` as a child process in a process group of its own, feeds it the spec on
// stdin, and hands its RunEvent frames to the agent as they arrive. Kill() ends the whole group.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/common/status.h"
#include "tlmbench/v1/agent.pb.h"

namespace tlm {

struct WorkerOutcome {
  bool exited = false;  // exited normally (exit_code valid); else killed by signal
  int exit_code = 0;
  int signal = 0;
  std::string stderr_tail;  // the last lines the worker wrote to stderr
  double wall_ms = 0;
};

class WorkerProcess {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Next { kEvent, kEnd, kTimeout };

  // Starts exe with args (argv[0] is exe), stdin_data on its stdin, events read from its fd 3.
  // extra_env ("NAME=value") is added to this process's environment for the worker.
  static StatusOr<std::unique_ptr<WorkerProcess>> Spawn(const std::string& exe, const std::vector<std::string>& args,
                                                        const std::string& stdin_data,
                                                        const std::vector<std::string>& extra_env = {});
  ~WorkerProcess();  // kills a worker still running and reaps it
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  // Waits until the next event, the end of the event stream, or `until`.
  Next NextEvent(tlmbench::v1::RunEvent* event, Clock::time_point until);
  // SIGKILL to the worker's process group.
  void Kill();
  // Waits for the worker to exit (after the event stream ended or Kill()).
  WorkerOutcome Reap();
  pid_t pid() const { return pid_; }

 private:
  WorkerProcess() = default;
  void ReadEvents(int fd);
  void ReadStderr(int fd);

  pid_t pid_ = -1;
  bool reaped_ = false;
  Clock::time_point started_;
  std::thread event_thread_, stderr_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<tlmbench::v1::RunEvent> events_;
  bool events_done_ = false;
  std::string stderr_;
  WorkerOutcome outcome_;
};

// "SIGSEGV (Segmentation fault)".
std::string DescribeSignal(int signal);

}  // namespace tlm
