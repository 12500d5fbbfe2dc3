#pragma once

// Helpers of the signal tests: a loop on the real clock, and the checks that a test left the
// process's signal actions and its fds as it found them.

#include "corio/core/task.hpp"
#include "corio/runtime/event_loop.hpp"

#include "support/loop_helpers.hpp"
#include <gtest/gtest.h>
#include <signal.h>

#include <cstddef>

namespace corio::test {

template <typename T>
T run_real(task<T> t) {
    event_loop loop;
    return loop.run_until_complete(std::move(t));
}

/// Sets SIGUSR1, SIGUSR2 and SIGHUP to SIG_DFL around each test and checks that they are
/// back at SIG_DFL afterwards, with the fd count unchanged.
class SignalTest : public ::testing::Test {
  protected:
    static constexpr int watched[] = {SIGUSR1, SIGUSR2, SIGHUP};
    void SetUp() override {
        for (int sig : watched)
            ::signal(sig, SIG_DFL);
        m_fds = open_fd_count();
    }
    void TearDown() override {
        EXPECT_EQ(open_fd_count(), m_fds) << "an fd was left open";
        for (int sig : watched) {
            struct sigaction sa {};
            ::sigaction(sig, nullptr, &sa);
            EXPECT_EQ(sa.sa_handler, SIG_DFL) << "signal " << sig << " was not put back";
        }
    }

  private:
    std::size_t m_fds = 0;
};

} // namespace corio::test
