#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/current_task.hpp"
#include "corio/core/timeout_error.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/sync/condition.hpp"
#include "corio/sync/lock.hpp"
#include "corio/time/sleep.hpp"
#include "corio/time/timeout.hpp"

#include "support/structured_helpers.hpp"
#include "support/sync_helpers.hpp"
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::cancelled_error;
using corio::condition;
using corio::lock;
using corio::scheduler;
using corio::task;
using corio::task_handle;
using corio::test::ended_cancelled;
using corio::test::now;
using corio::test::outside_task;
using corio::test::run_guarded;
using corio::test::since;
using corio::test::yield;

/// Takes the lock, waits once, and logs `name` (with the lock held) when the wait returns.
/// A cancellation is logged as the upper-case name, followed by 'L' if the lock is held then.
task<> wait_and_log(condition& c, char name, std::string* log) {
    auto g = co_await c;
    try {
        co_await c.wait();
    } catch (const cancelled_error&) {
        *log += static_cast<char>(name - 'a' + 'A');
        *log += c.locked() && g.owns_lock() ? 'L' : '?';
        throw;
    }
    *log += c.locked() ? name : '?';
}

task<> wait_only(condition& c) {
    co_await c.wait();
}

/// Takes the lock, notifies `n` waiters and holds the lock for `hold`.
task<> notify_under_lock(condition& c, std::size_t n, scheduler::duration hold) {
    auto g = co_await c;
    c.notify(n);
    co_await corio::sleep(hold);
}

outside_task wait_outside(std::exception_ptr& /*error*/, condition& c) {
    co_await c.wait();
}

// --- misuse ---------------------------------------------------------------------------------

task<std::string> misuse() {
    condition c;
    std::string log;
    try {
        co_await c.wait();
    } catch (const std::runtime_error& e) {
        log += e.what();
        log += '|';
    }
    try {
        c.notify();
    } catch (const std::runtime_error&) {
        log += 'n';
    }
    try {
        c.notify_all();
    } catch (const std::runtime_error&) {
        log += 'a';
    }
    try {
        c.release();
    } catch (const std::runtime_error&) {
        log += 'r';
    }
    log += c.locked() ? 'L' : '-';
    co_return log;
}

TEST(Condition, WaitNotifyAndReleaseWithoutTheLockThrowRuntimeError) {
    EXPECT_EQ(run_guarded(misuse()),
              "corio::condition::wait: the lock is not held (acquire it first)|nar-");
}

TEST(Condition, WaitingOutsideATaskThrowsLogicError) {
    condition c;
    std::exception_ptr error;
    wait_outside(error, c);
    ASSERT_TRUE(error);
    EXPECT_THROW(std::rethrow_exception(error), std::logic_error);
}

task<std::string> forwarding() {
    lock l;
    condition c(l);
    std::string log;
    co_await c.acquire();
    log += l.locked() ? 'L' : '?';
    c.release();
    log += l.locked() ? '?' : '-';
    {
        auto g = co_await c.scoped();
        log += l.locked() && c.locked() ? 'L' : '?';
    }
    log += l.locked() ? '?' : '-';
    co_await l.acquire();
    log += c.locked() ? 'L' : '?';
    l.release();
    co_return log;
}

TEST(Condition, AcquireReleaseLockedAndTheGuardActOnTheGivenLock) {
    EXPECT_EQ(run_guarded(forwarding()), "L-L-L");
}

// --- notification -----------------------------------------------------------------------------

task<std::string> notify_one_at_a_time() {
    condition c;
    std::string log;
    std::vector<task_handle<>> ws;
    for (char ch : std::string("abc"))
        ws.push_back(corio::create_task(wait_and_log(c, ch, &log)));
    co_await yield();
    for (int i = 0; i < 3; ++i) {
        {
            auto g = co_await c;
            c.notify();
            co_await yield();
            log += '.'; // the notified waiter needs the lock: it cannot run while this holds it
        }
        co_await yield();
    }
    for (auto& w : ws)
        co_await w;
    co_return log;
}

TEST(Condition, NotifyWakesOneWaiterAtATimeInFifoOrderOnceTheLockIsReleased) {
    EXPECT_EQ(run_guarded(notify_one_at_a_time()), ".a.b.c");
}

task<std::string> notify_n(std::size_t n, bool all) {
    condition c;
    std::string log;
    std::vector<task_handle<>> ws;
    for (char ch : std::string("abcde"))
        ws.push_back(corio::create_task(wait_and_log(c, ch, &log)));
    co_await yield();
    {
        auto g = co_await c;
        if (all)
            c.notify_all();
        else
            c.notify(n);
    }
    co_await corio::sleep(1s);
    log += '|';
    {
        auto g = co_await c;
        c.notify_all();
    }
    for (auto& w : ws)
        co_await w;
    co_return log;
}

TEST(Condition, NotifyNWakesNWaiters) {
    EXPECT_EQ(run_guarded(notify_n(2, false)), "ab|cde");
}

TEST(Condition, NotifyAllWakesEveryWaiter) {
    EXPECT_EQ(run_guarded(notify_n(0, true)), "abcde|");
}

TEST(Condition, NotifyingMoreThanAreWaitingWakesThoseThereAre) {
    EXPECT_EQ(run_guarded(notify_n(9, false)), "abcde|");
}

task<std::string> notify_without_waiters() {
    condition c;
    auto g = co_await c;
    c.notify();
    c.notify_all();
    co_return c.locked() ? "ok" : "?";
}

TEST(Condition, NotifyingNobodyDoesNothing) {
    EXPECT_EQ(run_guarded(notify_without_waiters()), "ok");
}

task<int> consume(condition& c, std::deque<int>& items) {
    auto g = co_await c;
    auto has_items = [&items] { return !items.empty(); };
    co_await c.wait_for(has_items);
    const int v = items.front();
    items.pop_front();
    co_return v;
}

task<std::vector<int>> producer_consumer() {
    condition c;
    std::deque<int> items;
    std::vector<task_handle<int>> consumers;
    for (int i = 0; i < 4; ++i)
        consumers.push_back(corio::create_task(consume(c, items)));
    for (int v = 1; v <= 4; ++v) {
        co_await corio::sleep(1s);
        auto g = co_await c;
        items.push_back(v * 10);
        c.notify();
    }
    std::vector<int> got;
    for (auto& t : consumers)
        got.push_back(co_await t);
    co_return got;
}

TEST(Condition, WaitForWaitsUntilThePredicateHolds) {
    EXPECT_EQ(run_guarded(producer_consumer()), (std::vector<int>{10, 20, 30, 40}));
}

task<int> wait_for_value(condition& c, int* counter) {
    auto g = co_await c;
    auto reached = [counter] { return *counter >= 3 ? *counter * 100 : 0; };
    co_return co_await c.wait_for(reached);
}

task<std::vector<int>> wait_for_returns_value() {
    condition c;
    int counter = 0;
    auto t = corio::create_task(wait_for_value(c, &counter));
    std::vector<int> out;
    for (int i = 0; i < 5; ++i) {
        co_await corio::sleep(1s);
        auto g = co_await c;
        ++counter;
        c.notify_all(); // spurious for the waiter until counter reaches 3
    }
    out.push_back(co_await t);
    // A predicate that already holds does not wait, and needs no notification.
    auto g = co_await c;
    auto yes = [] { return 7; };
    out.push_back(co_await c.wait_for(yes));
    co_return out;
}

TEST(Condition, WaitForReturnsThePredicatesFinalValue) {
    EXPECT_EQ(run_guarded(wait_for_returns_value()), (std::vector<int>{300, 7}));
}

task<std::string> shared_lock() {
    lock l;
    condition a(l);
    condition b(l);
    std::string log;
    auto wa = corio::create_task(wait_and_log(a, 'a', &log));
    auto wb = corio::create_task(wait_and_log(b, 'b', &log));
    co_await yield();
    {
        auto g = co_await l;
        b.notify(); // only b's waiter
    }
    co_await wb;
    log += wa.done() ? '?' : '|';
    {
        auto g = co_await b;
        a.notify();
    }
    co_await wa;
    co_return log;
}

TEST(Condition, TwoConditionsOverOneLockNotifyTheirOwnWaiters) {
    EXPECT_EQ(run_guarded(shared_lock()), "b|a");
}

// --- cancellation -----------------------------------------------------------------------------

task<std::string> cancel_while_waiting(bool lock_busy) {
    condition c;
    std::string log;
    auto w = corio::create_task(wait_and_log(c, 'w', &log));
    co_await yield(); // w waits, the lock is free
    const auto start = now();
    if (lock_busy) {
        auto g = co_await c;
        w.cancel(); // w must take the lock back before it throws: it waits for this guard
        co_await corio::sleep(5s);
        log += '.';
    } else {
        w.cancel();
    }
    log += co_await ended_cancelled(w) ? 'T' : '?';
    log += since(start) == (lock_busy ? 5s : 0s) ? '+' : '?';
    log += c.locked() ? '?' : '-';
    co_return log;
}

TEST(Condition, AWaiterCancelledWhileWaitingThrowsOnlyOnceItHoldsTheLockAgain) {
    EXPECT_EQ(run_guarded(cancel_while_waiting(true)), ".WLT+-");
}

TEST(Condition, AWaiterCancelledWhileTheLockIsFreeTakesItAndThrowsAtOnce) {
    EXPECT_EQ(run_guarded(cancel_while_waiting(false)), "WLT+-");
}

task<std::string> cancel_twice() {
    condition c;
    std::string log;
    auto w = corio::create_task(wait_and_log(c, 'w', &log));
    co_await yield();
    {
        auto g = co_await c;
        w.cancel(); // while waiting: w now queues for the lock
        co_await yield();
        w.cancel(); // while reacquiring: still one cancelled_error, once it holds the lock
        log += w.done() ? '?' : '.';
    }
    log += co_await ended_cancelled(w) ? 'T' : '?';
    log += c.locked() ? '?' : '-';
    co_return log;
}

TEST(Condition, ASecondCancellationWhileReacquiringStillThrowsOnceWithTheLockHeld) {
    EXPECT_EQ(run_guarded(cancel_twice()), ".WLT-");
}

/// Waiters a and b; a is notified, then cancelled: while it waits for the lock that this task
/// still holds (`granted` false), or once this task has released the lock, which went to a, but
/// before a has resumed (`granted` true). Either way a throws holding the lock and passes the
/// notification it had on to b.
task<std::string> cancel_notified(bool granted) {
    condition c;
    std::string log;
    auto a = corio::create_task(wait_and_log(c, 'a', &log));
    auto b = corio::create_task(wait_and_log(c, 'b', &log));
    co_await yield();
    {
        auto g = co_await c;
        c.notify(); // a is notified: it now waits for the lock
        if (!granted) {
            co_await yield();
            a.cancel(); // while a waits for the lock
            co_await corio::sleep(1s);
            log += '.';
        }
    } // the lock goes to a, which is scheduled but has not resumed
    if (granted) {
        log += c.locked() ? 'L' : '?';
        a.cancel();
    }
    log += co_await ended_cancelled(a) ? 'T' : '?';
    co_await b; // without the pass-on, b would wait forever
    log += c.locked() ? '?' : '-';
    co_return log;
}

TEST(Condition, AWaiterCancelledWhileReacquiringTheLockThrowsHoldingItAndPassesItsNotificationOn) {
    EXPECT_EQ(run_guarded(cancel_notified(false)), ".ALbT-");
}

TEST(Condition, AWaiterCancelledAfterItGotTheLockBackThrowsAndPassesItsNotificationOn) {
    EXPECT_EQ(run_guarded(cancel_notified(true)), "LALbT-");
}

task<std::string> cancel_before_notify() {
    condition c;
    std::string log;
    auto a = corio::create_task(wait_and_log(c, 'a', &log));
    auto b = corio::create_task(wait_and_log(c, 'b', &log));
    auto d = corio::create_task(wait_and_log(c, 'd', &log));
    co_await yield();
    a.cancel(); // not notified yet: it takes no notification with it
    log += co_await ended_cancelled(a) ? 'T' : '?';
    {
        auto g = co_await c;
        c.notify();
    }
    co_await b;
    co_await corio::sleep(1s);
    log += d.done() ? '?' : '|'; // one notify, one waiter woken
    {
        auto g = co_await c;
        c.notify();
    }
    co_await d;
    co_return log;
}

TEST(Condition, AWaiterCancelledBeforeANotifyDoesNotConsumeIt) {
    EXPECT_EQ(run_guarded(cancel_before_notify()), "ALTb|d");
}

task<> cancel_self_then_wait(condition& c, std::string* log) {
    auto g = co_await c;
    corio::current_task().cancel();
    try {
        co_await c.wait();
    } catch (const cancelled_error&) {
        *log += c.locked() ? 'L' : '?';
        throw;
    }
}

task<std::string> pending_cancel() {
    condition c;
    std::string log;
    auto t = corio::create_task(cancel_self_then_wait(c, &log));
    auto other = corio::create_task(notify_under_lock(c, 1, 0s));
    log += co_await ended_cancelled(t) ? 'T' : '?';
    co_await other;
    log += c.locked() ? '?' : '-';
    co_return log;
}

TEST(Condition, APendingCancellationThrowsAtWaitWithoutReleasingTheLock) {
    EXPECT_EQ(run_guarded(pending_cancel()), "LT-");
}

task<> timed_wait(condition& c, std::string* log) {
    auto g = co_await c;
    const auto start = now();
    try {
        co_await corio::timeout(2s, wait_only(c));
    } catch (const corio::timeout_error&) {
        *log += c.locked() ? 't' : '?';
    }
    *log += since(start) == 3s ? '3' : '?';
}

task<std::string> timeout_around_wait() {
    condition c;
    std::string log;
    auto t = corio::create_task(timed_wait(c, &log));
    co_await yield();
    // Hold the lock from 1 s to 3 s: the timeout at 2 s cancels the wait, which then has to
    // take the lock back before timeout_error reaches the caller.
    co_await corio::sleep(1s);
    {
        auto g = co_await c;
        co_await corio::sleep(2s);
    }
    co_await t;
    log += c.locked() ? '?' : '-';
    co_return log;
}

TEST(Condition, ATimeoutAroundWaitRaisesTimeoutErrorOnlyOnceTheLockIsHeldAgain) {
    EXPECT_EQ(run_guarded(timeout_around_wait()), "t3-");
}

task<std::string> wait_for_cancelled() {
    condition c;
    std::string log;
    bool flag = false;
    auto waiter = [](condition& c, bool& flag, std::string* log) -> task<> {
        auto g = co_await c;
        auto pred = [&flag] { return flag; };
        try {
            co_await c.wait_for(pred);
        } catch (const cancelled_error&) {
            *log += c.locked() ? 'L' : '?';
            throw;
        }
    };
    auto t = corio::create_task(waiter(c, flag, &log));
    co_await yield();
    t.cancel();
    log += co_await ended_cancelled(t) ? 'T' : '?';
    log += c.locked() ? '?' : '-';
    co_return log;
}

TEST(Condition, CancellingWaitForThrowsWithTheLockHeld) {
    EXPECT_EQ(run_guarded(wait_for_cancelled()), "LT-");
}

// --- stress -----------------------------------------------------------------------------------

struct queue_state {
    std::deque<int> items;
    long consumed_sum = 0;
    int consumed = 0;
    int cancelled_consumers = 0;
};

task<> consumer_loop(condition& c, queue_state* q) {
    for (;;) {
        auto g = co_await c;
        auto ready = [q] { return !q->items.empty(); };
        co_await c.wait_for(ready);
        const int v = q->items.front();
        q->items.pop_front();
        if (v < 0)
            co_return; // poison pill
        q->consumed_sum += v;
        ++q->consumed;
    }
}

task<queue_state> stress() {
    condition c;
    queue_state q;
    std::mt19937 rng(11);
    std::vector<task_handle<>> consumers;
    for (int i = 0; i < 12; ++i)
        consumers.push_back(corio::create_task(consumer_loop(c, &q)));
    long produced_sum = 0;
    int produced = 0;
    for (int v = 1; v <= 300; ++v) {
        if (rng() % 3 == 0)
            co_await corio::sleep(std::chrono::milliseconds(rng() % 3));
        auto g = co_await c;
        q.items.push_back(v);
        produced_sum += v;
        ++produced;
        c.notify();
        if (v % 40 == 0)
            consumers[rng() % consumers.size()].cancel(); // some notified, some waiting
    }
    // Let the survivors drain the queue, then stop them.
    for (int i = 0; i < 1000; ++i) {
        co_await corio::sleep(1ms);
        auto g = co_await c;
        if (q.items.empty())
            break;
    }
    EXPECT_TRUE(q.items.empty()) << "the consumers stopped consuming: a notification was lost";
    {
        auto g = co_await c;
        for (std::size_t i = 0; i < consumers.size(); ++i)
            q.items.push_back(-1);
        c.notify_all();
    }
    for (auto& t : consumers)
        q.cancelled_consumers += co_await ended_cancelled(t) ? 1 : 0;
    EXPECT_EQ(q.consumed, produced);
    EXPECT_EQ(q.consumed_sum, produced_sum);
    EXPECT_FALSE(c.locked());
    co_return q;
}

TEST(Condition, ProducersAndCancelledConsumersLoseNoItemAndNoNotification) {
    const auto q = run_guarded(stress());
    EXPECT_EQ(q.consumed, 300);
    EXPECT_GT(q.cancelled_consumers, 0);
    EXPECT_LT(q.cancelled_consumers, 12);
}

} // namespace
