#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/current_task.hpp"
#include "corio/core/timeout_error.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/sync/queue.hpp"
#include "corio/sync/queue_errors.hpp"
#include "corio/time/sleep.hpp"
#include "corio/time/timeout.hpp"

#include "support/structured_helpers.hpp"
#include "support/sync_helpers.hpp"
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::cancelled_error;
using corio::queue;
using corio::scheduler;
using corio::task;
using corio::task_handle;
using corio::test::error_name;
using corio::test::finish;
using corio::test::now;
using corio::test::run_guarded;
using corio::test::settle;
using corio::test::since;

/// How a child task that used the queue ended.
struct outcome {
    std::optional<int> value;
    std::string error;
    scheduler::duration at{};
};

task<> get_into(queue<int>& q, outcome* out) {
    const auto start = now();
    try {
        out->value = co_await q.get();
    } catch (...) {
        out->error = error_name(std::current_exception());
        out->at = since(start);
        throw;
    }
    out->at = since(start);
}

task<> put_from(queue<int>& q, int v, outcome* out) {
    const auto start = now();
    try {
        co_await q.put(v);
        out->value = v;
    } catch (...) {
        out->error = error_name(std::current_exception());
        out->at = since(start);
        throw;
    }
    out->at = since(start);
}

task<> join_into(queue<int>& q, outcome* out) {
    const auto start = now();
    try {
        co_await q.join();
        out->value = 1;
    } catch (...) {
        out->error = error_name(std::current_exception());
        out->at = since(start);
        throw;
    }
    out->at = since(start);
}

task<int> get_one(queue<int>& q) {
    co_return co_await q.get();
}
task<> put_one(queue<int>& q, int v) {
    co_await q.put(v);
}

// --- order, sizes, nowait --------------------------------------------------------------

TEST(Queue, ItemsComeOutInTheOrderTheyWentIn) {
    queue<int> q;
    for (int i = 0; i < 5; ++i)
        q.put_nowait(i);
    std::vector<int> got;
    while (!q.empty())
        got.push_back(q.get_nowait());
    EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(Queue, SizeEmptyFullAndMaxsizeDescribeTheQueue) {
    queue<int> q(2);
    EXPECT_EQ(q.maxsize(), 2u);
    EXPECT_TRUE(q.empty());
    EXPECT_FALSE(q.full());
    q.put_nowait(1);
    EXPECT_EQ(q.size(), 1u);
    EXPECT_EQ(q.qsize(), 1u);
    EXPECT_FALSE(q.empty());
    EXPECT_FALSE(q.full());
    q.put_nowait(2);
    EXPECT_TRUE(q.full());
    EXPECT_EQ(q.get_nowait(), 1);
    EXPECT_FALSE(q.full());
}

TEST(Queue, AnUnboundedQueueIsNeverFull) {
    queue<int> q;
    EXPECT_EQ(q.maxsize(), 0u);
    for (int i = 0; i < 10000; ++i)
        q.put_nowait(i);
    EXPECT_FALSE(q.full());
    EXPECT_EQ(q.size(), 10000u);
}

TEST(Queue, PutNowaitOnAFullQueueThrowsQueueFullAndKeepsTheQueue) {
    queue<int> q(1);
    q.put_nowait(1);
    EXPECT_THROW(q.put_nowait(2), corio::queue_full);
    EXPECT_EQ(q.size(), 1u);
    EXPECT_EQ(q.get_nowait(), 1);
}

TEST(Queue, GetNowaitOnAnEmptyQueueThrowsQueueEmpty) {
    queue<int> q;
    EXPECT_THROW(q.get_nowait(), corio::queue_empty);
    q.put_nowait(3);
    EXPECT_EQ(q.get_nowait(), 3);
    EXPECT_THROW(q.get_nowait(), corio::queue_empty);
}

TEST(Queue, TheErrorsAreRuntimeErrorsWithAMessage) {
    EXPECT_STREQ(corio::queue_full().what(), "queue is full");
    EXPECT_STREQ(corio::queue_empty().what(), "queue is empty");
    EXPECT_STREQ(corio::queue_shutdown().what(), "queue is shut down");
    const std::runtime_error& e = corio::queue_shutdown();
    EXPECT_NE(std::string(e.what()), "");
}

// --- blocking get / put ----------------------------------------------------------------

task<> put_after(queue<int>& q, scheduler::duration d, int v) {
    co_await corio::sleep(d);
    q.put_nowait(v);
}

task<outcome> get_waits_for_a_put() {
    queue<int> q;
    outcome out;
    auto producer = corio::create_task(put_after(q, 2s, 42));
    co_await get_into(q, &out);
    co_await producer;
    co_return out;
}

TEST(Queue, GetWaitsUntilAnItemIsPut) {
    const auto r = run_guarded(get_waits_for_a_put());
    EXPECT_EQ(r.value, 42);
    EXPECT_EQ(r.at, 2s);
}

task<bool> get_with_an_item_does_not_suspend() {
    queue<int> q;
    q.put_nowait(5);
    bool other_ran = false;
    auto other = corio::create_task([](bool* ran) -> task<> {
        *ran = true;
        co_return;
    }(&other_ran));
    const int v = co_await q.get();
    const bool ran_before = other_ran;
    co_await other;
    co_return v == 5 && !ran_before;
}

TEST(Queue, GetWithAnItemAvailableCompletesWithoutSuspending) {
    EXPECT_TRUE(run_guarded(get_with_an_item_does_not_suspend()));
}

struct backpressure_report {
    std::vector<scheduler::duration> put_times;
    std::vector<int> got;
};

task<> slow_consumer(queue<int>& q, int n, std::vector<int>* got) {
    for (int i = 0; i < n; ++i) {
        co_await corio::sleep(1s);
        got->push_back(co_await q.get());
    }
}

task<backpressure_report> put_waits_while_full() {
    backpressure_report r;
    queue<int> q(2);
    const auto start = now();
    auto consumer = corio::create_task(slow_consumer(q, 5, &r.got));
    for (int i = 0; i < 5; ++i) {
        co_await q.put(i);
        r.put_times.push_back(since(start));
        EXPECT_LE(q.size(), 2u);
    }
    co_await consumer;
    co_return r;
}

TEST(Queue, PutWaitsWhileTheQueueIsFullWhichGivesBackpressure) {
    const auto r = run_guarded(put_waits_while_full());
    // Two fit at once; each later put waits for the consumer's next get, one per second.
    EXPECT_EQ(r.put_times, (std::vector<scheduler::duration>{0s, 0s, 1s, 2s, 3s}));
    EXPECT_EQ(r.got, (std::vector<int>{0, 1, 2, 3, 4}));
}

task<std::vector<outcome>> getters_in_arrival_order() {
    queue<int> q;
    std::vector<outcome> outs(3);
    std::vector<task_handle<>> hs;
    for (auto& o : outs) {
        hs.push_back(corio::create_task(get_into(q, &o)));
        co_await corio::sleep(0s); // each parks before the next starts
    }
    for (int i = 1; i <= 3; ++i)
        q.put_nowait(i * 10);
    for (auto& h : hs)
        co_await h;
    co_return outs;
}

TEST(Queue, WaitingGettersAreServedInTheOrderTheyCame) {
    const auto outs = run_guarded(getters_in_arrival_order());
    EXPECT_EQ(outs[0].value, 10);
    EXPECT_EQ(outs[1].value, 20);
    EXPECT_EQ(outs[2].value, 30);
}

task<std::vector<int>> putters_in_arrival_order() {
    queue<int> q(1);
    q.put_nowait(0);
    std::vector<outcome> outs(3);
    std::vector<task_handle<>> hs;
    for (int i = 0; i < 3; ++i) {
        hs.push_back(corio::create_task(put_from(q, i + 1, &outs[static_cast<std::size_t>(i)])));
        co_await corio::sleep(0s);
    }
    std::vector<int> got;
    for (int i = 0; i < 4; ++i)
        got.push_back(co_await q.get());
    for (auto& h : hs)
        co_await h;
    co_return got;
}

TEST(Queue, WaitingPuttersAreServedInTheOrderTheyCame) {
    EXPECT_EQ(run_guarded(putters_in_arrival_order()), (std::vector<int>{0, 1, 2, 3}));
}

struct claim_report {
    std::string nowait_error;
    std::size_t size_seen = 0;
    outcome waiter;
};

task<claim_report> woken_getter_keeps_its_item() {
    claim_report r;
    queue<int> q;
    auto h = corio::create_task(get_into(q, &r.waiter));
    co_await settle();
    q.put_nowait(9); // wakes the waiting getter, which has not run yet
    r.size_seen = q.size();
    try {
        (void)q.get_nowait();
    } catch (...) {
        r.nowait_error = error_name(std::current_exception());
    }
    co_await h;
    co_return r;
}

TEST(Queue, AnItemPromisedToAWokenGetterIsNotTakenByAnotherCaller) {
    const auto r = run_guarded(woken_getter_keeps_its_item());
    EXPECT_EQ(r.size_seen, 1u) << "the item is in the queue until the getter resumes";
    EXPECT_EQ(r.nowait_error, "empty");
    EXPECT_EQ(r.waiter.value, 9);
}

task<std::string> woken_putter_keeps_its_slot() {
    queue<int> q(1);
    q.put_nowait(1);
    outcome p;
    auto h = corio::create_task(put_from(q, 2, &p));
    co_await settle();
    EXPECT_EQ(q.get_nowait(), 1); // frees the slot for the waiting putter
    std::string err;
    try {
        q.put_nowait(3);
    } catch (...) {
        err = error_name(std::current_exception());
    }
    co_await h;
    EXPECT_EQ(q.get_nowait(), 2);
    co_return err;
}

TEST(Queue, ASlotPromisedToAWokenPutterIsNotTakenByAnotherCaller) {
    EXPECT_EQ(run_guarded(woken_putter_keeps_its_slot()), "full");
}

// --- cancellation at every suspension point -----------------------------------------------

struct cancel_report {
    outcome first;
    outcome second;
    std::size_t size_after = 99;
    std::vector<int> left;
};

task<cancel_report> cancel_a_blocked_get() {
    cancel_report r;
    queue<int> q;
    auto h = corio::create_task(get_into(q, &r.first));
    co_await settle();
    h.cancel();
    co_await finish(h);
    q.put_nowait(1);
    r.size_after = q.size();
    r.left.push_back(q.get_nowait());
    co_return r;
}

TEST(Queue, ACancelledBlockedGetTakesNothing) {
    const auto r = run_guarded(cancel_a_blocked_get());
    EXPECT_EQ(r.first.error, "cancelled");
    EXPECT_FALSE(r.first.value);
    EXPECT_EQ(r.size_after, 1u);
    EXPECT_EQ(r.left, (std::vector<int>{1}));
}

task<cancel_report> cancel_a_woken_getter(bool with_second_getter) {
    cancel_report r;
    queue<int> q;
    auto h1 = corio::create_task(get_into(q, &r.first));
    co_await settle();
    task_handle<> h2;
    if (with_second_getter) {
        h2 = corio::create_task(get_into(q, &r.second));
        co_await settle();
    }
    q.put_nowait(7); // wakes the first getter...
    h1.cancel();     // ...which is cancelled before it runs
    co_await finish(h1);
    if (with_second_getter)
        co_await h2;
    r.size_after = q.size();
    while (!q.empty())
        r.left.push_back(q.get_nowait());
    co_return r;
}

TEST(Queue, AGetterCancelledAfterBeingWokenPassesTheItemToTheNextGetter) {
    const auto r = run_guarded(cancel_a_woken_getter(true));
    EXPECT_EQ(r.first.error, "cancelled");
    EXPECT_FALSE(r.first.value);
    EXPECT_EQ(r.second.value, 7);
    EXPECT_EQ(r.size_after, 0u);
}

TEST(Queue, AGetterCancelledAfterBeingWokenLeavesTheItemInTheQueue) {
    const auto r = run_guarded(cancel_a_woken_getter(false));
    EXPECT_EQ(r.first.error, "cancelled");
    EXPECT_EQ(r.size_after, 1u);
    EXPECT_EQ(r.left, (std::vector<int>{7}));
}

task<cancel_report> cancel_a_blocked_put() {
    cancel_report r;
    queue<int> q(1);
    q.put_nowait(1);
    auto h = corio::create_task(put_from(q, 2, &r.first));
    co_await settle();
    h.cancel();
    co_await finish(h);
    r.size_after = q.size();
    r.left.push_back(q.get_nowait());
    q.put_nowait(3); // the slot is free again
    r.left.push_back(q.get_nowait());
    co_return r;
}

TEST(Queue, ACancelledBlockedPutDoesNotEnqueueItsItem) {
    const auto r = run_guarded(cancel_a_blocked_put());
    EXPECT_EQ(r.first.error, "cancelled");
    EXPECT_EQ(r.size_after, 1u);
    EXPECT_EQ(r.left, (std::vector<int>{1, 3}));
}

task<cancel_report> cancel_a_woken_putter(bool with_second_putter) {
    cancel_report r;
    queue<int> q(1);
    q.put_nowait(0);
    auto h1 = corio::create_task(put_from(q, 1, &r.first));
    co_await settle();
    task_handle<> h2;
    if (with_second_putter) {
        h2 = corio::create_task(put_from(q, 2, &r.second));
        co_await settle();
    }
    r.left.push_back(q.get_nowait()); // frees the slot: wakes the first putter...
    h1.cancel();                      // ...which is cancelled before it runs
    co_await finish(h1);
    if (with_second_putter)
        co_await h2;
    r.size_after = q.size();
    while (!q.empty())
        r.left.push_back(q.get_nowait());
    co_return r;
}

TEST(Queue, APutterCancelledAfterBeingWokenPassesTheSlotToTheNextPutter) {
    const auto r = run_guarded(cancel_a_woken_putter(true));
    EXPECT_EQ(r.first.error, "cancelled");
    EXPECT_EQ(r.second.value, 2);
    EXPECT_EQ(r.left, (std::vector<int>{0, 2}));
}

TEST(Queue, APutterCancelledAfterBeingWokenLeavesTheSlotFree) {
    const auto r = run_guarded(cancel_a_woken_putter(false));
    EXPECT_EQ(r.first.error, "cancelled");
    EXPECT_EQ(r.size_after, 0u);
    EXPECT_EQ(r.left, (std::vector<int>{0}));
}

task<> cancel_self_then_get(queue<int>& q, outcome* out) {
    corio::current_task().cancel();
    co_await get_into(q, out);
}

task<cancel_report> pending_cancel_and_get(bool with_item) {
    cancel_report r;
    queue<int> q;
    if (with_item)
        q.put_nowait(4);
    auto h = corio::create_task(cancel_self_then_get(q, &r.first));
    co_await finish(h);
    r.size_after = q.size();
    co_return r;
}

TEST(Queue, AGetThatMustWaitThrowsAPendingCancellationWithoutParking) {
    const auto r = run_guarded(pending_cancel_and_get(false));
    EXPECT_EQ(r.first.error, "cancelled");
}

TEST(Queue, AGetThatNeedNotWaitTakesTheItemDespiteAPendingCancellation) {
    // As in asyncio: get() only reaches a suspension point when the queue is empty.
    const auto r = run_guarded(pending_cancel_and_get(true));
    EXPECT_EQ(r.first.value, 4);
    EXPECT_EQ(r.size_after, 0u);
}

task<cancel_report> timed_out_get() {
    cancel_report r;
    queue<int> q;
    const auto start = now();
    try {
        auto t = corio::wait_for(get_one(q), 3s);
        r.first.value = co_await std::move(t);
    } catch (...) {
        r.first.error = error_name(std::current_exception());
    }
    r.first.at = since(start);
    q.put_nowait(8);
    r.size_after = q.size();
    co_return r;
}

TEST(Queue, AGetUnderATimeoutThrowsTimeoutErrorAndTakesNothing) {
    const auto r = run_guarded(timed_out_get());
    EXPECT_EQ(r.first.error, "timeout");
    EXPECT_EQ(r.first.at, 3s);
    EXPECT_EQ(r.size_after, 1u);
}

task<cancel_report> timed_out_put() {
    cancel_report r;
    queue<int> q(1);
    q.put_nowait(1);
    try {
        auto t = corio::timeout(2s, put_one(q, 2));
        co_await std::move(t);
    } catch (...) {
        r.first.error = error_name(std::current_exception());
    }
    r.size_after = q.size();
    r.left.push_back(q.get_nowait());
    co_return r;
}

TEST(Queue, APutUnderATimeoutThrowsTimeoutErrorAndDoesNotEnqueue) {
    const auto r = run_guarded(timed_out_put());
    EXPECT_EQ(r.first.error, "timeout");
    EXPECT_EQ(r.size_after, 1u);
    EXPECT_EQ(r.left, (std::vector<int>{1}));
}

task<int> get_in_time() {
    queue<int> q;
    auto producer = corio::create_task(put_after(q, 1s, 11));
    auto t = corio::wait_for(get_one(q), 5s);
    const int v = co_await std::move(t);
    co_await producer;
    co_return v;
}

TEST(Queue, AGetUnderATimeoutReturnsTheItemWhenItComesInTime) {
    EXPECT_EQ(run_guarded(get_in_time()), 11);
}

// --- task_done / join -------------------------------------------------------------------

TEST(Queue, TaskDoneCalledMoreTimesThanItemsPutThrowsLogicError) {
    queue<int> q;
    EXPECT_THROW(q.task_done(), std::logic_error);
    q.put_nowait(1);
    q.put_nowait(2);
    (void)q.get_nowait();
    q.task_done();
    q.task_done(); // counts items put, not items taken, as asyncio does
    EXPECT_THROW(q.task_done(), std::logic_error);
}

task<> worker(queue<int>& q, std::vector<int>* done) {
    for (;;) {
        const int v = co_await q.get();
        co_await corio::sleep(std::chrono::seconds(v));
        done->push_back(v);
        q.task_done();
    }
}

struct join_report {
    scheduler::duration took{};
    std::vector<int> done;
    scheduler::duration empty_join{};
};

task<join_report> join_waits_for_task_done() {
    join_report r;
    queue<int> q;
    auto start = now();
    co_await q.join();
    r.empty_join = since(start);
    auto w = corio::create_task(worker(q, &r.done));
    for (int v : {1, 2, 3})
        q.put_nowait(v);
    start = now();
    co_await q.join();
    r.took = since(start);
    w.cancel();
    co_await finish(w);
    co_return r;
}

TEST(Queue, JoinWaitsUntilEveryItemPutIsMarkedDone) {
    const auto r = run_guarded(join_waits_for_task_done());
    EXPECT_EQ(r.empty_join, 0s);
    EXPECT_EQ(r.took, 6s);
    EXPECT_EQ(r.done, (std::vector<int>{1, 2, 3}));
}

task<std::vector<outcome>> cancelled_join() {
    std::vector<outcome> outs(2);
    queue<int> q;
    q.put_nowait(1);
    auto j1 = corio::create_task(join_into(q, &outs[0]));
    auto j2 = corio::create_task(join_into(q, &outs[1]));
    co_await settle();
    j1.cancel();
    co_await finish(j1);
    co_await corio::sleep(1s);
    (void)q.get_nowait();
    q.task_done();
    co_await j2;
    co_return outs;
}

TEST(Queue, ACancelledJoinLeavesTheOtherJoinersWaiting) {
    const auto outs = run_guarded(cancelled_join());
    EXPECT_EQ(outs[0].error, "cancelled");
    EXPECT_EQ(outs[0].at, 0s);
    EXPECT_EQ(outs[1].value, 1);
    EXPECT_EQ(outs[1].at, 1s);
}

task<outcome> joiner_woken_then_cancelled() {
    outcome out;
    queue<int> q;
    q.put_nowait(1);
    auto j = corio::create_task(join_into(q, &out));
    co_await settle();
    (void)q.get_nowait();
    q.task_done(); // wakes the joiner
    j.cancel();    // before it runs
    co_await finish(j);
    co_return out;
}

TEST(Queue, AJoinerCancelledAfterBeingWokenThrowsCancelledError) {
    EXPECT_EQ(run_guarded(joiner_woken_then_cancelled()).error, "cancelled");
}

// --- shutdown ---------------------------------------------------------------------------

TEST(Queue, AfterShutdownPutAndPutNowaitThrowQueueShutdown) {
    queue<int> q;
    q.put_nowait(1);
    q.shutdown();
    EXPECT_THROW(q.put_nowait(2), corio::queue_shutdown);
    EXPECT_EQ(run_guarded([](queue<int>& q) -> task<std::string> {
                  try {
                      co_await q.put(3);
                  } catch (...) {
                      co_return error_name(std::current_exception());
                  }
                  co_return "";
              }(q)),
              "shutdown");
    EXPECT_EQ(q.size(), 1u);
}

task<std::vector<std::string>> drain_after_shutdown() {
    std::vector<std::string> log;
    queue<int> q;
    q.put_nowait(1);
    q.put_nowait(2);
    q.shutdown();
    for (int i = 0; i < 3; ++i) {
        try {
            log.push_back(std::to_string(co_await q.get()));
        } catch (...) {
            log.push_back(error_name(std::current_exception()));
        }
    }
    try {
        (void)q.get_nowait();
    } catch (...) {
        log.push_back(error_name(std::current_exception()));
    }
    co_return log;
}

TEST(Queue, AfterShutdownGettersDrainTheItemsLeftThenGetQueueShutdown) {
    EXPECT_EQ(run_guarded(drain_after_shutdown()),
              (std::vector<std::string>{"1", "2", "shutdown", "shutdown"}));
}

struct shutdown_report {
    std::vector<outcome> getters = std::vector<outcome>(2);
    std::vector<outcome> putters = std::vector<outcome>(2);
    outcome joiner;
    std::size_t size_after = 99;
    std::vector<int> left;
};

task<shutdown_report> shutdown_wakes_blocked_getters() {
    shutdown_report r;
    queue<int> q;
    std::vector<task_handle<>> hs;
    for (auto& g : r.getters)
        hs.push_back(corio::create_task(get_into(q, &g)));
    co_await corio::sleep(1s);
    q.shutdown();
    for (auto& h : hs)
        co_await finish(h);
    co_return r;
}

TEST(Queue, ShutdownWakesBlockedGettersWithQueueShutdown) {
    const auto r = run_guarded(shutdown_wakes_blocked_getters());
    for (const auto& g : r.getters) {
        EXPECT_EQ(g.error, "shutdown");
        EXPECT_EQ(g.at, 1s);
    }
}

task<shutdown_report> shutdown_wakes_blocked_putters(bool immediate) {
    shutdown_report r;
    queue<int> q(1);
    q.put_nowait(0);
    std::vector<task_handle<>> hs;
    int v = 1;
    for (auto& p : r.putters)
        hs.push_back(corio::create_task(put_from(q, v++, &p)));
    co_await corio::sleep(1s);
    q.shutdown(immediate);
    for (auto& h : hs)
        co_await finish(h);
    r.size_after = q.size();
    while (!q.empty())
        r.left.push_back(q.get_nowait());
    co_return r;
}

TEST(Queue, ShutdownWakesBlockedPuttersWithQueueShutdownAndKeepsTheItems) {
    const auto r = run_guarded(shutdown_wakes_blocked_putters(false));
    for (const auto& p : r.putters) {
        EXPECT_EQ(p.error, "shutdown");
        EXPECT_EQ(p.at, 1s);
    }
    EXPECT_EQ(r.left, (std::vector<int>{0}));
}

TEST(Queue, ImmediateShutdownWakesBlockedPuttersAndDropsTheItems) {
    const auto r = run_guarded(shutdown_wakes_blocked_putters(true));
    for (const auto& p : r.putters)
        EXPECT_EQ(p.error, "shutdown");
    EXPECT_EQ(r.size_after, 0u);
}

task<shutdown_report> shutdown_leaves_joiners_waiting() {
    shutdown_report r;
    queue<int> q;
    q.put_nowait(1);
    auto j = corio::create_task(join_into(q, &r.joiner));
    co_await corio::sleep(1s);
    q.shutdown(); // not immediate: the item is still outstanding
    co_await corio::sleep(1s);
    EXPECT_FALSE(j.done());
    EXPECT_EQ(q.get_nowait(), 1);
    q.task_done();
    co_await j;
    co_return r;
}

TEST(Queue, ShutdownWithoutImmediateLeavesJoinWaitingForTaskDone) {
    const auto r = run_guarded(shutdown_leaves_joiners_waiting());
    EXPECT_EQ(r.joiner.value, 1);
    EXPECT_EQ(r.joiner.at, 2s);
}

task<shutdown_report> immediate_shutdown_releases_join(bool one_taken) {
    shutdown_report r;
    queue<int> q;
    for (int i = 0; i < 3; ++i)
        q.put_nowait(i);
    if (one_taken)
        (void)q.get_nowait(); // taken but not marked done
    auto j = corio::create_task(join_into(q, &r.joiner));
    co_await corio::sleep(1s);
    q.shutdown(true);
    r.size_after = q.size();
    co_await corio::sleep(1s);
    if (one_taken) {
        EXPECT_FALSE(j.done()) << "the item taken is still outstanding";
        q.task_done();
    }
    co_await j;
    EXPECT_THROW(q.task_done(), std::logic_error);
    co_return r;
}

TEST(Queue, ImmediateShutdownDropsTheItemsAndCountsThemDoneForJoin) {
    const auto r = run_guarded(immediate_shutdown_releases_join(false));
    EXPECT_EQ(r.size_after, 0u);
    EXPECT_EQ(r.joiner.value, 1);
    EXPECT_EQ(r.joiner.at, 1s);
}

TEST(Queue, ImmediateShutdownStillWaitsForItemsAlreadyTaken) {
    const auto r = run_guarded(immediate_shutdown_releases_join(true));
    EXPECT_EQ(r.size_after, 0u);
    EXPECT_EQ(r.joiner.value, 1);
    EXPECT_EQ(r.joiner.at, 2s);
}

task<shutdown_report> immediate_shutdown_with_a_woken_getter() {
    shutdown_report r;
    queue<int> q;
    auto g = corio::create_task(get_into(q, &r.getters[0]));
    co_await settle();
    q.put_nowait(5);  // wakes the getter...
    q.shutdown(true); // ...and the item is dropped before it runs
    co_await finish(g);
    r.size_after = q.size();
    co_return r;
}

TEST(Queue, ImmediateShutdownMakesAWokenGetterThrowQueueShutdown) {
    const auto r = run_guarded(immediate_shutdown_with_a_woken_getter());
    EXPECT_EQ(r.getters[0].error, "shutdown");
    EXPECT_EQ(r.size_after, 0u);
}

task<shutdown_report> shutdown_with_a_woken_getter_cancelled() {
    // A getter woken for an item is cancelled, after a shutdown that woke a second getter: the
    // second one takes the item rather than failing.
    shutdown_report r;
    queue<int> q;
    auto g1 = corio::create_task(get_into(q, &r.getters[0]));
    co_await settle();
    auto g2 = corio::create_task(get_into(q, &r.getters[1]));
    co_await settle();
    q.put_nowait(5);
    q.shutdown();
    g1.cancel();
    co_await finish(g1);
    co_await finish(g2);
    r.size_after = q.size();
    co_return r;
}

TEST(Queue, AfterShutdownAnItemGivenBackByACancelledGetterGoesToTheNext) {
    const auto r = run_guarded(shutdown_with_a_woken_getter_cancelled());
    EXPECT_EQ(r.getters[0].error, "cancelled");
    EXPECT_EQ(r.getters[1].value, 5);
    EXPECT_EQ(r.size_after, 0u);
}

// --- move-only items ------------------------------------------------------------------

task<std::vector<int>> move_only_round_trip() {
    queue<std::unique_ptr<int>> q(1);
    std::vector<int> got;
    auto consumer =
        corio::create_task([](queue<std::unique_ptr<int>>& q, std::vector<int>* got) -> task<> {
            for (int i = 0; i < 3; ++i) {
                std::unique_ptr<int> p = co_await q.get();
                got->push_back(*p);
                co_await corio::sleep(1s);
            }
        }(q, &got));
    for (int i = 0; i < 3; ++i) {
        auto p = std::make_unique<int>(i);
        co_await q.put(std::move(p)); // waits for the slot from the second one on
    }
    co_await consumer;
    co_return got;
}

TEST(Queue, MoveOnlyItemsGoThroughIncludingABlockedPut) {
    EXPECT_EQ(run_guarded(move_only_round_trip()), (std::vector<int>{0, 1, 2}));
}

TEST(Queue, MoveOnlyItemsWorkWithTheNowaitCalls) {
    queue<std::unique_ptr<int>> q(1);
    q.put_nowait(std::make_unique<int>(1));
    EXPECT_THROW(q.put_nowait(std::make_unique<int>(2)), corio::queue_full);
    auto p = q.get_nowait();
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, 1);
}

task<int> cancelled_move_only_put() {
    // A cancelled put of a move-only item destroys it: nothing leaks (checked by ASan).
    queue<std::unique_ptr<int>> q(1);
    q.put_nowait(std::make_unique<int>(1));
    auto h = corio::create_task([](queue<std::unique_ptr<int>>& q) -> task<> {
        auto p = std::make_unique<int>(2);
        co_await q.put(std::move(p));
    }(q));
    co_await settle();
    h.cancel();
    co_await finish(h);
    co_return *q.get_nowait();
}

TEST(Queue, ACancelledPutOfAMoveOnlyItemDestroysTheItem) {
    EXPECT_EQ(run_guarded(cancelled_move_only_put()), 1);
}

// --- many producers and consumers -------------------------------------------------------

struct stress_report {
    std::size_t produced = 0;
    std::size_t received = 0;
    std::uint64_t sum_put = 0;
    std::uint64_t sum_got = 0;
    std::size_t duplicates = 0;
    std::size_t missing = 0;
    std::size_t out_of_order = 0;
    std::size_t get_timeouts = 0;
    std::size_t put_timeouts = 0;
    std::size_t get_cancels = 0;
    std::size_t put_cancels = 0;
};

constexpr int producers = 6;
constexpr int items_per_producer = 300;
constexpr int consumers = 4;

/// The tasks of the stress test, so that each side can cancel the other at random.
struct stress_tasks {
    std::vector<task_handle<>> producers;
    std::vector<task_handle<>> consumers;
};

/// Absorbs a cancellation the way timeout() does, so that the task can go on.
void absorb_cancellation() {
    while (corio::current_task().uncancel() > 0) {
    }
}

/// Cancels one of `hs` at random, one time in `odds`. A task woken by the operation just done
/// but not yet resumed is cancelled in that state, which must hand its item or slot on.
void cancel_one_of(std::vector<task_handle<>>& hs, std::mt19937& rng, unsigned odds) {
    if (rng() % odds == 0)
        hs[rng() % hs.size()].cancel();
}

task<> stress_producer(queue<int>& q, int id, stress_tasks* tasks, stress_report* r) {
    std::mt19937 rng(static_cast<unsigned>(id));
    for (int i = 0; i < items_per_producer; ++i) {
        const int item = id * items_per_producer + i;
        for (;;) { // retried until it is in: a put that is cancelled does not enqueue
            try {
                if (rng() % 3 == 0) {
                    auto t =
                        corio::wait_for(put_one(q, item), std::chrono::milliseconds(rng() % 4));
                    co_await std::move(t);
                } else {
                    co_await q.put(item);
                }
                break;
            } catch (const corio::timeout_error&) {
                ++r->put_timeouts;
            } catch (const cancelled_error&) {
                ++r->put_cancels;
                absorb_cancellation();
            }
        }
        r->sum_put += static_cast<std::uint64_t>(item);
        ++r->produced;
        cancel_one_of(tasks->consumers, rng, 3);
        try {
            if (rng() % 2 == 0)
                co_await corio::sleep(std::chrono::milliseconds(rng() % 3));
        } catch (const cancelled_error&) {
            absorb_cancellation();
        }
    }
}

task<> stress_consumer(queue<int>& q, unsigned seed, std::vector<int>* seen,
                       std::vector<int>* last_of_producer, stress_tasks* tasks, stress_report* r) {
    std::mt19937 rng(seed);
    for (;;) {
        int item = -1;
        try {
            if (rng() % 2 == 0) {
                auto t = corio::wait_for(get_one(q), std::chrono::milliseconds(rng() % 4));
                item = co_await std::move(t);
            } else {
                item = co_await q.get();
            }
        } catch (const corio::timeout_error&) {
            ++r->get_timeouts;
            continue;
        } catch (const cancelled_error&) {
            ++r->get_cancels;
            absorb_cancellation();
            continue;
        } catch (const corio::queue_shutdown&) {
            co_return;
        }
        // Recorded before any suspension, so the order of the records is the order of the
        // takes: each producer's items must appear in the order it put them.
        ++(*seen)[static_cast<std::size_t>(item)];
        const auto p = static_cast<std::size_t>(item / items_per_producer);
        if (item <= (*last_of_producer)[p])
            ++r->out_of_order;
        (*last_of_producer)[p] = item;
        r->sum_got += static_cast<std::uint64_t>(item);
        ++r->received;
        cancel_one_of(tasks->producers, rng, 3);
        try {
            if (rng() % 2 == 0)
                co_await corio::sleep(std::chrono::milliseconds(rng() % 3));
        } catch (const cancelled_error&) {
            absorb_cancellation();
        }
        q.task_done();
    }
}

task<stress_report> many_producers_and_consumers() {
    stress_report r;
    queue<int> q(4);
    std::vector<int> seen(producers * items_per_producer, 0);
    std::vector<int> last_of_producer(producers, -1);
    stress_tasks tasks;
    for (int c = 0; c < consumers; ++c)
        tasks.consumers.push_back(corio::create_task(stress_consumer(
            q, 1000u + static_cast<unsigned>(c), &seen, &last_of_producer, &tasks, &r)));
    for (int p = 0; p < producers; ++p)
        tasks.producers.push_back(corio::create_task(stress_producer(q, p, &tasks, &r)));
    for (auto& h : tasks.producers)
        co_await h;
    co_await q.join();
    q.shutdown();
    for (auto& h : tasks.consumers)
        co_await h;
    for (int n : seen) {
        if (n == 0)
            ++r.missing;
        else if (n > 1)
            r.duplicates += static_cast<std::size_t>(n - 1);
    }
    co_return r;
}

TEST(Queue, ManyProducersAndConsumersDeliverEveryItemExactlyOnceDespiteCancellations) {
    const auto r = run_guarded(many_producers_and_consumers());
    EXPECT_EQ(r.produced, static_cast<std::size_t>(producers * items_per_producer));
    EXPECT_EQ(r.received, r.produced);
    EXPECT_EQ(r.sum_got, r.sum_put);
    EXPECT_EQ(r.duplicates, 0u);
    EXPECT_EQ(r.missing, 0u);
    EXPECT_EQ(r.out_of_order, 0u);
    // Timeouts and cancellations did interrupt puts and gets.
    EXPECT_GT(r.get_timeouts, 0u);
    EXPECT_GT(r.put_timeouts, 0u);
    EXPECT_GT(r.get_cancels, 0u);
    EXPECT_GT(r.put_cancels, 0u);
}

} // namespace
