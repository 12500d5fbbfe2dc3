#pragma once

// Helpers of the process tests: a loop on the real clock (children run in real time), and the
// checks that a test left no zombie and no fd behind.

#include "corio/core/task.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"

#include "support/loop_helpers.hpp"
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <cstddef>

namespace corio::test {

/// Runs `t` on a new loop on the real clock, closes the loop, and returns the result.
template <typename T>
T run_real(task<T> t) {
    event_loop loop;
    return loop.run_until_complete(std::move(t));
}

/// True when this process has no child left, zombie or running (waitpid says ECHILD).
inline bool no_children_left() {
    const pid_t r = ::waitpid(-1, nullptr, WNOHANG);
    return r == -1 && errno == ECHILD;
}

/// True once `pid` is gone for good (reaped: kill(pid, 0) fails with ESRCH; a zombie still
/// answers). Polls for up to `limit` on the running loop.
inline task<bool> reaped_within(int pid, std::chrono::milliseconds limit) {
    const auto step = std::chrono::milliseconds(5);
    for (auto waited = std::chrono::milliseconds(0); waited < limit; waited += step) {
        if (::kill(pid, 0) != 0 && errno == ESRCH)
            co_return true;
        co_await sleep(step);
    }
    co_return ::kill(pid, 0) != 0 && errno == ESRCH;
}

/// Checks around each test: the same number of fds open before and after, and no child left.
class ProcessTest : public ::testing::Test {
  protected:
    void SetUp() override { m_fds = open_fd_count(); }
    void TearDown() override {
        EXPECT_EQ(open_fd_count(), m_fds) << "an fd was left open";
        EXPECT_TRUE(no_children_left()) << "a child was left behind";
    }

  private:
    std::size_t m_fds = 0;
};

} // namespace corio::test
