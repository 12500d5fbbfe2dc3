// Child processes: spawning, pipes, exit statuses, signals, reaping (no zombie, no fd left),
// communicate on large outputs, and cancellation of every await.

#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/gather.hpp"
#include "corio/io/stream_reader.hpp"
#include "corio/io/stream_writer.hpp"
#include "corio/process/process.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"
#include "corio/time/timeout.hpp"

#include "process/child_reaper.hpp"
#include "process/process_helpers.hpp"
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <system_error>
#include <vector>

namespace {

using corio::cancelled_error;
using corio::communicate_result;
using corio::create_subprocess_exec;
using corio::create_subprocess_shell;
using corio::process;
using corio::stdio;
using corio::subprocess_options;
using corio::task;
using corio::test::reaped_within;
using corio::test::run_real;
using namespace std::chrono_literals;

subprocess_options pipes(bool in, bool out, bool err) {
    subprocess_options o;
    o.std_in = in ? stdio::pipe : stdio::inherit;
    o.std_out = out ? stdio::pipe : stdio::inherit;
    o.std_err = err ? stdio::pipe : stdio::inherit;
    return o;
}

/// Yields to the loop until `h` is parked (or 200 rounds passed).
template <typename H>
task<void> until_parked(const H& h) {
    for (int i = 0; i < 200 && !h.done(); ++i)
        co_await corio::sleep(1ms);
}

/// Cancels `h` (which must still wait) and returns true if it ended with cancelled_error.
template <typename H>
task<bool> cancel_and_check(H& h) {
    co_await corio::sleep(20ms);
    EXPECT_FALSE(h.done()) << "the operation did not wait";
    h.cancel();
    try {
        co_await h;
    } catch (const cancelled_error&) {
        co_return true;
    }
    co_return false;
}

class Process : public corio::test::ProcessTest {};

TEST_F(Process, ExecCapturesTheChildsStdoutAndExitStatus) {
    auto r = run_real([]() -> task<communicate_result> {
        process p = create_subprocess_exec("echo", {"hello", "world"}, pipes(false, true, false));
        EXPECT_GT(p.pid(), 0);
        EXPECT_FALSE(p.returncode().has_value());
        co_return co_await p.communicate();
    }());
    EXPECT_EQ(r.std_out, "hello world\n");
    EXPECT_EQ(r.std_err, "");
    EXPECT_EQ(r.returncode, 0);
}

TEST_F(Process, ShellReportsTheExitCode) {
    const int rc = run_real([]() -> task<int> {
        process p = create_subprocess_shell("exit 3");
        const int rc = co_await p.wait();
        EXPECT_EQ(p.returncode(), 3);
        co_return rc;
    }());
    EXPECT_EQ(rc, 3);
}

TEST_F(Process, AChildKilledBySigkillReportsMinusSigkill) {
    const int rc = run_real([]() -> task<int> {
        process p = create_subprocess_exec("sleep", {"100"});
        p.kill();
        co_return co_await p.wait();
    }());
    EXPECT_EQ(rc, -SIGKILL);
}

TEST_F(Process, TerminateReportsMinusSigterm) {
    const int rc = run_real([]() -> task<int> {
        process p = create_subprocess_exec("sleep", {"100"});
        p.terminate();
        co_return co_await p.wait();
    }());
    EXPECT_EQ(rc, -SIGTERM);
}

TEST_F(Process, SendSignalAfterTheChildWasReapedDoesNothing) {
    const int rc = run_real([]() -> task<int> {
        process p = create_subprocess_exec("true", {});
        const int rc = co_await p.wait();
        p.send_signal(SIGKILL); // its pid may belong to another process by now: never signalled
        EXPECT_EQ(p.returncode(), 0);
        co_return rc;
    }());
    EXPECT_EQ(rc, 0);
}

TEST_F(Process, AFailedExecThrowsTheErrnoNamingTheProgram) {
    run_real([]() -> task<void> {
        try {
            process p = create_subprocess_exec("/nonexistent/corio-no-such-program", {"x"});
            ADD_FAILURE() << "spawned";
        } catch (const std::system_error& e) {
            EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
            EXPECT_NE(std::string(e.what()).find("/nonexistent/corio-no-such-program"),
                      std::string::npos)
                << e.what();
        }
        try {
            process p = create_subprocess_exec("corio-no-such-program-in-path", {});
            ADD_FAILURE() << "spawned";
        } catch (const std::system_error& e) {
            EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
        }
        co_return;
    }());
}

TEST_F(Process, AnExecOfADirectoryThrowsPermissionDenied) {
    run_real([]() -> task<void> {
        EXPECT_THROW((void)create_subprocess_exec("/tmp", {}), std::system_error);
        co_return;
    }());
}

TEST_F(Process, StdinPipeFeedsTheChild) {
    auto r = run_real([]() -> task<communicate_result> {
        process p = create_subprocess_exec("cat", {}, pipes(true, true, false));
        co_await p.std_in().write("line one\nline two\n");
        p.std_in().close();
        std::vector<std::string> lines;
        while (auto line = co_await p.std_out().next_line())
            lines.push_back(*line);
        EXPECT_EQ(lines, (std::vector<std::string>{"line one\n", "line two\n"}));
        const int rc = co_await p.wait();
        co_return communicate_result{"", "", rc};
    }());
    EXPECT_EQ(r.returncode, 0);
}

TEST_F(Process, StderrCanGoToStdout) {
    auto r = run_real([]() -> task<communicate_result> {
        subprocess_options o;
        o.std_out = stdio::pipe;
        o.std_err = stdio::to_stdout;
        process p = create_subprocess_shell("echo out; echo err >&2", o);
        EXPECT_FALSE(p.std_err());
        co_return co_await p.communicate();
    }());
    EXPECT_EQ(r.std_out, "out\nerr\n");
    EXPECT_EQ(r.std_err, "");
}

TEST_F(Process, DevnullGivesTheEndOfInputAndSwallowsOutput) {
    auto r = run_real([]() -> task<communicate_result> {
        subprocess_options o;
        o.std_in = stdio::devnull;
        o.std_out = stdio::pipe;
        o.std_err = stdio::devnull;
        process p = create_subprocess_shell("cat; echo gone >&2; echo done", o);
        co_return co_await p.communicate();
    }());
    EXPECT_EQ(r.std_out, "done\n");
    EXPECT_EQ(r.returncode, 0);
}

TEST_F(Process, EnvironmentAndWorkingDirectoryAreTheOptions) {
    auto r = run_real([]() -> task<communicate_result> {
        subprocess_options o = pipes(false, true, false);
        o.env = std::vector<std::string>{"CORIO_TEST_VALUE=42"};
        o.cwd = "/";
        process p = create_subprocess_exec("/bin/sh", {"-c", "echo $CORIO_TEST_VALUE; pwd"}, o);
        co_return co_await p.communicate();
    }());
    EXPECT_EQ(r.std_out, "42\n/\n");
}

TEST_F(Process, TheChildGetsNoOtherFdOfTheParent) {
    // A pipe without O_CLOEXEC, as a careless library would open it.
    int leak[2];
    ASSERT_EQ(::pipe(leak), 0);
    auto r = run_real([]() -> task<communicate_result> {
        process p = create_subprocess_shell("ls /proc/self/fd", pipes(false, true, false));
        co_return co_await p.communicate();
    }());
    ::close(leak[0]);
    ::close(leak[1]);
    // 0, 1, 2 and the directory ls reads.
    std::size_t n = 0;
    for (char c : r.std_out)
        n += c == '\n';
    EXPECT_LE(n, 4u) << r.std_out;
}

TEST_F(Process, TheChildStartsWithDefaultSigpipeAndAnEmptyMask) {
    // SIGPIPE is ignored in this process once a write pipe exists; the child must not inherit
    // that, nor a blocked mask.
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &block, &old), 0);
    auto r = run_real([]() -> task<communicate_result> {
        process p = create_subprocess_shell("grep -E '^(SigBlk|SigIgn)' /proc/self/status",
                                            pipes(true, true, false));
        co_return co_await p.communicate();
    }());
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    EXPECT_NE(r.std_out.find("SigBlk:\t0000000000000000"), std::string::npos) << r.std_out;
    // SIGPIPE is signal 13: bit 12 of SigIgn (0x1000) must be clear.
    const auto pos = r.std_out.find("SigIgn:\t");
    ASSERT_NE(pos, std::string::npos);
    const unsigned long long ign = std::stoull(r.std_out.substr(pos + 8, 16), nullptr, 16);
    EXPECT_EQ(ign & (1ull << (SIGPIPE - 1)), 0u) << r.std_out;
}

/// Checks that `s` is `size` bytes of `line` repeated (the last copy possibly cut).
void expect_repeated(const std::string& s, std::size_t size, const std::string& line) {
    ASSERT_EQ(s.size(), size);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < s.size(); ++i)
        bad += s[i] != line[i % line.size()];
    EXPECT_EQ(bad, 0u);
}

TEST_F(Process, CommunicateReads100MbOnStdoutAndStderrAtOnceWithoutDeadlock) {
    constexpr std::size_t size = 100'000'000;
    auto r = run_real([]() -> task<communicate_result> {
        // Both outputs written at the same time: reading one to its end before the other would
        // leave the child blocked on the full pipe of the other.
        process p = create_subprocess_shell(
            "(yes abcdefghi | head -c 100000000) & (yes 012345678 | head -c 100000000 >&2); wait",
            pipes(false, true, true));
        co_return co_await p.communicate();
    }());
    EXPECT_EQ(r.returncode, 0);
    expect_repeated(r.std_out, size, "abcdefghi\n");
    expect_repeated(r.std_err, size, "012345678\n");
}

TEST_F(Process, CommunicateWritesInputWhileReadingOutput) {
    // 8 MiB through cat: far more than a pipe holds, so input and output must flow together.
    std::string input;
    for (int i = 0; input.size() < (8u << 20); ++i)
        input += "row " + std::to_string(i) + "\n";
    auto r = run_real([](std::string input) -> task<communicate_result> {
        process p = create_subprocess_exec("cat", {}, pipes(true, true, true));
        auto c = p.communicate(std::move(input));
        co_return co_await c;
    }(input));
    EXPECT_EQ(r.returncode, 0);
    EXPECT_TRUE(r.std_out == input) << r.std_out.size() << " bytes back of " << input.size();
}

TEST_F(Process, CommunicateIgnoresAChildThatDoesNotReadItsInput) {
    auto r = run_real([]() -> task<communicate_result> {
        process p = create_subprocess_shell("exec 0<&-; echo bye", pipes(true, true, false));
        std::string input(4u << 20, 'x');
        auto c = p.communicate(std::move(input));
        co_return co_await c;
    }());
    EXPECT_EQ(r.std_out, "bye\n");
    EXPECT_EQ(r.returncode, 0);
}

TEST_F(Process, AThousandShortLivedChildrenLeaveNoZombieAndNoFd) {
    const int ok = run_real([]() -> task<int> {
        int ok = 0;
        // In batches of 50 running at once.
        for (int batch = 0; batch < 20; ++batch) {
            std::vector<process> ps;
            for (int i = 0; i < 50; ++i)
                ps.push_back(create_subprocess_exec("true", {}, pipes(false, true, false)));
            for (process& p : ps) {
                auto w = p.wait();
                ok += co_await w == 0;
            }
        }
        co_return ok;
    }());
    EXPECT_EQ(ok, 1000);
    // ProcessTest checks the fds and that waitpid(-1) finds no child.
}

TEST_F(Process, ADroppedProcessIsStillReaped) {
    const bool reaped = run_real([]() -> task<bool> {
        int pid;
        {
            process p = create_subprocess_exec("sleep", {"0.05"}, pipes(true, true, false));
            pid = p.pid();
        }
        co_return co_await reaped_within(pid, 5s);
    }());
    EXPECT_TRUE(reaped);
}

TEST_F(Process, ACancelledWaitLeavesTheChildRunningAndItIsStillReaped) {
    const int rc = run_real([]() -> task<int> {
        process p = create_subprocess_exec("cat", {}, pipes(true, false, false));
        auto w = corio::create_task(
            [](const process& p) -> task<int> { co_return co_await p.wait(); }(p));
        const bool cancelled = co_await cancel_and_check(w);
        EXPECT_TRUE(cancelled);
        EXPECT_FALSE(p.returncode().has_value());
        EXPECT_EQ(::kill(p.pid(), 0), 0) << "the child is gone";
        p.std_in().close(); // cat ends
        co_return co_await p.wait();
    }());
    EXPECT_EQ(rc, 0);
}

TEST_F(Process, ACancelledCommunicateWithdrawsItsReadsAndWrite) {
    const int rc = run_real([]() -> task<int> {
        process p = create_subprocess_shell("sleep 100", pipes(true, true, true));
        std::string input(1u << 20, 'x');
        auto c = corio::create_task(p.communicate(std::move(input)));
        const bool cancelled = co_await cancel_and_check(c);
        EXPECT_TRUE(cancelled);
        p.std_in().abort(); // what the cancelled write had buffered is dropped
        p.kill();
        co_return co_await p.wait();
    }());
    EXPECT_EQ(rc, -SIGKILL);
}

TEST_F(Process, ACancelledReadOfAChildsStdoutLosesNothing) {
    auto out = run_real([]() -> task<std::string> {
        process p = create_subprocess_exec("cat", {}, pipes(true, true, false));
        auto r = corio::create_task([](corio::stream_reader r) -> task<std::string> {
            co_return co_await r.readexactly(10);
        }(p.std_out()));
        co_await p.std_in().write("12345");
        const bool cancelled = co_await cancel_and_check(r);
        EXPECT_TRUE(cancelled);
        co_await p.std_in().write("67890");
        p.std_in().close();
        std::string rest = co_await p.std_out().read();
        EXPECT_EQ(co_await p.wait(), 0);
        co_return rest;
    }());
    EXPECT_EQ(out, "1234567890");
}

TEST_F(Process, AWaitUnderATimeoutEndsAndTheChildIsReapedLater) {
    const bool reaped = run_real([]() -> task<bool> {
        process p = create_subprocess_exec("sleep", {"0.2"});
        const int pid = p.pid();
        bool timed_out = false;
        try {
            auto waiting = [](const process& p) -> task<int> { co_return co_await p.wait(); }(p);
            auto w = corio::wait_for(std::move(waiting), 10ms);
            co_await w;
        } catch (const corio::timeout_error&) {
            timed_out = true;
        }
        EXPECT_TRUE(timed_out);
        co_return co_await reaped_within(pid, 5s);
    }());
    EXPECT_TRUE(reaped);
}

TEST_F(Process, ProcessesOutsideALoopAreRefused) {
    EXPECT_THROW((void)create_subprocess_exec("true", {}), std::logic_error);
}

TEST_F(Process, ToStdoutIsOnlyForStderr) {
    run_real([]() -> task<void> {
        subprocess_options o;
        o.std_out = stdio::to_stdout;
        EXPECT_THROW((void)create_subprocess_exec("true", {}, o), std::invalid_argument);
        co_return;
    }());
}

// A child still running when its loop closes is handed to a background thread that reaps it.
TEST_F(Process, AChildRunningAtLoopCloseIsReapedByABackgroundThread) {
    int pid = -1;
    {
        corio::event_loop loop;
        pid = loop.run_until_complete([]() -> task<int> {
            process p = create_subprocess_exec("sleep", {"0.1"});
            co_return p.pid();
        }());
    }
    ASSERT_GT(pid, 0);
    bool gone = false;
    for (int i = 0; i < 500 && !gone; ++i) {
        gone = ::kill(pid, 0) != 0 && errno == ESRCH;
        if (!gone)
            ::usleep(10000);
    }
    EXPECT_TRUE(gone);
}

/// The same behaviours through the SIGCHLD watcher (kernels without pidfd_open).
class ProcessSigchld : public corio::test::ProcessTest {
  protected:
    void SetUp() override {
        ProcessTest::SetUp();
        corio::detail::child_reaper::force_sigchld_watcher(true);
    }
    void TearDown() override {
        corio::detail::child_reaper::force_sigchld_watcher(false);
        ProcessTest::TearDown();
    }
};

TEST_F(ProcessSigchld, ExitStatusesAndSignalsAreReported) {
    auto r = run_real([]() -> task<std::vector<int>> {
        process a = create_subprocess_shell("exit 7");
        process b = create_subprocess_exec("sleep", {"100"});
        b.kill();
        process c = create_subprocess_exec("echo", {"x"}, pipes(false, true, false));
        auto out = co_await c.communicate();
        EXPECT_EQ(out.std_out, "x\n");
        std::vector<int> rcs;
        rcs.push_back(co_await a.wait());
        rcs.push_back(co_await b.wait());
        rcs.push_back(out.returncode);
        co_return rcs;
    }());
    EXPECT_EQ(r, (std::vector<int>{7, -SIGKILL, 0}));
}

TEST_F(ProcessSigchld, FiveHundredChildrenLeaveNoZombie) {
    const int ok = run_real([]() -> task<int> {
        int ok = 0;
        for (int batch = 0; batch < 10; ++batch) {
            std::vector<process> ps;
            for (int i = 0; i < 50; ++i)
                ps.push_back(create_subprocess_exec("true", {}));
            for (process& p : ps) {
                auto w = p.wait();
                ok += co_await w == 0;
            }
        }
        co_return ok;
    }());
    EXPECT_EQ(ok, 500);
}

TEST_F(ProcessSigchld, ADroppedProcessIsStillReaped) {
    const bool reaped = run_real([]() -> task<bool> {
        int pid;
        {
            process p = create_subprocess_exec("sleep", {"0.05"});
            pid = p.pid();
        }
        co_return co_await reaped_within(pid, 5s);
    }());
    EXPECT_TRUE(reaped);
}

TEST_F(ProcessSigchld, SigchldIsPutBackWhenTheLoopCloses) {
    struct sigaction before {};
    ::sigaction(SIGCHLD, nullptr, &before);
    run_real([]() -> task<void> {
        process p = create_subprocess_exec("true", {});
        struct sigaction during {};
        ::sigaction(SIGCHLD, nullptr, &during);
        EXPECT_NE(during.sa_handler, SIG_DFL);
        (void)co_await p.wait();
    }());
    struct sigaction after {};
    ::sigaction(SIGCHLD, nullptr, &after);
    EXPECT_EQ(after.sa_handler, before.sa_handler);
}

} // namespace
