// examples/walkthrough: part 3 (the seed's §2.2, three make_request tasks against the embedded
// HTTP server, which runs on a thread of its own) through its --self-test, which checks the
// requests, the headers file and, from the trace data, that the three waits overlap while only
// one task is on the CPU at a time. The binary is found next to this test's build directory
// (<build>/examples/walkthrough); a build without examples skips these tests.

#include "support/run_command.hpp"
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace {

std::filesystem::path walkthrough_path() {
    return corio::test::example_path("walkthrough");
}

using outcome = corio::test::command_outcome;

outcome run(const std::string& args) {
    return corio::test::run_command(walkthrough_path().string() + " " + args);
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
