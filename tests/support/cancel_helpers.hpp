#pragma once

// Cancelling an operation while it waits, for the cancellation suites of the layers that do I/O
// (tests/net/cancellation_test.cpp, tests/io/stream_cancellation_test.cpp).

#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/task.hpp"

#include "net/net_helpers.hpp"
#include <gtest/gtest.h>

#include <utility>

namespace corio::test {

/// Runs `op` as a task, lets it park in its operation (the loop polls for I/O meanwhile: see
/// settle), cancels it, and returns true if it ended with cancelled_error. The task's frame,
/// with the buffer and result of its operation, is destroyed before this returns, so a
/// backend that still referred to them afterwards would write into freed memory (which ASan
/// reports).
inline task<bool> cancel_while_pending(task<void> op) {
    bool cancelled = false;
    {
        auto h = create_task(std::move(op));
        co_await settle();
        EXPECT_FALSE(h.done()) << "the operation did not stay pending";
        h.cancel();
        try {
            co_await h;
        } catch (const cancelled_error&) {
            cancelled = true;
        }
    }
    co_return cancelled;
}

} // namespace corio::test
