#include "args.hpp"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace vkdemo {

ArgParser::ArgParser(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

void ArgParser::add_string(std::string name, std::string metavar, std::string help,
                           std::string* target) {
  options_.push_back({std::move(name), std::move(metavar), std::move(help), Kind::String, target, 0, 0});
}

void ArgParser::add_uint(std::string name, std::string help, uint32_t* target, uint32_t min_value,
                         uint32_t max_value) {
  options_.push_back({std::move(name), "N", std::move(help), Kind::Uint, target, min_value, max_value});
}

void ArgParser::add_flag(std::string name, std::string help, bool* target) {
  options_.push_back({std::move(name), "", std::move(help), Kind::Flag, target, 0, 0});
}

void ArgParser::print_usage() const {
  std::printf("usage: %s [options]\n%s\n\noptions:\n", program_.c_str(), summary_.c_str());
  for (const Option& option : options_) {
    std::string left = "--" + option.name;
    if (!option.metavar.empty()) left += " " + option.metavar;
    std::printf("  %-22s %s\n", left.c_str(), option.help.c_str());
  }
  std::printf("  %-22s %s\n", "--help", "show this text");
}

void ArgParser::usage_error(const std::string& message) const {
  std::fprintf(stderr, "%s: %s (see --help)\n", program_.c_str(), message.c_str());
  std::exit(2);
}

const ArgParser::Option* ArgParser::find(const std::string& name) const {
  for (const Option& option : options_) {
    if (option.name == name) return &option;
  }
  return nullptr;
}

void ArgParser::assign(const Option& option, const std::string& value) const {
  switch (option.kind) {
    case Kind::String:
      *static_cast<std::string*>(option.target) = value;
      return;
    case Kind::Uint: {
      uint32_t parsed = 0;
      const char* end = value.data() + value.size();
      auto [ptr, ec] = std::from_chars(value.data(), end, parsed);
      if (value.empty() || ec != std::errc() || ptr != end) {
        usage_error("--" + option.name + " needs a non-negative integer, got '" + value + "'");
      }
      if (parsed < option.min_value || parsed > option.max_value) {
        usage_error("--" + option.name + " must be in [" + std::to_string(option.min_value) + ", " +
                    std::to_string(option.max_value) + "], got " + value);
      }
      *static_cast<uint32_t*>(option.target) = parsed;
      return;
    }
    case Kind::Flag:
      *static_cast<bool*>(option.target) = true;
      return;
  }
}

void ArgParser::parse(int argc, char** argv) const {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      print_usage();
      std::exit(0);
    }
    if (arg.rfind("--", 0) != 0) usage_error("unexpected argument '" + arg + "'");
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    const Option* option = find(name);
    if (option == nullptr) usage_error("unknown option '--" + name + "'");
    if (option->kind == Kind::Flag) {
      if (has_value) usage_error("--" + name + " takes no value");
    } else if (!has_value) {
      if (i + 1 >= argc) usage_error("--" + name + " needs a value");
      value = argv[++i];
    }
    assign(*option, value);
  }
}

}  // namespace vkdemo
