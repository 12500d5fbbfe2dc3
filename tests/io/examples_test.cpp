// The io examples (examples/echo_server.cpp, echo_client.cpp, chat_server.cpp, udp_echo.cpp,
// graceful_server.cpp)
// run their --self-test: a scripted session against themselves that exits with 0 when every
// check passed. The binaries are found next to this test's build directory
// (<build>/examples/<name>); a build without examples skips these tests.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace {

std::filesystem::path example_path(const std::string& name) {
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");
    return self.parent_path().parent_path() / "examples" / name;
}

struct outcome {
    int status = -1;
    std::string output;
};

outcome run_self_test(const std::filesystem::path& exe) {
    outcome out;
    const std::string cmd = exe.string() + " --self-test 2>&1";
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
