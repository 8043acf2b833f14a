// Runs venus-server as a child process on a private socket for the duration of a test.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace venus::test {

// Polls `read()` until it contains `needle` or `timeout_ms` pass.
bool wait_for_text(const std::function<std::string()>& read, const std::string& needle, int timeout_ms);

class ServerProcess {
public:
    // Starts `binary` (default: the venus-server of this build) listening on a fresh socket in a
    // temporary directory, with extra arguments and environment variables; waits until it accepts.
    explicit ServerProcess(std::vector<std::string> args = {}, std::map<std::string, std::string> env = {});
    ~ServerProcess();
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    const std::string& socket_path() const { return socket_path_; }
    const std::string& log_path() const { return log_path_; }
    std::string log() const;          // everything the server printed so far
    // Whether `needle` shows up in the log within `timeout_ms` (lines written after a reply).
    bool wait_log(const std::string& needle, int timeout_ms = 10000) const;
    bool running();
    int stop();                       // SIGTERM, wait; returns the exit status (or -signal)
    pid_t pid() const { return pid_; }

private:
    std::string dir_;
    std::string socket_path_;
    std::string log_path_;
    pid_t pid_ = -1;
};

std::string server_binary();

}  // namespace venus::test
