#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/current_task.hpp"
#include "corio/core/timeout_error.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/sync/semaphore.hpp"
#include "corio/time/sleep.hpp"
#include "corio/time/timeout.hpp"

#include "support/structured_helpers.hpp"
#include "support/sync_helpers.hpp"
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::cancelled_error;
using corio::scheduler;
using corio::semaphore;
using corio::task;
using corio::task_handle;
using corio::test::acquire_only;
using corio::test::ended_cancelled;
using corio::test::now;
using corio::test::occupancy;
using corio::test::outside_task;
using corio::test::run_guarded;
using corio::test::since;
using corio::test::take_and_log;
using corio::test::yield;

outside_task acquire_outside(std::exception_ptr& /*error*/, semaphore& s) {
    co_await s.acquire();
}

// --- counting -------------------------------------------------------------------------------

TEST(Semaphore, ANegativeInitialValueThrowsInvalidArgument) {
    EXPECT_THROW(semaphore(-1), std::invalid_argument);
}

TEST(Semaphore, TheDefaultHasOneUnit) {
    semaphore s;
    EXPECT_EQ(s.value(), 1);
    EXPECT_FALSE(s.locked());
    semaphore zero(0);
    EXPECT_EQ(zero.value(), 0);
    EXPECT_TRUE(zero.locked());
}

TEST(Semaphore, AcquiringOutsideATaskThrowsLogicError) {
    semaphore s(2);
    std::exception_ptr error;
    acquire_outside(error, s);
    ASSERT_TRUE(error);
    EXPECT_THROW(std::rethrow_exception(error), std::logic_error);
    EXPECT_EQ(s.value(), 2);
}

task<std::string> counting() {
    semaphore s(3);
    std::string log;
    auto other = corio::create_task(take_and_log(s, 'o', &log));
    for (int i = 0; i < 3; ++i) {
        co_await s.acquire(); // free units: no suspension, so `other` has not run
        log += static_cast<char>('0' + s.value());
    }
    log += s.locked() ? 'L' : '?';
    co_await corio::sleep(1s);
    log += other.done() ? '?' : 'w'; // no unit left: `other` waits
    s.release();
    co_await other;
    log += static_cast<char>('0' + s.value());
    s.release();
    s.release();
    log += static_cast<char>('0' + s.value());
    s.release(); // a plain semaphore may go above its initial value
    log += static_cast<char>('0' + s.value());
    co_return log;
}

TEST(Semaphore, AcquireTakesUnitsUntilNoneIsLeftThenWaits) {
    EXPECT_EQ(run_guarded(counting()), "210Lwo134");
}

task<std::size_t> max_concurrency(std::ptrdiff_t units) {
    semaphore s(units);
    int inside = 0;
    int max_inside = 0;
    auto worker = [](semaphore& s, int& inside, int& max_inside, int i) -> task<> {
        auto unit = co_await s;
        ++inside;
        max_inside = std::max(max_inside, inside);
        co_await corio::sleep(std::chrono::milliseconds(1 + i % 5));
        --inside;
    };
    std::vector<task_handle<>> ts;
    for (int i = 0; i < 40; ++i)
        ts.push_back(corio::create_task(worker(s, inside, max_inside, i)));
    for (auto& t : ts)
        co_await t;
    EXPECT_EQ(s.value(), units);
    co_return static_cast<std::size_t>(max_inside);
}

TEST(Semaphore, AtMostValueTasksHoldAUnitAtOnce) {
    EXPECT_EQ(run_guarded(max_concurrency(3)), 3u);
    EXPECT_EQ(run_guarded(max_concurrency(1)), 1u);
}

// --- FIFO and hand-off ----------------------------------------------------------------------

task<std::string> fifo_order() {
    semaphore s(0);
    std::string log;
    std::vector<task_handle<>> ws;
    for (char c : std::string("abcde"))
        ws.push_back(corio::create_task(take_and_log(s, c, &log, 1s)));
    co_await yield();
    s.release();
    for (auto& w : ws)
        co_await w;
    log += static_cast<char>('0' + s.value());
    co_return log;
}

TEST(Semaphore, WaitersGetUnitsInFifoOrder) {
    EXPECT_EQ(run_guarded(fifo_order()), "abcde1");
}

task<std::string> no_barging() {
    semaphore s(1);
    std::string log;
    co_await s.acquire();
    auto a = corio::create_task(take_and_log(s, 'a', &log));
    co_await yield();
    s.release(); // handed to a: the value stays 0
    log += static_cast<char>('0' + s.value());
    log += s.locked() ? 'L' : '?';
    co_await s.acquire(); // so this newcomer queues behind a
    log += 'm';
    s.release();
    co_await a;
    log += static_cast<char>('0' + s.value());
    co_return log;
}

TEST(Semaphore, ReleaseHandsTheUnitToTheOldestWaiterSoANewcomerCannotBarge) {
    EXPECT_EQ(run_guarded(no_barging()), "0Lam1");
}

// --- guards ---------------------------------------------------------------------------------

task<int> throw_holding_a_unit(semaphore& s) {
    auto unit = co_await s;
    co_await yield();
    throw std::runtime_error("boom");
}

task<std::string> guards() {
    semaphore s(2);
    std::string log;
    {
        auto a = co_await s;
        auto b = co_await s.scoped();
        log += static_cast<char>('0' + s.value());
        log += a.owns_unit() && static_cast<bool>(b) ? 'g' : '?';
        semaphore::guard moved = std::move(a);
        log += a.owns_unit() ? '?' : 'm';
        moved.release();
        log += static_cast<char>('0' + s.value());
        try {
            moved.release();
        } catch (const std::logic_error&) {
            log += 'x';
        }
    }
    log += static_cast<char>('0' + s.value());
    try {
        co_await throw_holding_a_unit(s);
    } catch (const std::runtime_error&) {
        log += 'e';
    }
    log += static_cast<char>('0' + s.value());
    co_return log;
}

TEST(Semaphore, GuardsGiveTheirUnitBackOnceEvenOnAnException) {
    EXPECT_EQ(run_guarded(guards()), "0gm1x2e2");
}

// --- cancellation ---------------------------------------------------------------------------

task<std::string> cancel_queued() {
    semaphore s(0);
    std::string log;
    auto a = corio::create_task(take_and_log(s, 'a', &log));
    auto b = corio::create_task(take_and_log(s, 'b', &log));
    auto c = corio::create_task(take_and_log(s, 'c', &log));
    co_await yield();
    b.cancel();
    log += co_await ended_cancelled(b) ? 'B' : '?';
    log += static_cast<char>('0' + s.value());
    s.release();
    co_await a;
    co_await c;
    log += static_cast<char>('0' + s.value());
    co_return log;
}

TEST(Semaphore, AWaiterCancelledWhileQueuedLeavesWithoutTakingAUnit) {
    EXPECT_EQ(run_guarded(cancel_queued()), "B0ac1");
}

task<std::string> cancel_after_grant(bool with_next) {
    semaphore s(0);
    std::string log;
    auto a = corio::create_task(take_and_log(s, 'a', &log));
    task_handle<> b;
    if (with_next)
        b = corio::create_task(take_and_log(s, 'b', &log));
    co_await yield();
    s.release(); // handed to a, which has not resumed yet
    a.cancel();
    log += static_cast<char>('0' + s.value());
    log += co_await ended_cancelled(a) ? 'A' : '?';
    if (with_next)
        co_await b;
    log += static_cast<char>('0' + s.value());
    co_return log;
}

TEST(Semaphore, AWaiterCancelledAfterTheGrantPassesTheUnitToTheNextWaiter) {
    // a resumes, hands the unit to b and ends cancelled; b runs before this task sees a end.
    EXPECT_EQ(run_guarded(cancel_after_grant(true)), "0bA1");
}

TEST(Semaphore, AWaiterCancelledAfterTheGrantGivesTheUnitBackWhenNobodyElseWaits) {
    EXPECT_EQ(run_guarded(cancel_after_grant(false)), "0A1");
}

task<> cancel_self_then_acquire(semaphore& s, std::string* log) {
    corio::current_task().cancel();
    try {
        co_await s.acquire();
        *log += 'f';
        s.release();
        co_await yield();
    } catch (const cancelled_error&) {
        *log += 'c';
        throw;
    }
}

task<std::string> pending_cancel(std::ptrdiff_t units) {
    semaphore s(units);
    std::string log;
    auto t = corio::create_task(cancel_self_then_acquire(s, &log));
    log += co_await ended_cancelled(t) ? 'T' : '?';
    s.release(); // nobody queued: the value just grows
    log += static_cast<char>('0' + s.value());
    co_return log;
}

TEST(Semaphore, APendingCancellationThrowsAtAnAcquireThatMustWaitWithoutQueueing) {
    EXPECT_EQ(run_guarded(pending_cancel(0)), "cT1");
}

TEST(Semaphore, APendingCancellationIsNotDeliveredByTheFastPath) {
    EXPECT_EQ(run_guarded(pending_cancel(1)), "fcT2");
}

task<std::string> timeout_around_acquire() {
    semaphore s(0);
    std::string log;
    const auto start = now();
    auto a = corio::create_task(take_and_log(s, 'a', &log));
    co_await yield();
    auto timed = corio::create_task(corio::wait_for(acquire_only(s), 1s));
    auto c = corio::create_task(take_and_log(s, 'c', &log));
    co_await yield();
    try {
        co_await timed;
    } catch (const corio::timeout_error&) {
        log += 't';
    }
    log += since(start) == 1s ? '1' : '?';
    s.release();
    co_await a;
    co_await c;
    log += static_cast<char>('0' + s.value());
    co_return log;
}

TEST(Semaphore, ATimeoutAroundAcquireWithdrawsTheWaiterAndKeepsTheOthersInOrder) {
    EXPECT_EQ(run_guarded(timeout_around_acquire()), "t1ac1");
}

task<occupancy> random_cancellations() {
    semaphore s(4);
    occupancy u;
    const corio::test::chaos_plan plan{
        .workers = 30, .rounds_per_worker = 20, .max_hold_ms = 4, .seed = 3, .max_pause_ms = 3};
    const int cancelled = co_await corio::test::cancel_at_random(s, &u, plan);
    EXPECT_GT(cancelled, 0);
    EXPECT_EQ(s.value(), 4) << "every unit came back";
    co_return u;
}

TEST(Semaphore, RandomCancellationsNeverLoseOrDuplicateAUnit) {
    const auto u = run_guarded(random_cancellations());
    EXPECT_GT(u.entries, 30);
    EXPECT_EQ(u.max_inside, 4);
    EXPECT_EQ(u.inside, 0);
}

} // namespace
