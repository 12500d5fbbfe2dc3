#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/wait.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"

#include "support/loop_helpers.hpp"
#include "support/structured_helpers.hpp"
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::cancelled_error;
using corio::return_when;
using corio::scheduler;
using corio::task;
using corio::task_handle;
using corio::task_ref;
using corio::test::now;
using corio::test::run_virtual;
using corio::test::since;
using corio::test::value_after;

using handles = std::vector<task_handle<int>>;

/// The indices in `all` of the handles in `some`, in the order of `some`.
std::vector<int> indices_of(const handles& some, const handles& all) {
    std::vector<int> out;
    for (const auto& h : some) {
        for (std::size_t i = 0; i < all.size(); ++i)
            if (all[i] == h)
                out.push_back(static_cast<int>(i));
    }
    return out;
}

struct wait_report {
    std::vector<int> done;
    std::vector<int> pending;
    scheduler::duration took{};
    std::vector<bool> pending_were_running; // not done and not cancelled when wait returned
    std::vector<int> pending_values;        // awaited afterwards
    scheduler::duration total{};
    std::size_t timers_at_end = 99;
};

/// Starts tasks that finish after `delays` seconds (value = index), waits on them, then awaits
/// the pending ones.
task<wait_report> wait_on(std::vector<int> delays, return_when when,
                          std::optional<scheduler::duration> timeout) {
    wait_report out;
    const auto start = now();
    handles all;
    for (std::size_t i = 0; i < delays.size(); ++i)
        all.push_back(
            corio::create_task(value_after(std::chrono::seconds(delays[i]), static_cast<int>(i))));
    auto r = co_await corio::wait(all, when, timeout);
    out.took = since(start);
    out.done = indices_of(r.done, all);
    out.pending = indices_of(r.pending, all);
    for (auto& h : r.pending)
        out.pending_were_running.push_back(!h.done() && !h.cancelled());
    for (auto& h : r.pending)
        out.pending_values.push_back(co_await h);
    out.total = since(start);
    out.timers_at_end = corio::scheduler::current()->timer_count();
    co_return out;
}

TEST(Wait, AllCompletedWaitsForEveryTaskAndListsThemInInputOrder) {
    const auto r = run_virtual(wait_on({3, 1, 2}, return_when::all_completed, std::nullopt));
    EXPECT_EQ(r.done, (std::vector<int>{0, 1, 2}));
    EXPECT_TRUE(r.pending.empty());
    EXPECT_EQ(r.took, 3s);
}

TEST(Wait, AllCompletedIsTheDefault) {
    auto body = []() -> task<std::size_t> {
        handles hs{corio::create_task(value_after(1s, 0)), corio::create_task(value_after(2s, 1))};
        auto r = co_await corio::wait(hs);
        co_return r.done.size();
    };
    EXPECT_EQ(run_virtual(body()), 2u);
}

TEST(Wait, FirstCompletedReturnsWhenOneTaskFinishesAndLeavesTheOthersRunning) {
    const auto r = run_virtual(wait_on({3, 1, 2}, return_when::first_completed, std::nullopt));
    EXPECT_EQ(r.done, (std::vector<int>{1}));
    EXPECT_EQ(r.pending, (std::vector<int>{0, 2})); // input order
    EXPECT_EQ(r.took, 1s);
    EXPECT_EQ(r.pending_were_running, (std::vector<bool>{true, true}));
    EXPECT_EQ(r.pending_values, (std::vector<int>{0, 2}));
    EXPECT_EQ(r.total, 3s);
}

TEST(Wait, FirstExceptionWithoutAFailureWaitsForAllTasks) {
    const auto r = run_virtual(wait_on({1, 2}, return_when::first_exception, std::nullopt));
    EXPECT_EQ(r.done, (std::vector<int>{0, 1}));
    EXPECT_TRUE(r.pending.empty());
    EXPECT_EQ(r.took, 2s);
}

struct first_exception_report {
    std::vector<int> done;
    std::vector<int> pending;
    scheduler::duration took{};
    bool first_was_cancelled = false;
};

task<first_exception_report> wait_first_exception_with_a_cancellation() {
    first_exception_report out;
    const auto start = now();
    handles all{corio::create_task(value_after(10s, 0)),
                corio::create_task(corio::test::fail_int_after(2s, "boom")),
                corio::create_task(value_after(5s, 2))};
    auto canceller = corio::create_task(corio::test::cancel_after(1s, all[0]));
    auto r = co_await corio::wait(all, return_when::first_exception);
    out.took = since(start);
    out.done = indices_of(r.done, all);
    out.pending = indices_of(r.pending, all);
    out.first_was_cancelled = all[0].cancelled();
    EXPECT_THROW(all[1].result(), std::runtime_error); // retrieve it: nothing for the handler
    co_await all[2];
    co_await canceller;
    co_return out;
}

TEST(Wait, FirstExceptionReturnsOnAFailureButNotOnACancellation) {
    const auto r = run_virtual(wait_first_exception_with_a_cancellation());
    EXPECT_TRUE(r.first_was_cancelled);
    EXPECT_EQ(r.took, 2s); // not 1 s: the cancellation at 1 s is not an exception
    EXPECT_EQ(r.done, (std::vector<int>{0, 1}));
    EXPECT_EQ(r.pending, (std::vector<int>{2}));
}

TEST(Wait, ATimeoutReturnsThePendingTasksWithoutCancellingThemOrThrowing) {
    const auto r = run_virtual(wait_on({1, 5}, return_when::all_completed, 2s));
    EXPECT_EQ(r.took, 2s);
    EXPECT_EQ(r.done, (std::vector<int>{0}));
    EXPECT_EQ(r.pending, (std::vector<int>{1}));
    EXPECT_EQ(r.pending_were_running, (std::vector<bool>{true}));
    EXPECT_EQ(r.pending_values, (std::vector<int>{1})); // it went on to finish normally
    EXPECT_EQ(r.total, 5s);
    EXPECT_EQ(r.timers_at_end, 0u);
}

task<std::size_t> wait_that_finishes_before_its_timeout() {
    handles hs{corio::create_task(value_after(1s, 0))};
    co_await corio::wait(hs, return_when::all_completed, 10s);
    co_return corio::scheduler::current()->timer_count();
}

TEST(Wait, ATimeoutThatDoesNotExpireLeavesNoTimerArmed) {
    EXPECT_EQ(run_virtual(wait_that_finishes_before_its_timeout()), 0u);
}

task<bool> wait_forever_on(handles hs) {
    try {
        co_await corio::wait(std::move(hs));
    } catch (const cancelled_error&) {
        co_return true;
    }
    co_return false;
}

struct cancelled_wait_report {
    bool threw_cancelled = false;
    scheduler::duration threw_after{};
    std::vector<bool> running_after_cancel;
    std::vector<int> values;
    scheduler::duration total{};
};

task<cancelled_wait_report> cancel_a_waiting_task() {
    cancelled_wait_report out;
    const auto start = now();
    handles hs{corio::create_task(value_after(3s, 0)), corio::create_task(value_after(4s, 1))};
    auto waiter = corio::create_task(wait_forever_on(hs));
    co_await corio::sleep(1s);
    waiter.cancel();
    out.threw_cancelled = co_await waiter;
    out.threw_after = since(start);
    for (auto& h : hs)
        out.running_after_cancel.push_back(!h.done());
    for (auto& h : hs)
        out.values.push_back(co_await h);
    out.total = since(start);
    co_return out;
}

TEST(Wait, CancellingTheWaitingTaskThrowsCancelledErrorAndTheTasksGoOnRunning) {
    const auto r = run_virtual(cancel_a_waiting_task());
    EXPECT_TRUE(r.threw_cancelled);
    EXPECT_EQ(r.threw_after, 1s); // at once, not when the tasks finish
    EXPECT_EQ(r.running_after_cancel, (std::vector<bool>{true, true}));
    EXPECT_EQ(r.values, (std::vector<int>{0, 1}));
    EXPECT_EQ(r.total, 4s);
}

task<std::pair<std::size_t, scheduler::duration>> wait_on_an_already_finished_task() {
    handles hs{corio::create_task(value_after(0s, 0)), corio::create_task(value_after(5s, 1))};
    co_await corio::sleep(1s); // the first one finishes meanwhile
    const auto start = now();
    auto r = co_await corio::wait(hs, return_when::first_completed);
    const auto took = since(start);
    co_await hs[1];
    co_return std::make_pair(r.done.size(), took);
}

TEST(Wait, AnAlreadyFinishedTaskSatisfiesFirstCompletedAtOnce) {
    const auto [done, took] = run_virtual(wait_on_an_already_finished_task());
    EXPECT_EQ(done, 1u);
    EXPECT_EQ(took, 0s);
}

task<std::pair<std::size_t, std::size_t>> wait_on_nothing() {
    auto r = co_await corio::wait(handles{}, return_when::first_completed);
    co_return std::make_pair(r.done.size(), r.pending.size());
}

TEST(Wait, AnEmptyListReturnsAtOnceWithNothingDoneOrPending) {
    EXPECT_EQ(run_virtual(wait_on_nothing()), std::make_pair(std::size_t{0}, std::size_t{0}));
}

task<std::pair<std::size_t, std::size_t>> wait_on_task_refs() {
    std::vector<task_ref> refs{task_ref(corio::create_task(value_after(1s, 0))),
                               task_ref(corio::create_task(value_after(3s, 1)))};
    auto r = co_await corio::wait(refs, return_when::first_completed);
    co_await corio::sleep(5s); // let the other one finish
    co_return std::make_pair(r.done.size(), r.pending.size());
}

TEST(Wait, AcceptsTaskRefs) {
    EXPECT_EQ(run_virtual(wait_on_task_refs()), std::make_pair(std::size_t{1}, std::size_t{1}));
}

} // namespace
