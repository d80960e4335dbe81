// Real processes for farm tests (see farm_fixture.h).
#include "tests/support/farm_fixture.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace tlm::testing {

std::string TlmbenchBinary() { return std::string(TLM_BINARY_DIR) + "/bin/tlmbench"; }

TempDir::TempDir() {
  std::random_device rd;
  path_ =
      std::filesystem::temp_directory_path() / ("tlm-farm-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!std::getenv("TLM_KEEP_TEST_FILES")) std::filesystem::remove_all(path_, ec);
}

Process::~Process() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
  }
}

bool Process::Start(const std::vector<std::string>& argv, const std::string& log_prefix) {
  log_prefix_ = log_prefix;
  pid_ = ::fork();
  if (pid_ < 0) return false;
  if (pid_ == 0) {
    int out = ::open((log_prefix + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open((log_prefix + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return true;
}

void Process::Signal(int sig) {
  if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
}

bool Process::running() {
  if (reaped_) return false;
  pid_t r = ::waitpid(pid_, &status_, WNOHANG);
  if (r == pid_) reaped_ = true;
  return !reaped_;
}

int Process::Wait(std::chrono::seconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() > end) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status_, 0);
      reaped_ = true;
      return -1;
    }
    ::usleep(10000);
  }
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
  return -1;
}

static std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Process::Stdout() const { return Slurp(log_prefix_ + ".out"); }
std::string Process::Stderr() const { return Slurp(log_prefix_ + ".err"); }

bool AgentProcess::Start(const std::string& name, const std::string& models_dir, const std::string& work_dir,
                         const std::vector<std::string>& extra) {
  const std::string port_file = work_dir + "/" + name + ".port";
  std::filesystem::remove(port_file);
  std::vector<std::string> argv = {TlmbenchBinary(), "agent",        "--listen", "127.0.0.1:0", "--port-file",
                                   port_file,        "--models-dir", models_dir, "--name",      name};
  argv.insert(argv.end(), extra.begin(), extra.end());
  if (!process_.Start(argv, work_dir + "/agent-" + name)) return false;
  const bool up = WaitFor(
      [&] {
        std::ifstream in(port_file);
        return (in >> port_) && port_ > 0;
      },
      std::chrono::seconds(30));
  return up && process_.running();
}

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& log_prefix,
                         std::chrono::seconds timeout) {
  Process p;
  CommandResult r;
  if (!p.Start(argv, log_prefix)) return r;
  r.code = p.Wait(timeout);
  r.out = p.Stdout();
  r.err = p.Stderr();
  return r;
}

std::vector<std::string> QueryRows(const std::string& db_path, const std::string& sql) {
  std::vector<std::string> rows;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return rows;
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::string row;
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        if (c) row += "|";
        const unsigned char* t = sqlite3_column_text(st, c);
        row += t ? reinterpret_cast<const char*>(t) : "";
      }
      rows.push_back(row);
    }
  } else {
    rows.push_back(std::string("SQL ERROR: ") + sqlite3_errmsg(db));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rows;
}

std::string QueryOne(const std::string& db_path, const std::string& sql) {
  auto rows = QueryRows(db_path, sql);
  return rows.empty() ? "" : rows.front();
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace tlm::testing
