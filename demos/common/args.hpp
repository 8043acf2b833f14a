// A small command-line parser: "--name value", "--name=value" and boolean "--flag".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vkdemo {

class ArgParser {
 public:
  ArgParser(std::string program, std::string summary);

  void add_string(std::string name, std::string metavar, std::string help, std::string* target);
  void add_uint(std::string name, std::string help, uint32_t* target, uint32_t min_value = 0,
                uint32_t max_value = UINT32_MAX);
  void add_flag(std::string name, std::string help, bool* target);

  // Prints usage and exits 0 on --help; prints the problem and exits 2 on a bad command line.
  void parse(int argc, char** argv) const;

 private:
  enum class Kind { String, Uint, Flag };
  struct Option {
    std::string name;
    std::string metavar;
    std::string help;
    Kind kind;
    void* target;
    uint32_t min_value;
    uint32_t max_value;
  };

  [[noreturn]] void usage_error(const std::string& message) const;
  void print_usage() const;
  const Option* find(const std::string& name) const;
  void assign(const Option& option, const std::string& value) const;

  std::string program_;
  std::string summary_;
  std::vector<Option> options_;
};

}  // namespace vkdemo
