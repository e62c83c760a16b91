#pragma once
// A child process with its stdout and stderr captured line by line, for tests that need a real process
// (signals, exit codes). The destructor SIGKILLs the child by pid if it is still running.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace pimap::kit::test {

class ChildProcess {
 public:
  // `env` entries ("NAME=value") are added to the test's own environment.
  ChildProcess(const std::string& path, const std::vector<std::string>& args,
               const std::vector<std::string>& env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int signo) const;

  // Exit code (128 + signal number when killed by a signal), or nullopt if still running at `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  // The first stderr line (so far or arriving before `timeout`) satisfying `pred`.
  std::optional<std::string> wait_for_stderr(const std::function<bool(const std::string&)>& pred,
                                             std::chrono::milliseconds timeout);
  std::vector<std::string> stderr_lines() const;
  std::string stdout_text() const;  // complete once the process has exited and its pipe is drained

 private:
  void read_pipe(int fd, bool is_stderr);
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> stderr_lines_;
  std::string stdout_;
  std::thread out_reader_, err_reader_;
};

}  // namespace pimap::kit::test
