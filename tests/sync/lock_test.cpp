#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/current_task.hpp"
#include "corio/core/gather.hpp"
#include "corio/core/timeout_error.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/sync/lock.hpp"
#include "corio/time/sleep.hpp"
#include "corio/time/timeout.hpp"

#include "support/structured_helpers.hpp"
#include "support/sync_helpers.hpp"
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::cancelled_error;
using corio::lock;
using corio::scheduler;
using corio::task;
using corio::task_handle;
using corio::test::acquire_only;
using corio::test::ended_cancelled;
using corio::test::inside_scope;
using corio::test::now;
using corio::test::occupancy;
using corio::test::outside_task;
using corio::test::run_guarded;
using corio::test::since;
using corio::test::take_and_log;
using corio::test::yield;

/// Like take_and_log, with the guard of `co_await l`.
task<> take_scoped_and_log(lock& l, char name, std::string* log) {
    auto g = co_await l;
    *log += name;
    co_await yield();
}

outside_task acquire_outside(std::exception_ptr& /*error*/, lock& l) {
    co_await l.acquire();
}
outside_task lock_outside(std::exception_ptr& /*error*/, lock& l) {
    auto g = co_await l;
}

// --- basics -------------------------------------------------------------------------------

task<std::string> fast_path() {
    lock l;
    std::string log;
    auto other = corio::create_task(take_and_log(l, 'o', &log));
    // `other` is ready to run, but a free lock is taken without suspending, so it cannot run
    // before this task logs.
    co_await l.acquire();
    log += l.locked() ? 'L' : '-';
    l.release();
    log += l.locked() ? 'L' : '-';
    co_await other;
    co_return log;
}

TEST(Lock, AFreeLockIsTakenWithoutSuspending) {
    EXPECT_EQ(run_guarded(fast_path()), "L-o");
}

TEST(Lock, ANewLockIsUnlocked) {
    lock l;
    EXPECT_FALSE(l.locked());
}

TEST(Lock, ReleasingAnUnlockedLockThrowsRuntimeError) {
    lock l;
    EXPECT_THROW(l.release(), std::runtime_error);
    EXPECT_FALSE(l.locked());
}

task<std::string> release_twice() {
    lock l;
    co_await l.acquire();
    l.release();
    try {
        l.release();
    } catch (const std::runtime_error& e) {
        co_return e.what();
    }
    co_return "no error";
}

TEST(Lock, ReleasingTwiceThrowsRuntimeErrorTheSecondTime) {
    EXPECT_EQ(run_guarded(release_twice()), "corio::lock::release: the lock is not locked");
}

TEST(Lock, AcquiringOutsideATaskThrowsLogicError) {
    lock l;
    std::exception_ptr error;
    acquire_outside(error, l);
    ASSERT_TRUE(error);
    EXPECT_THROW(std::rethrow_exception(error), std::logic_error);
    EXPECT_FALSE(l.locked());

    error = nullptr;
    lock_outside(error, l);
    ASSERT_TRUE(error);
    EXPECT_THROW(std::rethrow_exception(error), std::logic_error);
    EXPECT_FALSE(l.locked());
}

// --- FIFO and hand-off ----------------------------------------------------------------------

task<std::string> fifo_order() {
    lock l;
    std::string log;
    co_await l.acquire();
    std::vector<task_handle<>> waiters;
    for (char c : std::string("abcde"))
        waiters.push_back(corio::create_task(take_and_log(l, c, &log, 1s)));
    co_await yield(); // every waiter is queued now, in creation order
    l.release();
    for (auto& w : waiters)
        co_await w;
    log += l.locked() ? 'L' : '-';
    co_return log;
}

TEST(Lock, WaitersGetTheLockInFifoOrder) {
    EXPECT_EQ(run_guarded(fifo_order()), "abcde-");
}

task<std::string> hand_off() {
    lock l;
    std::string log;
    co_await l.acquire();
    auto a = corio::create_task(take_and_log(l, 'a', &log));
    co_await yield();
    l.release();
    // The lock went to `a`, which has not run yet: it stays locked, and this task, arriving
    // later, queues behind `a` instead of barging.
    log += l.locked() ? 'L' : '-';
    co_await l.acquire();
    log += 'm';
    l.release();
    co_await a;
    log += l.locked() ? 'L' : '-';
    co_return log;
}

TEST(Lock, ReleaseHandsTheLockToTheOldestWaiterSoANewcomerCannotBarge) {
    EXPECT_EQ(run_guarded(hand_off()), "Lam-");
}

task<std::string> scoped_forms() {
    lock l;
    std::string log;
    {
        auto g = co_await l;
        log += g.owns_lock() && l.locked() ? 'g' : '?';
    }
    log += l.locked() ? 'L' : '-';
    {
        auto g = co_await l.scoped();
        log += static_cast<bool>(g) ? 's' : '?';
        auto waiter = corio::create_task(take_scoped_and_log(l, 'w', &log));
        co_await yield();
        log += 'x'; // the waiter is queued: it cannot run while the guard lives
    }
    co_await yield();
    co_await yield();
    log += l.locked() ? 'L' : '-';
    co_return log;
}

TEST(Lock, TheGuardOfCoAwaitLockReleasesAtTheEndOfItsScope) {
    EXPECT_EQ(run_guarded(scoped_forms()), "g-sxw-");
}

task<int> throw_under_guard(lock& l) {
    auto g = co_await l;
    co_await yield();
    throw std::runtime_error("boom");
}

task<std::string> guard_and_exception() {
    lock l;
    std::string log;
    auto waiter = corio::create_task(take_and_log(l, 'w', &log));
    try {
        co_await throw_under_guard(l);
    } catch (const std::runtime_error& e) {
        log += e.what();
    }
    co_await waiter;
    log += l.locked() ? 'L' : '-';
    co_return log;
}

TEST(Lock, AnExceptionLeavingTheGuardsScopeReleasesTheLock) {
    // throw_under_guard runs first and holds the lock across a yield; the waiter queues, and
    // gets the lock when the exception unwinds the guard.
    EXPECT_EQ(run_guarded(guard_and_exception()), "boomw-");
}

task<std::string> guard_moves() {
    lock l;
    std::string log;
    lock::guard outer;
    log += outer ? '?' : 'e';
    {
        auto g = co_await l;
        outer = std::move(g);
        log += g.owns_lock() ? '?' : 'm';
    }
    log += l.locked() ? 'L' : '-'; // the moved-from guard released nothing
    lock::guard moved(std::move(outer));
    moved.release();
    log += l.locked() ? 'L' : '-';
    try {
        moved.release();
    } catch (const std::logic_error&) {
        log += 'x';
    }
    co_return log;
}

TEST(Lock, AGuardIsMoveOnlyAndReleasesExactlyOnce) {
    EXPECT_EQ(run_guarded(guard_moves()), "emL-x");
}

// --- cancellation ---------------------------------------------------------------------------

task<std::string> cancel_queued() {
    lock l;
    std::string log;
    co_await l.acquire();
    auto a = corio::create_task(take_and_log(l, 'a', &log));
    auto b = corio::create_task(take_and_log(l, 'b', &log));
    auto c = corio::create_task(take_and_log(l, 'c', &log));
    co_await yield();
    b.cancel();
    co_await yield();
    log += b.done() && b.cancelled() ? 'B' : '?'; // gone while the lock is still held
    l.release();
    co_await a;
    co_await c;
    log += l.locked() ? 'L' : '-';
    co_return log;
}

TEST(Lock, AWaiterCancelledWhileQueuedLeavesAndTheOthersProceed) {
    EXPECT_EQ(run_guarded(cancel_queued()), "Bac-");
}

task<std::string> cancel_after_grant(bool with_next) {
    lock l;
    std::string log;
    co_await l.acquire();
    auto a = corio::create_task(take_and_log(l, 'a', &log));
    task_handle<> b;
    if (with_next)
        b = corio::create_task(take_and_log(l, 'b', &log));
    co_await yield();
    l.release(); // granted to a, which is now scheduled but has not resumed
    a.cancel();  // so the cancellation can only be delivered when it resumes
    log += l.locked() ? 'L' : '-';
    log += co_await ended_cancelled(a) ? 'A' : '?';
    if (with_next)
        co_await b;
    log += l.locked() ? 'L' : '-';
    co_return log;
}

TEST(Lock, AWaiterCancelledAfterTheGrantPassesTheLockToTheNextWaiter) {
    // a resumes, hands the lock to b and ends cancelled; b runs before this task sees a end.
    EXPECT_EQ(run_guarded(cancel_after_grant(true)), "LbA-");
}

TEST(Lock, AWaiterCancelledAfterTheGrantUnlocksTheLockWhenNobodyElseWaits) {
    EXPECT_EQ(run_guarded(cancel_after_grant(false)), "LA-");
}

task<> cancel_self_then_acquire(lock& l, std::string* log) {
    corio::current_task().cancel();
    try {
        co_await l.acquire();
        *log += l.locked() ? 'f' : '?'; // the fast path is no suspension point
        l.release();
        co_await yield(); // the next suspension point delivers the pending cancellation
    } catch (const cancelled_error&) {
        *log += 'c';
        throw;
    }
}

task<std::string> pending_cancel(bool locked_by_other) {
    lock l;
    std::string log;
    co_await l.acquire();
    if (!locked_by_other)
        l.release();
    auto t = corio::create_task(cancel_self_then_acquire(l, &log));
    co_await yield();
    if (locked_by_other) {
        // The pending cancellation threw before queueing: releasing finds no waiter.
        l.release();
        log += l.locked() ? 'L' : '-';
    }
    log += co_await ended_cancelled(t) ? 'T' : '?';
    co_return log;
}

TEST(Lock, APendingCancellationThrowsAtAnAcquireThatMustWaitWithoutQueueing) {
    EXPECT_EQ(run_guarded(pending_cancel(true)), "c-T");
}

TEST(Lock, APendingCancellationIsNotDeliveredByTheFastPath) {
    // As in asyncio: taking a free lock does not suspend, so the cancellation stays pending
    // until the next real suspension point.
    EXPECT_EQ(run_guarded(pending_cancel(false)), "fcT");
}

task<> acquire_and_hold(lock& l, scheduler::duration hold) {
    co_await l.acquire();
    co_await corio::sleep(hold);
    l.release();
}

task<std::string> timeout_around_acquire() {
    lock l;
    std::string log;
    auto holder = corio::create_task(acquire_and_hold(l, 10s));
    co_await yield();
    const auto start = now();
    try {
        co_await corio::timeout(1s, acquire_only(l));
        log += '?';
    } catch (const corio::timeout_error&) {
        log += 't';
    }
    log += since(start) == 1s ? '1' : '?';
    // The timed-out waiter left the queue: the holder's release unlocks the lock.
    co_await holder;
    log += l.locked() ? 'L' : '-';
    co_await corio::wait_for(acquire_only(l), 1s); // free now: at once
    log += l.locked() ? 'L' : '-';
    l.release();
    co_return log;
}

TEST(Lock, ATimeoutAroundAcquireWithdrawsTheWaiter) {
    EXPECT_EQ(run_guarded(timeout_around_acquire()), "t1-L");
}

task<std::string> timeout_in_the_middle() {
    lock l;
    std::string log;
    auto holder = corio::create_task(acquire_and_hold(l, 3s));
    co_await yield();
    auto a = corio::create_task(take_and_log(l, 'a', &log));
    auto timed = corio::create_task(corio::wait_for(acquire_only(l), 1s));
    auto c = corio::create_task(take_and_log(l, 'c', &log));
    co_await yield();
    try {
        co_await timed;
    } catch (const corio::timeout_error&) {
        log += 't';
    }
    co_await holder;
    co_await a;
    co_await c;
    log += l.locked() ? 'L' : '-';
    co_return log;
}

TEST(Lock, AWaiterTimedOutBetweenTwoOthersKeepsTheirOrder) {
    EXPECT_EQ(run_guarded(timeout_in_the_middle()), "tac-");
}

// --- stress ---------------------------------------------------------------------------------

task<> critical_sections(lock& l, occupancy* p, int rounds, bool scoped) {
    for (int i = 0; i < rounds; ++i) {
        lock::guard g;
        if (scoped)
            g = co_await l;
        else
            co_await l.acquire();
        {
            inside_scope in(*p);
            co_await yield();
        }
        if (!scoped)
            l.release();
    }
}

task<occupancy> many_tasks() {
    lock l;
    occupancy p;
    std::vector<task_handle<>> ts;
    for (int i = 0; i < 20; ++i)
        ts.push_back(corio::create_task(critical_sections(l, &p, 25, i % 2 == 0)));
    for (auto& t : ts)
        co_await t;
    EXPECT_FALSE(l.locked());
    co_return p;
}

TEST(Lock, ManyTasksNeverOverlapInsideTheLock) {
    const auto p = run_guarded(many_tasks());
    EXPECT_EQ(p.max_inside, 1);
    EXPECT_EQ(p.entries, 20 * 25);
}

task<occupancy> random_cancellations() {
    lock l;
    occupancy p;
    const corio::test::chaos_plan plan{
        .workers = 30, .rounds_per_worker = 30, .max_hold_ms = 3, .seed = 42, .max_pause_ms = 4};
    const int cancelled = co_await corio::test::cancel_at_random(l, &p, plan);
    EXPECT_GT(cancelled, 0);
    EXPECT_FALSE(l.locked());
    co_await corio::wait_for(acquire_only(l), 1s); // nobody was left holding it
    l.release();
    co_return p;
}

TEST(Lock, RandomCancellationsNeverBreakExclusionOrLoseTheLock) {
    const auto p = run_guarded(random_cancellations());
    EXPECT_GT(p.entries, 30);
    EXPECT_EQ(p.max_inside, 1);
    EXPECT_EQ(p.inside, 0) << "every holder left its critical section";
}

} // namespace
