// Real agent and controller processes for farm tests: starts `tlmbench agent` on a free loopback
// port, runs `tlmbench sweep`, kills either with a signal, and reads the dataset with plain SQL.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace tlm::testing {

// The tlmbench binary of this build.
std::string TlmbenchBinary();

// A fresh temporary folder, removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A child process with its stdout and stderr captured to files.
class Process {
 public:
  Process() = default;
  ~Process();
  Process(Process&&) = delete;
  // Starts argv (argv[0] a path); output to log_prefix.out / .err.
  bool Start(const std::vector<std::string>& argv, const std::string& log_prefix);
  void Signal(int sig);
  // Waits for exit; returns the exit code, or 128 + signal. -1 on timeout (the process is killed).
  int Wait(std::chrono::seconds timeout = std::chrono::seconds(120));
  bool running();
  pid_t pid() const { return pid_; }
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
  std::string log_prefix_;
};

// `tlmbench agent --listen 127.0.0.1:0` with a name and extra flags; Start() waits until it serves.
class AgentProcess {
 public:
  bool Start(const std::string& name, const std::string& models_dir, const std::string& work_dir,
             const std::vector<std::string>& extra = {});
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  Process& process() { return process_; }

 private:
  Process process_;
  int port_ = 0;
};

// Runs a command to completion, returning its exit code and output.
struct CommandResult {
  int code = -1;
  std::string out, err;
};
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& log_prefix,
                         std::chrono::seconds timeout = std::chrono::seconds(300));

// One value of a single-row, single-column query, as text ("" when no row).
std::string QueryOne(const std::string& db_path, const std::string& sql);
// All rows of a query, each row's columns joined by '|'.
std::vector<std::string> QueryRows(const std::string& db_path, const std::string& sql);

// Writes a file.
void WriteFile(const std::string& path, const std::string& text);

// Waits until pred() or the timeout; returns pred().
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    ::usleep(20000);
  }
  return pred();
}

}  // namespace tlm::testing
