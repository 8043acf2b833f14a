// The doctor's verdict: checks per section (OK/WARN/FAIL with a reason), explained causes
// (DIAGNOSIS: one-line cause, one-line fix), the raw facts, and the two renderings.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace venus::doctor {

enum class Status { Ok, Warn, Fail };
const char* status_name(Status s);

struct Check {
    std::string section;  // HOST, MEMORY, SERVER
    std::string name;
    Status status = Status::Ok;
    std::string message;
    std::vector<std::string> details;  // further lines (reasons, decoded fields)
    bool verbose_only = false;         // the table shows it with -v (JSON always)
};

struct Finding {
    std::string id;  // stable: no-fd-export, wire-format-skew, ...
    Status status = Status::Warn;
    std::string cause;
    std::string fix;
};

struct Report {
    std::vector<Check> checks;
    std::vector<Finding> findings;
    nlohmann::ordered_json host = nlohmann::ordered_json::object();
    nlohmann::ordered_json server = nlohmann::ordered_json::object();

    Check& add(std::string section, std::string name, Status status, std::string message,
               std::vector<std::string> details = {});
    void find(std::string id, Status status, std::string cause, std::string fix);
    bool has_finding(const std::string& id) const;
    size_t count(Status s) const;  // checks and findings together
    int exit_code() const { return count(Status::Fail) ? 1 : 0; }
};

std::string render_table(const Report& r, bool verbose);
nlohmann::ordered_json render_json(const Report& r);

}  // namespace venus::doctor
