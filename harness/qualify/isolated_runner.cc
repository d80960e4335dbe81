// Fork-and-wait with a deadline: the worker's crash, hang or early exit becomes a described failure.
#include "harness/qualify/isolated_runner.h"

#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>

#include <fmt/format.h>

namespace tlm {

namespace {

void WriteAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = write(fd, s.data() + done, s.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    done += static_cast<size_t>(n);
  }
}

}  // namespace

IsolatedOutcome RunIsolated(const std::function<std::string()>& body, double timeout_s) {
  IsolatedOutcome out;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  int fds[2];
  if (pipe(fds) != 0) {
    out.failure = fmt::format("cannot create a pipe: {}", strerror(errno));
    return out;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    out.failure = fmt::format("cannot fork a worker: {}", strerror(errno));
    return out;
  }
  if (pid == 0) {
    close(fds[0]);
    // The check dies with its parent (a qualify worker whose agent was killed): a hung plugin left behind
    // would otherwise hold the device.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    std::string report;
    try {
      report = body();
    } catch (const std::exception& e) {
      report = fmt::format("FAIL\nthe check threw: {}\n", e.what());
    }
    WriteAll(fds[1], report);
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  bool timed_out = false;
  for (;;) {
    const double left = timeout_s - elapsed();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int r = poll(&p, 1, static_cast<int>(left * 1000) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;  // the loop re-checks the deadline
    char buf[4096];
    const ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the worker closed its end (finished or died)
    out.report.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  out.seconds = elapsed();
  if (timed_out) {
    out.failure = fmt::format("hung: no result after {:.0f} s, worker killed", timeout_s);
  } else if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* abbrev = sigabbrev_np(sig);
    out.failure = fmt::format("crashed with signal {} (SIG{}: {})", sig, abbrev != nullptr ? abbrev : "?",
                              strsignal(sig));
  } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    out.failure = fmt::format("worker exited with status {} before reporting", WEXITSTATUS(status));
  } else if (out.report.empty()) {
    out.failure = "worker exited without a report";
  } else {
    out.finished = true;
  }
  return out;
}

}  // namespace tlm
