#pragma once
// Runs a shell command and collects what it printed, for the tests that run example programs.

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace corio::test {

/// What a command did: its exit status (-1 if it did not exit normally or could not start)
/// and its stdout and stderr, merged.
struct command_outcome {
    int status = -1;
    std::string output;
};

/// Runs `command` through the shell with stderr merged into stdout.
inline command_outcome run_command(const std::string& command) {
    command_outcome out;
    const std::string cmd = command + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p)
        return out;
    std::array<char, 4096> buf;
    while (std::fgets(buf.data(), static_cast<int>(buf.size()), p))
        out.output += buf.data();
    const int st = ::pclose(p);
    out.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

/// The path of example program `name` built beside the running test binary
/// (<build>/examples/<name>).
inline std::filesystem::path example_path(const std::string& name) {
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");
    return self.parent_path().parent_path() / "examples" / name;
}

} // namespace corio::test
