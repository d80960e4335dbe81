// Worker child processes (see worker_process.h).
#include "devices/agent/worker_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "devices/worker/event_pipe.h"

extern char** environ;

namespace tlm {
namespace {

constexpr size_t kStderrKeepBytes = 4096;

struct Pipe {
  int read = -1, write = -1;
  ~Pipe() { CloseBoth(); }
  void CloseBoth() {
    if (read >= 0) ::close(read);
    if (write >= 0) ::close(write);
    read = write = -1;
  }
};

Status MakePipe(Pipe* p) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Internal("pipe: {}", std::strerror(errno));
  p->read = fds[0];
  p->write = fds[1];
  return Status::Ok();
}

}  // namespace

std::string DescribeSignal(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  const char* text = strsignal(signal);
  return fmt::format("SIG{} ({})", abbrev ? abbrev : std::to_string(signal).c_str(), text ? text : "unknown");
}

StatusOr<std::unique_ptr<WorkerProcess>> WorkerProcess::Spawn(const std::string& exe,
                                                              const std::vector<std::string>& args,
                                                              const std::string& stdin_data,
                                                              const std::vector<std::string>& extra_env) {
  Pipe in, events, err;
  TLM_RETURN_IF_ERROR(MakePipe(&in));
  TLM_RETURN_IF_ERROR(MakePipe(&events));
  TLM_RETURN_IF_ERROR(MakePipe(&err));

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.read, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err.write, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err.write, STDERR_FILENO);
  posix_spawn_file_actions_adddup2(&actions, events.write, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);

  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  auto proc = std::unique_ptr<WorkerProcess>(new WorkerProcess());
  proc->started_ = Clock::now();
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  for (const std::string& e : extra_env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const int rc = ::posix_spawn(&proc->pid_, exe.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Internal("cannot start the worker {}: {}", exe, std::strerror(rc));

  ::close(in.read);
  in.read = -1;
  ::close(events.write);
  events.write = -1;
  ::close(err.write);
  err.write = -1;
  // The spec is small; a worker that dies before reading it gives EPIPE, which the outcome explains.
  ::signal(SIGPIPE, SIG_IGN);
  const char* p = stdin_data.data();
  size_t left = stdin_data.size();
  while (left > 0) {
    ssize_t n = ::write(in.write, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
  in.CloseBoth();
  const int event_fd = events.read, err_fd = err.read;
  events.read = err.read = -1;
  proc->event_thread_ = std::thread([raw = proc.get(), event_fd] { raw->ReadEvents(event_fd); });
  proc->stderr_thread_ = std::thread([raw = proc.get(), err_fd] { raw->ReadStderr(err_fd); });
  return proc;
}

void WorkerProcess::ReadEvents(int fd) {
  for (;;) {
    tlmbench::v1::RunEvent e;
    if (!ReadFrame(fd, &e).ok()) break;
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(e));
    cv_.notify_all();
  }
  ::close(fd);
  std::lock_guard<std::mutex> lock(mu_);
  events_done_ = true;
  cv_.notify_all();
}

void WorkerProcess::ReadStderr(int fd) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::lock_guard<std::mutex> lock(mu_);
    stderr_.append(buf, static_cast<size_t>(n));
    if (stderr_.size() > 2 * kStderrKeepBytes) stderr_.erase(0, stderr_.size() - kStderrKeepBytes);
  }
  ::close(fd);
}

WorkerProcess::Next WorkerProcess::NextEvent(tlmbench::v1::RunEvent* event, Clock::time_point until) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, until, [&] { return !events_.empty() || events_done_; });
  if (!events_.empty()) {
    *event = std::move(events_.front());
    events_.pop_front();
    return Next::kEvent;
  }
  return events_done_ ? Next::kEnd : Next::kTimeout;
}

void WorkerProcess::Kill() {
  if (pid_ > 0 && !reaped_) ::kill(-pid_, SIGKILL);
}

WorkerOutcome WorkerProcess::Reap() {
  if (reaped_) return outcome_;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  // Grandchildren, if any, go with the group.
  ::kill(-pid_, SIGKILL);
  if (event_thread_.joinable()) event_thread_.join();
  if (stderr_thread_.joinable()) stderr_thread_.join();
  outcome_.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - started_).count();
  if (WIFEXITED(status)) {
    outcome_.exited = true;
    outcome_.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    outcome_.signal = WTERMSIG(status);
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::string tail = stderr_.size() > kStderrKeepBytes ? stderr_.substr(stderr_.size() - kStderrKeepBytes) : stderr_;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
  outcome_.stderr_tail = std::move(tail);
  return outcome_;
}

WorkerProcess::~WorkerProcess() {
  if (!reaped_ && pid_ > 0) {
    Kill();
    Reap();
  }
}

}  // namespace tlm
