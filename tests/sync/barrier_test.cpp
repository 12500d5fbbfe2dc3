#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/current_task.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/sync/barrier.hpp"
#include "corio/sync/broken_barrier_error.hpp"
#include "corio/time/sleep.hpp"
#include "corio/time/timeout.hpp"

#include "support/structured_helpers.hpp"
#include "support/sync_helpers.hpp"
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <exception>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::barrier;
using corio::cancelled_error;
using corio::scheduler;
using corio::task;
using corio::task_handle;
using corio::test::error_name;
using corio::test::finish;
using corio::test::now;
using corio::test::run_guarded;
using corio::test::settle;

/// How a task's wait at the barrier ended, and when (loop time since the test's origin).
struct arrival {
    std::optional<std::size_t> index;
    std::string error;
    scheduler::duration at{-1s};
};

/// Sleeps `delay`, waits at `b`, and records the outcome.
task<> wait_at(barrier& b, scheduler::time_point origin, scheduler::duration delay, arrival* out) {
    if (delay > 0s)
        co_await corio::sleep(delay);
    try {
        out->index = co_await b.wait();
    } catch (...) {
        out->error = error_name(std::current_exception());
        out->at = now() - origin;
        throw;
    }
    out->at = now() - origin;
}

task<> wait_twice(barrier& b, scheduler::time_point origin, arrival* first, arrival* second) {
    co_await wait_at(b, origin, 0s, first);
    co_await wait_at(b, origin, 0s, second);
}

/// Fills a cycle of the two-party barrier `b`: another task arrives first (its wait recorded in
/// `other`), then this one, which releases both. Returns this task's index.
task<std::size_t> fill_a_cycle_with_another(barrier& b, scheduler::time_point origin,
                                            arrival* other) {
    auto h = corio::create_task(wait_at(b, origin, 0s, other));
    co_await settle();
    const std::size_t mine = co_await b.wait();
    co_await h;
    co_return mine;
}

TEST(Barrier, ZeroPartiesThrowsInvalidArgument) {
    EXPECT_THROW(barrier(0), std::invalid_argument);
    barrier b(4);
    EXPECT_EQ(b.parties(), 4u);
    EXPECT_EQ(b.n_waiting(), 0u);
    EXPECT_FALSE(b.broken());
}

TEST(Barrier, BrokenBarrierErrorIsARuntimeError) {
    const std::runtime_error& e = corio::broken_barrier_error();
    EXPECT_STREQ(e.what(), "barrier is broken or was reset");
}

task<std::vector<arrival>> three_arrive_at_different_times() {
    barrier b(3);
    const auto origin = now();
    std::vector<arrival> outs(3);
    std::vector<task_handle<>> hs;
    for (std::size_t i = 0; i < 3; ++i)
        hs.push_back(
            corio::create_task(wait_at(b, origin, std::chrono::seconds(static_cast<int>(3 - i)),
                                       &outs[i]))); // the last starts first
    for (auto& h : hs)
        co_await h;
    EXPECT_EQ(b.n_waiting(), 0u);
    co_return outs;
}

TEST(Barrier, ReleasesEveryTaskWhenTheLastArrivesWithIndicesInArrivalOrder) {
    const auto outs = run_guarded(three_arrive_at_different_times());
    // outs[2] arrived first (after 1 s), outs[0] last (after 3 s).
    EXPECT_EQ(outs[2].index, 0u);
    EXPECT_EQ(outs[1].index, 1u);
    EXPECT_EQ(outs[0].index, 2u);
    for (const auto& a : outs)
        EXPECT_EQ(a.at, 3s);
}

struct last_arrival_report {
    std::size_t index = 99;
    bool first_resumed_before = true;
    std::size_t n_waiting_before = 99;
    std::size_t n_waiting_after = 99;
    arrival first;
};

task<last_arrival_report> last_arrival_does_not_suspend() {
    last_arrival_report r;
    barrier b(2);
    auto h = corio::create_task(wait_at(b, now(), 0s, &r.first));
    co_await settle();
    r.n_waiting_before = b.n_waiting();
    r.index = co_await b.wait();
    r.first_resumed_before = r.first.index.has_value();
    r.n_waiting_after = b.n_waiting(); // draining: the first task has not resumed yet
    co_await h;
    co_return r;
}

TEST(Barrier, TheLastArrivalReturnsWithoutSuspendingAndReleasesTheOthers) {
    const auto r = run_guarded(last_arrival_does_not_suspend());
    EXPECT_EQ(r.n_waiting_before, 1u);
    EXPECT_EQ(r.index, 1u);
    EXPECT_FALSE(r.first_resumed_before);
    EXPECT_EQ(r.n_waiting_after, 0u);
    EXPECT_EQ(r.first.index, 0u);
}

task<std::vector<std::size_t>> one_party() {
    barrier b(1);
    bool other_ran = false;
    auto other = corio::create_task([](bool* ran) -> task<> {
        *ran = true;
        co_return;
    }(&other_ran));
    std::vector<std::size_t> indices;
    for (int i = 0; i < 3; ++i)
        indices.push_back(co_await b.wait());
    EXPECT_FALSE(other_ran) << "a one-party barrier never suspends";
    co_await other;
    co_return indices;
}

TEST(Barrier, AOnePartyBarrierPassesAtOnceEveryTime) {
    EXPECT_EQ(run_guarded(one_party()), (std::vector<std::size_t>{0, 0, 0}));
}

task<std::vector<std::size_t>> n_waiting_while_filling() {
    barrier b(3);
    std::vector<std::size_t> seen;
    std::vector<arrival> outs(3);
    std::vector<task_handle<>> hs;
    seen.push_back(b.n_waiting());
    for (auto& a : outs) {
        hs.push_back(corio::create_task(wait_at(b, now(), 0s, &a)));
        co_await corio::sleep(0s);
        seen.push_back(b.n_waiting());
    }
    for (auto& h : hs)
        co_await h;
    seen.push_back(b.n_waiting());
    co_return seen;
}

TEST(Barrier, NWaitingCountsTheTasksWaitingWhileItFills) {
    EXPECT_EQ(run_guarded(n_waiting_while_filling()), (std::vector<std::size_t>{0, 1, 2, 0, 0}));
}

// --- cycles -----------------------------------------------------------------------------

struct cycle_log {
    // indices[cycle] and times[cycle] collect one entry per task.
    std::vector<std::vector<std::size_t>> indices;
    std::vector<std::vector<scheduler::duration>> times;
    std::vector<std::vector<scheduler::duration>> arrivals;
};

constexpr int cycles = 20;

task<> cycle_worker(barrier& b, unsigned seed, scheduler::time_point origin, cycle_log* log) {
    std::mt19937 rng(seed);
    for (std::size_t c = 0; c < static_cast<std::size_t>(cycles); ++c) {
        co_await corio::sleep(std::chrono::milliseconds(rng() % 5));
        log->arrivals[c].push_back(now() - origin);
        log->indices[c].push_back(co_await b.wait());
        log->times[c].push_back(now() - origin);
    }
}

task<cycle_log> many_cycles() {
    barrier b(4);
    cycle_log log;
    log.indices.resize(cycles);
    log.times.resize(cycles);
    log.arrivals.resize(cycles);
    const auto origin = now();
    std::vector<task_handle<>> hs;
    for (unsigned i = 0; i < 4; ++i)
        hs.push_back(corio::create_task(cycle_worker(b, i, origin, &log)));
    for (auto& h : hs)
        co_await h;
    co_return log;
}

TEST(Barrier, IsReusableCycleAfterCycle) {
    const auto log = run_guarded(many_cycles());
    for (std::size_t c = 0; c < static_cast<std::size_t>(cycles); ++c) {
        auto idx = log.indices[c];
        std::sort(idx.begin(), idx.end());
        EXPECT_EQ(idx, (std::vector<std::size_t>{0, 1, 2, 3})) << "cycle " << c;
        const auto last_arrival = *std::max_element(log.arrivals[c].begin(), log.arrivals[c].end());
        for (auto t : log.times[c])
            EXPECT_EQ(t, last_arrival) << "cycle " << c;
    }
}

struct draining_report {
    arrival a;
    arrival b_first;
    arrival b_second;
    arrival c;
    std::size_t n_waiting_draining = 99;
    std::size_t n_waiting_after_drain = 99;
};

task<draining_report> arrivals_while_draining() {
    draining_report r;
    barrier b(2);
    const auto origin = now();
    auto ha = corio::create_task(wait_at(b, origin, 0s, &r.a));
    co_await settle();
    // B fills the cycle and at once waits again, before A has resumed: the barrier is draining,
    // so B's second wait is for the next cycle.
    auto hb = corio::create_task(wait_twice(b, origin, &r.b_first, &r.b_second));
    co_await corio::sleep(0s);
    r.n_waiting_draining = b.n_waiting();
    co_await ha; // A resumes: the barrier fills again and lets B in
    r.n_waiting_after_drain = b.n_waiting();
    co_await corio::sleep(1s);
    auto hc = corio::create_task(wait_at(b, origin, 0s, &r.c));
    co_await hb;
    co_await hc;
    co_return r;
}

TEST(Barrier, TasksArrivingWhileItDrainsWaitForTheNextCycle) {
    const auto r = run_guarded(arrivals_while_draining());
    EXPECT_EQ(r.a.index, 0u);
    EXPECT_EQ(r.b_first.index, 1u);
    EXPECT_EQ(r.n_waiting_draining, 0u);
    EXPECT_EQ(r.n_waiting_after_drain, 1u);
    EXPECT_EQ(r.b_second.index, 0u);
    EXPECT_EQ(r.b_second.at, 1s);
    EXPECT_EQ(r.c.index, 1u);
}

task<std::vector<arrival>> blocked_arrivals_fill_cycles_in_order() {
    barrier b(2);
    const auto origin = now();
    std::vector<arrival> outs(6);
    std::vector<task_handle<>> hs;
    hs.push_back(corio::create_task(wait_at(b, origin, 0s, &outs[0])));
    co_await settle();
    // One step: outs[1] fills the cycle; outs[2..4] arrive while it drains.
    for (std::size_t i = 1; i < 5; ++i)
        hs.push_back(corio::create_task(wait_at(b, origin, 0s, &outs[i])));
    co_await settle();
    // outs[2] and outs[3] formed the next cycle; outs[4] waits in the one after.
    EXPECT_EQ(b.n_waiting(), 1u);
    co_await corio::sleep(1s);
    hs.push_back(corio::create_task(wait_at(b, origin, 0s, &outs[5])));
    for (auto& h : hs)
        co_await h;
    co_return outs;
}

TEST(Barrier, TasksThatArrivedWhileItDrainedAreLetInInOrderOneCycleAtATime) {
    const auto outs = run_guarded(blocked_arrivals_fill_cycles_in_order());
    const std::vector<std::size_t> expected{0, 1, 0, 1, 0, 1};
    for (std::size_t i = 0; i < outs.size(); ++i)
        EXPECT_EQ(outs[i].index, expected[i]) << i;
    EXPECT_EQ(outs[3].at, 0s);
    EXPECT_EQ(outs[4].at, 1s);
    EXPECT_EQ(outs[5].at, 1s);
}

// --- cancellation -----------------------------------------------------------------------

struct cancel_report {
    std::vector<arrival> outs = std::vector<arrival>(4);
    std::size_t n_waiting_after_cancel = 99;
    std::size_t n_waiting_end = 99;
};

task<cancel_report> cancel_while_filling() {
    cancel_report r;
    barrier b(3);
    const auto origin = now();
    auto ha = corio::create_task(wait_at(b, origin, 0s, &r.outs[0]));
    auto hb = corio::create_task(wait_at(b, origin, 0s, &r.outs[1]));
    co_await settle();
    ha.cancel();
    co_await finish(ha);
    r.n_waiting_after_cancel = b.n_waiting();
    co_await corio::sleep(1s);
    auto hc = corio::create_task(wait_at(b, origin, 0s, &r.outs[2]));
    co_await settle();
    auto hd = corio::create_task(wait_at(b, origin, 1s, &r.outs[3]));
    co_await hb;
    co_await hc;
    co_await hd;
    r.n_waiting_end = b.n_waiting();
    co_return r;
}

TEST(Barrier, ATaskCancelledWhileItFillsLeavesTheCountConsistent) {
    const auto r = run_guarded(cancel_while_filling());
    EXPECT_EQ(r.outs[0].error, "cancelled");
    EXPECT_EQ(r.outs[0].at, 0s);
    EXPECT_EQ(r.n_waiting_after_cancel, 1u);
    // Three more arrivals are needed, as in asyncio; the count went down, so the index of the
    // cancelled task's successor repeats the one of the task still waiting.
    EXPECT_EQ(r.outs[1].index, 1u);
    EXPECT_EQ(r.outs[2].index, 1u);
    EXPECT_EQ(r.outs[3].index, 2u);
    for (std::size_t i = 1; i < 4; ++i)
        EXPECT_EQ(r.outs[i].at, 2s) << i;
    EXPECT_EQ(r.n_waiting_end, 0u);
}

task<cancel_report> cancel_after_release() {
    cancel_report r;
    barrier b(3);
    const auto origin = now();
    auto ha = corio::create_task(wait_at(b, origin, 0s, &r.outs[0]));
    auto hb = corio::create_task(wait_at(b, origin, 0s, &r.outs[1]));
    co_await settle();
    r.outs[2].index = co_await b.wait(); // releases A and B...
    ha.cancel();                         // ...and A is cancelled before it resumes
    co_await finish(ha);
    co_await hb;
    r.n_waiting_after_cancel = b.n_waiting();
    // The barrier is filling again and works.
    std::vector<arrival> next(3);
    std::vector<task_handle<>> hs;
    for (auto& a : next)
        hs.push_back(corio::create_task(wait_at(b, origin, 0s, &a)));
    for (auto& h : hs)
        co_await h;
    for (std::size_t i = 0; i < 3; ++i)
        EXPECT_EQ(next[i].index, i);
    co_return r;
}

TEST(Barrier, AReleasedTaskCancelledBeforeItResumesThrowsCancelledAndTheOthersPass) {
    const auto r = run_guarded(cancel_after_release());
    EXPECT_EQ(r.outs[0].error, "cancelled");
    EXPECT_EQ(r.outs[1].index, 1u);
    EXPECT_EQ(r.outs[2].index, 2u);
    EXPECT_EQ(r.n_waiting_after_cancel, 0u);
}

task<cancel_report> cancel_while_blocked_for_next_cycle() {
    cancel_report r;
    barrier b(2);
    const auto origin = now();
    auto ha = corio::create_task(wait_at(b, origin, 0s, &r.outs[0]));
    co_await settle();
    auto hb = corio::create_task(wait_twice(b, origin, &r.outs[1], &r.outs[2]));
    co_await corio::sleep(0s); // B released A and now waits for the next cycle
    hb.cancel();
    co_await finish(hb);
    co_await ha;
    r.n_waiting_end = b.n_waiting();
    // A full cycle still works.
    const std::size_t mine = co_await fill_a_cycle_with_another(b, origin, &r.outs[3]);
    EXPECT_EQ(mine, 1u);
    co_return r;
}

TEST(Barrier, ATaskCancelledWhileWaitingForTheNextCycleNeverArrives) {
    const auto r = run_guarded(cancel_while_blocked_for_next_cycle());
    EXPECT_EQ(r.outs[0].index, 0u);
    EXPECT_EQ(r.outs[1].index, 1u);
    EXPECT_EQ(r.outs[2].error, "cancelled");
    EXPECT_EQ(r.n_waiting_end, 0u);
    EXPECT_EQ(r.outs[3].index, 0u);
}

task<cancel_report> wait_under_a_timeout() {
    cancel_report r;
    barrier b(2);
    const auto origin = now();
    try {
        auto t = corio::wait_for(wait_at(b, origin, 0s, &r.outs[0]), 2s);
        co_await std::move(t);
    } catch (...) {
        r.outs[1].error = error_name(std::current_exception());
        r.outs[1].at = now() - origin;
    }
    r.n_waiting_after_cancel = b.n_waiting();
    r.outs[3].index = co_await fill_a_cycle_with_another(b, origin, &r.outs[2]);
    co_return r;
}

TEST(Barrier, AWaitUnderATimeoutThrowsTimeoutErrorAndLeavesTheBarrier) {
    const auto r = run_guarded(wait_under_a_timeout());
    EXPECT_EQ(r.outs[0].error, "cancelled"); // inside: the timeout's cancellation
    EXPECT_EQ(r.outs[1].error, "timeout");
    EXPECT_EQ(r.outs[1].at, 2s);
    EXPECT_EQ(r.n_waiting_after_cancel, 0u);
    EXPECT_EQ(r.outs[2].index, 0u);
    EXPECT_EQ(r.outs[3].index, 1u);
}

task<> cancel_self_then_wait(barrier& b, arrival* out) {
    corio::current_task().cancel();
    co_await wait_at(b, now(), 0s, out);
}

task<std::vector<arrival>> pending_cancellation() {
    std::vector<arrival> outs(2);
    barrier one(1);
    barrier two(2);
    auto h1 = corio::create_task(cancel_self_then_wait(one, &outs[0]));
    auto h2 = corio::create_task(cancel_self_then_wait(two, &outs[1]));
    co_await finish(h1);
    co_await finish(h2);
    EXPECT_EQ(two.n_waiting(), 0u);
    co_return outs;
}

TEST(Barrier, APendingCancellationIsDeliveredOnlyWhereTheWaitWouldSuspend) {
    const auto outs = run_guarded(pending_cancellation());
    EXPECT_EQ(outs[0].index, 0u) << "the last arrival does not suspend";
    EXPECT_EQ(outs[1].error, "cancelled");
}

// --- abort and reset --------------------------------------------------------------------

struct break_report {
    std::vector<arrival> outs = std::vector<arrival>(6);
    bool broken_after_abort = false;
    bool broken_after_reset = true;
    std::size_t n_waiting_broken = 99;
    std::string later_wait;
};

task<break_report> abort_with_waiters() {
    break_report r;
    barrier b(3);
    const auto origin = now();
    auto ha = corio::create_task(wait_at(b, origin, 0s, &r.outs[0]));
    auto hb = corio::create_task(wait_at(b, origin, 0s, &r.outs[1]));
    co_await corio::sleep(1s);
    b.abort();
    r.broken_after_abort = b.broken();
    r.n_waiting_broken = b.n_waiting();
    co_await finish(ha);
    co_await finish(hb);
    try {
        (void)co_await b.wait();
    } catch (...) {
        r.later_wait = error_name(std::current_exception());
    }
    b.reset();
    r.broken_after_reset = b.broken();
    std::vector<task_handle<>> hs;
    for (std::size_t i = 2; i < 5; ++i)
        hs.push_back(corio::create_task(wait_at(b, origin, 0s, &r.outs[i])));
    for (auto& h : hs)
        co_await h;
    co_return r;
}

TEST(Barrier, AbortBreaksTheWaitingTasksAndLaterWaitsUntilReset) {
    const auto r = run_guarded(abort_with_waiters());
    EXPECT_EQ(r.outs[0].error, "broken");
    EXPECT_EQ(r.outs[1].error, "broken");
    EXPECT_EQ(r.outs[0].at, 1s);
    EXPECT_TRUE(r.broken_after_abort);
    EXPECT_EQ(r.n_waiting_broken, 0u);
    EXPECT_EQ(r.later_wait, "broken");
    EXPECT_FALSE(r.broken_after_reset);
    EXPECT_EQ(r.outs[2].index, 0u);
    EXPECT_EQ(r.outs[3].index, 1u);
    EXPECT_EQ(r.outs[4].index, 2u);
}

task<break_report> reset_with_waiters() {
    break_report r;
    barrier b(3);
    const auto origin = now();
    auto ha = corio::create_task(wait_at(b, origin, 0s, &r.outs[0]));
    auto hb = corio::create_task(wait_at(b, origin, 0s, &r.outs[1]));
    co_await corio::sleep(1s);
    // C runs after the reset but before A and B leave: the barrier is resetting, so C waits for
    // the next cycle (arriving now, it would get index 2 and release the barrier).
    auto hc = corio::create_task(wait_at(b, origin, 0s, &r.outs[2]));
    b.reset();
    r.broken_after_reset = b.broken();
    r.n_waiting_broken = b.n_waiting();
    co_await finish(ha);
    co_await finish(hb);
    co_await corio::sleep(1s);
    auto hd = corio::create_task(wait_at(b, origin, 0s, &r.outs[3]));
    auto he = corio::create_task(wait_at(b, origin, 0s, &r.outs[4]));
    co_await hc;
    co_await hd;
    co_await he;
    co_return r;
}

TEST(Barrier, ResetBreaksTheWaitingTasksAndEmptiesTheBarrier) {
    const auto r = run_guarded(reset_with_waiters());
    EXPECT_EQ(r.outs[0].error, "broken");
    EXPECT_EQ(r.outs[1].error, "broken");
    EXPECT_EQ(r.outs[0].at, 1s);
    EXPECT_FALSE(r.broken_after_reset);
    EXPECT_EQ(r.n_waiting_broken, 0u);
    EXPECT_EQ(r.outs[2].index, 0u);
    EXPECT_EQ(r.outs[3].index, 1u);
    EXPECT_EQ(r.outs[4].index, 2u);
    EXPECT_EQ(r.outs[2].at, 2s);
}

TEST(Barrier, ResetOfAnEmptyBarrierIsHarmless) {
    barrier b(2);
    b.reset();
    EXPECT_FALSE(b.broken());
    EXPECT_EQ(b.n_waiting(), 0u);
    b.abort();
    EXPECT_TRUE(b.broken());
    b.reset();
    EXPECT_FALSE(b.broken());
}

task<break_report> reset_while_draining() {
    break_report r;
    barrier b(2);
    const auto origin = now();
    auto ha = corio::create_task(wait_at(b, origin, 0s, &r.outs[0]));
    co_await settle();
    r.outs[1].index = co_await b.wait(); // releases A...
    b.reset();                           // ...and resets before A has resumed
    co_await finish(ha);
    r.n_waiting_broken = b.n_waiting();
    // Filling again.
    r.outs[3].index = co_await fill_a_cycle_with_another(b, origin, &r.outs[2]);
    co_return r;
}

TEST(Barrier, ResetWhileDrainingBreaksReleasedTasksThatHaveNotResumedAsInAsyncio) {
    const auto r = run_guarded(reset_while_draining());
    EXPECT_EQ(r.outs[1].index, 1u);
    EXPECT_EQ(r.outs[0].error, "broken");
    EXPECT_EQ(r.n_waiting_broken, 0u);
    EXPECT_EQ(r.outs[2].index, 0u);
    EXPECT_EQ(r.outs[3].index, 1u);
}

task<break_report> abort_while_draining() {
    break_report r;
    barrier b(2);
    const auto origin = now();
    auto ha = corio::create_task(wait_at(b, origin, 0s, &r.outs[0]));
    co_await settle();
    // B releases A and waits for the next cycle; this task runs before A resumes.
    auto hb = corio::create_task(wait_twice(b, origin, &r.outs[1], &r.outs[2]));
    co_await corio::sleep(0s);
    b.abort();
    co_await finish(ha);
    co_await finish(hb);
    r.broken_after_abort = b.broken();
    co_return r;
}

TEST(Barrier, AbortBreaksReleasedTasksNotYetResumedAndTasksWaitingForTheNextCycle) {
    const auto r = run_guarded(abort_while_draining());
    EXPECT_EQ(r.outs[1].index, 1u);
    EXPECT_EQ(r.outs[0].error, "broken");
    EXPECT_EQ(r.outs[2].error, "broken");
    EXPECT_TRUE(r.broken_after_abort);
}

} // namespace
