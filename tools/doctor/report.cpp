#include "report.h"

#include <fmt/format.h>

#include <algorithm>

namespace venus::doctor {

namespace {

constexpr size_t kWidth = 112;
constexpr size_t kNameWidth = 18;
constexpr size_t kIndent = 2 + 5 + 1 + kNameWidth + 1;

// Word-wraps `text` to kWidth, the first line after `first_col` characters, the rest indented.
std::string wrap(const std::string& text, size_t first_col, size_t indent) {
    std::string out;
    size_t col = first_col;
    size_t i = 0;
    bool line_start = true;
    while (i < text.size()) {
        size_t j = text.find(' ', i);
        if (j == std::string::npos) j = text.size();
        const std::string word = text.substr(i, j - i);
        if (!line_start && col + 1 + word.size() > kWidth) {
            out += '\n';
            out.append(indent, ' ');
            col = indent;
            line_start = true;
        }
        if (!line_start) {
            out += ' ';
            ++col;
        }
        out += word;
        col += word.size();
        line_start = false;
        i = j + 1;
    }
    return out;
}

void section(std::string& out, const Report& r, const std::string& name, bool verbose) {
    bool any = false;
    for (const Check& c : r.checks) {
        if (c.section != name || (c.verbose_only && !verbose)) continue;
        if (!any) out += fmt::format("\n{}\n", name);
        any = true;
        std::string head = fmt::format("  {:<5} {:<{}} ", status_name(c.status), c.name, kNameWidth);
        if (c.name.size() > kNameWidth) head += fmt::format("\n{:{}}", "", kIndent);
        out += head + wrap(c.message, kIndent, kIndent) + "\n";
        for (const std::string& d : c.details) out += fmt::format("{:{}}{}\n", "", kIndent, wrap(d, kIndent, kIndent + 2));
    }
}

}  // namespace

const char* status_name(Status s) {
    switch (s) {
    case Status::Ok: return "OK";
    case Status::Warn: return "WARN";
    case Status::Fail: return "FAIL";
    }
    return "?";
}

Check& Report::add(std::string section, std::string name, Status status, std::string message,
                   std::vector<std::string> details) {
    checks.push_back(Check{std::move(section), std::move(name), status, std::move(message), std::move(details)});
    return checks.back();
}

void Report::find(std::string id, Status status, std::string cause, std::string fix) {
    findings.push_back(Finding{std::move(id), status, std::move(cause), std::move(fix)});
}

bool Report::has_finding(const std::string& id) const {
    return std::any_of(findings.begin(), findings.end(), [&](const Finding& f) { return f.id == id; });
}

size_t Report::count(Status s) const {
    return static_cast<size_t>(std::count_if(checks.begin(), checks.end(), [&](const Check& c) { return c.status == s; }) +
                               std::count_if(findings.begin(), findings.end(), [&](const Finding& f) { return f.status == s; }));
}

std::string render_table(const Report& r, bool verbose) {
    std::string out;
    for (const char* name : {"HOST", "MEMORY", "SERVER", "VM"}) section(out, r, name, verbose);
    out += "\nDIAGNOSIS\n";
    if (r.findings.empty())
        out += fmt::format("  {:<5} {}\n", "OK",
                           wrap("none of the known causes of the seed failure (guest vkCreateInstance -> "
                                "VK_ERROR_OUT_OF_HOST_MEMORY) applies",
                                8, 8));
    for (const Finding& f : r.findings) {
        out += fmt::format("  {:<5} {}\n", status_name(f.status), f.id);
        out += fmt::format("        cause: {}\n", wrap(f.cause, 15, 15));
        out += fmt::format("        fix:   {}\n", wrap(f.fix, 15, 15));
    }
    const size_t fails = r.count(Status::Fail), warns = r.count(Status::Warn);
    const char* verdict = fails   ? "NOT healthy: a guest will fail here"
                          : warns ? "healthy, with warnings (see DIAGNOSIS)"
                                  : "healthy: everything a guest needs works";
    out += fmt::format("\nRESULT: {} ({} FAIL, {} WARN; exit {})\n", verdict, fails, warns, r.exit_code());
    return out;
}

nlohmann::ordered_json render_json(const Report& r) {
    nlohmann::ordered_json j;
    j["tool"] = "venus-doctor";
    j["healthy"] = r.exit_code() == 0;
    j["exit_code"] = r.exit_code();
    j["counts"] = {{"ok", r.count(Status::Ok)}, {"warn", r.count(Status::Warn)}, {"fail", r.count(Status::Fail)}};
    j["host"] = r.host;
    j["server"] = r.server;
    j["checks"] = nlohmann::ordered_json::array();
    for (const Check& c : r.checks)
        j["checks"].push_back({{"section", c.section},
                               {"name", c.name},
                               {"status", status_name(c.status)},
                               {"message", c.message},
                               {"details", c.details}});
    j["diagnosis"] = nlohmann::ordered_json::array();
    for (const Finding& f : r.findings)
        j["diagnosis"].push_back({{"id", f.id}, {"status", status_name(f.status)}, {"cause", f.cause}, {"fix", f.fix}});
    return j;
}

}  // namespace venus::doctor
