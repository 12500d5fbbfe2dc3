#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/runtime/run.hpp"
#include "corio/time/sleep.hpp"

#include "support/loop_helpers.hpp"
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <stdexcept>
#include <string>

namespace {

using namespace std::chrono_literals;
using corio::cancelled_error;
using corio::task;
using corio::test::virtual_clock;

task<int> answer() {
    co_await corio::sleep(1s);
    co_return 42;
}

TEST(Run, ReturnsTheValueOfMain) {
    EXPECT_EQ(corio::run(answer(), virtual_clock()), 42);
}

TEST(Run, WorksOnTheRealClockToo) {
    EXPECT_EQ(corio::run([]() -> task<int> { co_return 7; }()), 7);
}

task<std::unique_ptr<int>> make_owned() {
    co_return std::make_unique<int>(5);
}

TEST(Run, ReturnsAMoveOnlyResult) {
    std::unique_ptr<int> p = corio::run(make_owned(), virtual_clock());
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, 5);
}

task<> fail() {
    co_await corio::sleep(1s);
    throw std::invalid_argument("main failed");
}

TEST(Run, RethrowsTheExceptionOfMain) {
    try {
        corio::run(fail(), virtual_clock());
        FAIL() << "expected an exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "main failed");
    }
}

task<> sleep_forever(bool* saw_cancel) {
    try {
        co_await corio::sleep(24h);
    } catch (const cancelled_error&) {
        *saw_cancel = true;
        throw;
    }
}

task<int> leave_a_task_behind(bool* saw_cancel) {
    (void)corio::create_task(sleep_forever(saw_cancel));
    co_await corio::sleep(1s);
    co_return 1;
}

TEST(Run, CancelsTheTasksLeftWhenMainReturns) {
    bool saw_cancel = false;
    EXPECT_EQ(corio::run(leave_a_task_behind(&saw_cancel), virtual_clock()), 1);
    EXPECT_TRUE(saw_cancel);
}

task<> unwind_into_a_new_task(bool* saw_cancel, bool* successor_saw_cancel) {
    try {
        co_await corio::sleep(24h);
    } catch (const cancelled_error&) {
        *saw_cancel = true;
        // Starting work while unwinding: run() must wind that down too.
        (void)corio::create_task(sleep_forever(successor_saw_cancel));
        throw;
    }
}

task<int> leave_a_spawner_behind(bool* saw_cancel, bool* successor_saw_cancel) {
    (void)corio::create_task(unwind_into_a_new_task(saw_cancel, successor_saw_cancel));
    co_await corio::sleep(1s);
    co_return 2;
}

TEST(Run, TasksStartedByLeftoverTasksWhileUnwindingAreWoundDownToo) {
    bool saw_cancel = false;
    bool successor_saw_cancel = false;
    EXPECT_EQ(
        corio::run(leave_a_spawner_behind(&saw_cancel, &successor_saw_cancel), virtual_clock()), 2);
    EXPECT_TRUE(saw_cancel);
    EXPECT_TRUE(successor_saw_cancel);
}

task<> clean_up_slowly(int* cleaned) {
    try {
        co_await corio::sleep(24h);
    } catch (const cancelled_error&) {
        ++*cleaned;
    }
    // Cleanup that itself waits must be allowed to finish.
    co_await corio::sleep(1s);
    ++*cleaned;
}

task<> leave_a_slow_cleaner(int* cleaned) {
    (void)corio::create_task(clean_up_slowly(cleaned));
    co_await corio::sleep(1s);
}

TEST(Run, LeftoverTasksMayAwaitWhileTheyUnwind) {
    int cleaned = 0;
    corio::run(leave_a_slow_cleaner(&cleaned), virtual_clock());
    EXPECT_EQ(cleaned, 2);
}

task<> run_inside_run() {
    corio::run(answer(), virtual_clock());
    co_return;
}

TEST(Run, RunInsideARunningLoopThrowsLogicError) {
    EXPECT_THROW(corio::run(run_inside_run(), virtual_clock()), std::logic_error);
}

/// Puts SIGINT to its default action for a test and restores whatever was there afterwards,
/// so that the test does not depend on how the runner started the process.
class RunSigint : public testing::Test {
  protected:
    void SetUp() override {
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        ASSERT_EQ(::sigaction(SIGINT, &dfl, &m_saved), 0);
    }
    void TearDown() override { ::sigaction(SIGINT, &m_saved, nullptr); }

    static void (*current_sigint_handler())(int) {
        struct sigaction sa {};
        ::sigaction(SIGINT, nullptr, &sa);
        return sa.sa_handler;
    }

  private:
    struct sigaction m_saved {};
};

task<> raise_sigint_and_sleep(bool* raised, bool* saw_cancel) {
    // Raise only if run() installed its handler: with the default action the signal would kill
    // the test process.
    struct sigaction sa {};
    ::sigaction(SIGINT, nullptr, &sa);
    if (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN) {
        *raised = true;
        std::raise(SIGINT);
    }
    try {
        co_await corio::sleep(24h);
    } catch (const cancelled_error&) {
        *saw_cancel = true;
        throw;
    }
}

TEST_F(RunSigint, SigintInsideMainCancelsMainAndRunThrowsCancelledError) {
    bool raised = false;
    bool saw_cancel = false;
    EXPECT_THROW(corio::run(raise_sigint_and_sleep(&raised, &saw_cancel), virtual_clock()),
                 cancelled_error);
    EXPECT_TRUE(raised) << "run() did not install a SIGINT handler";
    EXPECT_TRUE(saw_cancel);
    EXPECT_EQ(current_sigint_handler(), SIG_DFL);
}

TEST_F(RunSigint, SigintOnTheRealClockWakesTheLoopAndCancelsMain) {
    bool raised = false;
    bool saw_cancel = false;
    const auto start = std::chrono::steady_clock::now();
    EXPECT_THROW(corio::run(raise_sigint_and_sleep(&raised, &saw_cancel)), cancelled_error);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
    EXPECT_TRUE(raised);
    EXPECT_TRUE(saw_cancel);
    EXPECT_EQ(current_sigint_handler(), SIG_DFL);
}

task<> sigint_from_a_callback(bool* saw_cancel) {
    corio::scheduler::current()->call_later(10ms, [] {
        struct sigaction sa {};
        ::sigaction(SIGINT, nullptr, &sa);
        if (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN)
            std::raise(SIGINT);
    });
    try {
        co_await corio::sleep(24h);
    } catch (const cancelled_error&) {
        *saw_cancel = true;
        throw;
    }
}

TEST_F(RunSigint, SigintFromACallbackCancelsMain) {
    bool saw_cancel = false;
    EXPECT_THROW(corio::run(sigint_from_a_callback(&saw_cancel), virtual_clock()), cancelled_error);
    EXPECT_TRUE(saw_cancel);
    EXPECT_EQ(current_sigint_handler(), SIG_DFL);
}

TEST_F(RunSigint, TheSigintHandlerIsRestoredWhenMainEndsNormally) {
    EXPECT_EQ(corio::run(answer(), virtual_clock()), 42);
    EXPECT_EQ(current_sigint_handler(), SIG_DFL);
}

volatile std::sig_atomic_t g_program_sigints = 0;

void program_handler(int) {
    g_program_sigints = g_program_sigints + 1;
}

task<int> raise_under_program_handler() {
    std::raise(SIGINT);
    co_await corio::sleep(1s);
    co_return 3;
}

TEST_F(RunSigint, AProgramInstalledSigintHandlerIsLeftAlone) {
    struct sigaction mine {};
    mine.sa_handler = &program_handler;
    sigemptyset(&mine.sa_mask);
    ASSERT_EQ(::sigaction(SIGINT, &mine, nullptr), 0);
    g_program_sigints = 0;
    EXPECT_EQ(corio::run(raise_under_program_handler(), virtual_clock()), 3);
    EXPECT_EQ(g_program_sigints, 1);
    EXPECT_EQ(current_sigint_handler(), &program_handler);
}

} // namespace
