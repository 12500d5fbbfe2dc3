// examples/walkthrough: part 3 (the seed's §2.2, three make_request tasks against the embedded
// HTTP server, which runs on a thread of its own) through its --self-test, which checks the
// requests, the headers file and, from the trace data, that the three waits overlap while only
// one task is on the CPU at a time. The binary is found next to this test's build directory
// (<build>/examples/walkthrough); a build without examples skips these tests.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace {

std::filesystem::path walkthrough_path() {
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");
    return self.parent_path().parent_path() / "examples" / "walkthrough";
}

struct outcome {
    int status = -1;
    std::string output;
};

outcome run(const std::string& args) {
    outcome out;
    const std::string cmd = walkthrough_path().string() + " " + args + " 2>&1";
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

TEST(Walkthrough, SelfTestOverlapsTheWaitsOfThreeRequestsToAServerOnItsOwnThread) {
    if (!std::filesystem::exists(walkthrough_path()))
        GTEST_SKIP() << walkthrough_path() << " is not built";
    const outcome r = run("--self-test");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("self-test passed"), std::string::npos) << r.output;
    // The timeline has one row per make_request task and nothing else.
    for (const char* row : {"make_request(1) |", "make_request(2) |", "make_request(3) |"})
        EXPECT_NE(r.output.find(row), std::string::npos) << row << "\n" << r.output;
    EXPECT_EQ(r.output.find("embedded-server |"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("all three were waiting at once"), std::string::npos) << r.output;
}

TEST(Walkthrough, BadArgumentsExitWithTwoAndSayWhy) {
    if (!std::filesystem::exists(walkthrough_path()))
        GTEST_SKIP() << walkthrough_path() << " is not built";
    const outcome part = run("--part 4");
    EXPECT_EQ(part.status, 2);
    EXPECT_NE(part.output.find("--part wants 1, 2 or 3"), std::string::npos) << part.output;
    const outcome url = run("--url ftp://example.com/");
    EXPECT_EQ(url.status, 2);
    EXPECT_NE(url.output.find("--url"), std::string::npos) << url.output;
    const outcome delay = run("--delay -1");
    EXPECT_EQ(delay.status, 2);
    EXPECT_NE(delay.output.find("--delay wants a number"), std::string::npos) << delay.output;
}

} // namespace
