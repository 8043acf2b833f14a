#include "server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "transport/socket.h"

namespace venus::test {

std::string server_binary() {
    if (const char* env = std::getenv("VENUS_SERVER")) return env;
    return VENUS_SERVER_PATH;
}

ServerProcess::ServerProcess(std::vector<std::string> args, std::map<std::string, std::string> env) {
    char tmpl[] = "/tmp/venus-test-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    socket_path_ = dir_ + "/vtest.sock";
    log_path_ = dir_ + "/server.log";
    const std::string bin = server_binary();
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        const int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (log >= 0) {
            dup2(log, 1);
            dup2(log, 2);
        }
        for (auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
        std::vector<std::string> argv_s = {bin, "--socket-path", socket_path_};
        argv_s.insert(argv_s.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& s : argv_s) argv.push_back(s.data());
        argv.push_back(nullptr);
        execv(bin.c_str(), argv.data());
        _exit(127);
    }
    // wait until the server accepts connections
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        struct stat st;
        if (stat(socket_path_.c_str(), &st) == 0) return;
        if (!running()) throw std::runtime_error("venus-server exited at start-up:\n" + log());
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("venus-server did not create its socket within 20 s:\n" + log());
}

ServerProcess::~ServerProcess() {
    stop();
    unlink(socket_path_.c_str());
    unlink(log_path_.c_str());
    rmdir(dir_.c_str());
}

std::string ServerProcess::log() const {
    std::ifstream f(log_path_);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool wait_for_text(const std::function<std::string()>& read, const std::string& needle, int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        if (read().find(needle) != std::string::npos) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

bool ServerProcess::wait_log(const std::string& needle, int timeout_ms) const {
    return wait_for_text([this] { return log(); }, needle, timeout_ms);
}

bool ServerProcess::running() {
    if (pid_ <= 0) return false;
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

int ServerProcess::stop() {
    if (pid_ <= 0) return 0;
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 1000; ++i) {
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return -SIGKILL;
}

}  // namespace venus::test
