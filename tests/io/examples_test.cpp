// The io examples (examples/echo_server.cpp, echo_client.cpp, chat_server.cpp, udp_echo.cpp,
// graceful_server.cpp)
// run their --self-test: a scripted session against themselves that exits with 0 when every
// check passed. The binaries are found next to this test's build directory
// (<build>/examples/<name>); a build without examples skips these tests.

#include "support/run_command.hpp"
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace {

using corio::test::example_path;
using outcome = corio::test::command_outcome;

outcome run_self_test(const std::filesystem::path& exe) {
    return corio::test::run_command(exe.string() + " --self-test");
}

void check_example(const std::string& name) {
    const std::filesystem::path exe = example_path(name);
    if (!std::filesystem::exists(exe))
        GTEST_SKIP() << exe << " is not built";
    const outcome r = run_self_test(exe);
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("self-test passed"), std::string::npos) << r.output;
}

TEST(Examples, TheEchoServerEchoesEveryLineOfItsSelfTest) {
    check_example("echo_server");
}

TEST(Examples, TheEchoClientChecksEveryEchoOfItsSelfTest) {
    check_example("echo_client");
}

TEST(Examples, TheChatServerBroadcastsAndDropsItsSlowClient) {
    check_example("chat_server");
}

TEST(Examples, TheUdpEchoAnswersEveryDatagram) {
    check_example("udp_echo");
}

TEST(Examples, TheGracefulServerFinishesInFlightRequestsOnSigtermAndAbortsTheRest) {
    check_example("graceful_server");
}

} // namespace
