#include "corio/core/as_completed.hpp"
#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/current_task.hpp"
#include "corio/core/timeout_error.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"

#include "support/loop_helpers.hpp"
#include "support/structured_helpers.hpp"
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::cancelled_error;
using corio::scheduler;
using corio::task;
using corio::task_handle;
using corio::test::now;
using corio::test::run_virtual;
using corio::test::since;
using corio::test::value_after;

using handles = std::vector<task_handle<int>>;

struct yield_record {
    std::vector<int> values;
    std::vector<scheduler::duration> at;
    std::vector<std::size_t> remaining_after;
};

task<yield_record> drain(std::vector<int> delays) {
    yield_record out;
    const auto start = now();
    handles hs;
    for (std::size_t i = 0; i < delays.size(); ++i)
        hs.push_back(
            corio::create_task(value_after(std::chrono::seconds(delays[i]), static_cast<int>(i))));
    auto ac = corio::as_completed(std::move(hs));
    while (ac.remaining() > 0) {
        task_handle<int> h = co_await ac.next();
        out.at.push_back(since(start));
        out.values.push_back(co_await h); // done: does not suspend
        out.remaining_after.push_back(ac.remaining());
    }
    co_return out;
}

TEST(AsCompleted, YieldsTheTasksInTheOrderTheyFinish) {
    const auto r = run_virtual(drain({3, 1, 2}));
    EXPECT_EQ(r.values, (std::vector<int>{1, 2, 0}));
    EXPECT_EQ(r.at, (std::vector<scheduler::duration>{1s, 2s, 3s}));
    EXPECT_EQ(r.remaining_after, (std::vector<std::size_t>{2, 1, 0}));
}

task<yield_record> drain_with_one_finished_before() {
    yield_record out;
    task_handle<int> early = corio::create_task(value_after(0s, 10));
    co_await corio::sleep(1s); // `early` finishes meanwhile
    const auto start = now();
    handles hs{corio::create_task(value_after(2s, 20)), early,
               corio::create_task(value_after(1s, 30))};
    auto ac = corio::as_completed(std::move(hs));
    while (ac.remaining() > 0) {
        task_handle<int> h = co_await ac.next();
        out.at.push_back(since(start));
        out.values.push_back(h.result());
    }
    co_return out;
}

TEST(AsCompleted, TasksThatFinishedBeforeAreYieldedFirst) {
    const auto r = run_virtual(drain_with_one_finished_before());
    EXPECT_EQ(r.values, (std::vector<int>{10, 30, 20}));
    EXPECT_EQ(r.at, (std::vector<scheduler::duration>{0s, 1s, 2s}));
}

struct timeout_record {
    int first = -1;
    scheduler::duration first_at{};
    bool timed_out = false;
    scheduler::duration timed_out_at{};
    bool timed_out_again = false;
    bool slow_was_running = false;
    int slow_value = -1;
    scheduler::duration total{};
};

task<timeout_record> drain_with_a_timeout() {
    timeout_record out;
    const auto start = now();
    handles hs{corio::create_task(value_after(1s, 0)), corio::create_task(value_after(5s, 1))};
    task_handle<int> slow = hs[1];
    auto ac = corio::as_completed(std::move(hs), 2s);
    task_handle<int> h = co_await ac.next();
    out.first = h.result();
    out.first_at = since(start);
    try {
        (void)co_await ac.next();
    } catch (const corio::timeout_error&) {
        out.timed_out = true;
    }
    out.timed_out_at = since(start);
    try {
        (void)co_await ac.next();
    } catch (const corio::timeout_error&) {
        out.timed_out_again = true;
    }
    out.slow_was_running = !slow.done();
    out.slow_value = co_await slow;
    out.total = since(start);
    co_return out;
}

TEST(AsCompleted, NextAfterTheTimeoutThrowsTimeoutErrorAndLeavesTheTasksRunning) {
    const auto r = run_virtual(drain_with_a_timeout());
    EXPECT_EQ(r.first, 0);
    EXPECT_EQ(r.first_at, 1s);
    EXPECT_TRUE(r.timed_out);
    EXPECT_EQ(r.timed_out_at, 2s);
    EXPECT_TRUE(r.timed_out_again);
    EXPECT_TRUE(r.slow_was_running); // not cancelled by the timeout
    EXPECT_EQ(r.slow_value, 1);
    EXPECT_EQ(r.total, 5s);
}

task<bool> drain_one_too_many() {
    handles hs{corio::create_task(value_after(1s, 0))};
    auto ac = corio::as_completed(std::move(hs));
    (void)co_await ac.next();
    try {
        (void)co_await ac.next();
    } catch (const std::out_of_range&) {
        co_return true;
    }
    co_return false;
}

TEST(AsCompleted, NextWithNothingLeftThrowsOutOfRange) {
    EXPECT_TRUE(run_virtual(drain_one_too_many()));
}

struct cancel_record {
    bool threw_cancelled = false;
    scheduler::duration threw_at{};
    bool tasks_running = false;
    std::vector<int> values_after;
    std::vector<scheduler::duration> at_after;
};

task<cancel_record> next_cancelled_then_resumed() {
    cancel_record out;
    const auto start = now();
    handles hs{corio::create_task(value_after(3s, 0)), corio::create_task(value_after(2s, 1))};
    handles copies = hs;
    auto canceller = corio::create_task(corio::test::cancel_after(1s, corio::current_task()));
    auto ac = corio::as_completed(std::move(hs));
    try {
        (void)co_await ac.next();
    } catch (const cancelled_error&) {
        out.threw_cancelled = true;
    }
    out.threw_at = since(start);
    out.tasks_running = !copies[0].done() && !copies[1].done();
    // The set stays usable after the cancellation.
    while (ac.remaining() > 0) {
        task_handle<int> h = co_await ac.next();
        out.values_after.push_back(h.result());
        out.at_after.push_back(since(start));
    }
    co_await canceller;
    co_return out;
}

TEST(AsCompleted, CancellingTheAwaitingTaskThrowsCancelledErrorAndLeavesTheTasksRunning) {
    const auto r = run_virtual(next_cancelled_then_resumed());
    EXPECT_TRUE(r.threw_cancelled);
    EXPECT_EQ(r.threw_at, 1s);
    EXPECT_TRUE(r.tasks_running);
    EXPECT_EQ(r.values_after, (std::vector<int>{1, 0}));
    EXPECT_EQ(r.at_after, (std::vector<scheduler::duration>{2s, 3s}));
}

TEST(AsCompleted, ATimeoutOutsideARunningLoopThrowsLogicError) {
    EXPECT_THROW((void)corio::as_completed(handles{}, 1s), std::logic_error);
}

} // namespace
