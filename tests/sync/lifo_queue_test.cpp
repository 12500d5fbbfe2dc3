#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/timeout_error.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/sync/lifo_queue.hpp"
#include "corio/sync/queue_errors.hpp"
#include "corio/time/sleep.hpp"
#include "corio/time/timeout.hpp"

#include "support/queue_helpers.hpp"
#include "support/structured_helpers.hpp"
#include "support/sync_helpers.hpp"
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::cancelled_error;
using corio::lifo_queue;
using corio::scheduler;
using corio::task;
using corio::task_handle;
using corio::test::finish;
using corio::test::get_into;
using corio::test::now;
using corio::test::put_from;
using corio::test::run_guarded;
using corio::test::settle;
using corio::test::since;
using corio::test::stress_report;
using outcome = corio::test::queue_outcome;

TEST(LifoQueue, TheLastItemPutComesOutFirst) {
    lifo_queue<int> q;
    for (int i = 0; i < 5; ++i)
        q.put_nowait(i);
    std::vector<int> out;
    while (!q.empty())
        out.push_back(q.get_nowait());
    EXPECT_EQ(out, (std::vector<int>{4, 3, 2, 1, 0}));
}

TEST(LifoQueue, SizesAndNowaitErrorsAreThoseOfAQueue) {
    lifo_queue<int> q(2);
    EXPECT_THROW(q.get_nowait(), corio::queue_empty);
    q.put_nowait(1);
    q.put_nowait(2);
    EXPECT_TRUE(q.full());
    EXPECT_EQ(q.size(), 2u);
    EXPECT_EQ(q.maxsize(), 2u);
    EXPECT_THROW(q.put_nowait(3), corio::queue_full);
    EXPECT_EQ(q.get_nowait(), 2);
}

TEST(LifoQueue, MoveOnlyItemsComeOutLastInFirstOut) {
    lifo_queue<std::unique_ptr<std::string>> q;
    q.put_nowait(std::make_unique<std::string>("a"));
    q.put_nowait(std::make_unique<std::string>("b"));
    EXPECT_EQ(*q.get_nowait(), "b");
    EXPECT_EQ(*q.get_nowait(), "a");
}

task<std::vector<outcome>> waiting_getters_in_order() {
    lifo_queue<int> q;
    std::vector<outcome> outs(3);
    std::vector<task_handle<>> hs;
    for (auto& o : outs) {
        hs.push_back(corio::create_task(get_into(q, &o)));
        co_await corio::sleep(0s);
    }
    // All three wake at once; the first to resume takes the last item put.
    for (int v : {1, 2, 3})
        q.put_nowait(v);
    for (auto& h : hs)
        co_await h;
    co_return outs;
}

TEST(LifoQueue, WaitingGettersAreServedInTheOrderTheyCame) {
    const auto outs = run_guarded(waiting_getters_in_order());
    EXPECT_EQ(outs[0].value, 3);
    EXPECT_EQ(outs[1].value, 2);
    EXPECT_EQ(outs[2].value, 1);
}

task<std::vector<int>> backpressure() {
    lifo_queue<int> q(1);
    std::vector<int> got;
    auto consumer = corio::create_task([](lifo_queue<int>& q, std::vector<int>* got) -> task<> {
        for (int i = 0; i < 3; ++i) {
            co_await corio::sleep(1s);
            got->push_back(co_await q.get());
        }
    }(q, &got));
    const auto start = now();
    for (int v : {1, 2, 3})
        co_await q.put(v);
    EXPECT_EQ(since(start), 2s);
    co_await consumer;
    co_return got;
}

TEST(LifoQueue, PutWaitsWhileTheQueueIsFull) {
    EXPECT_EQ(run_guarded(backpressure()), (std::vector<int>{1, 2, 3}));
}

task<std::vector<outcome>> woken_putter_cancelled() {
    lifo_queue<int> q(1);
    q.put_nowait(0);
    std::vector<outcome> outs(2);
    auto p1 = corio::create_task(put_from(q, 1, &outs[0]));
    co_await settle();
    auto p2 = corio::create_task(put_from(q, 2, &outs[1]));
    co_await settle();
    EXPECT_EQ(q.get_nowait(), 0); // wakes the first putter...
    p1.cancel();                  // ...which is cancelled before it runs
    co_await finish(p1);
    co_await p2;
    EXPECT_EQ(q.get_nowait(), 2);
    EXPECT_TRUE(q.empty());
    co_return outs;
}

TEST(LifoQueue, APutterCancelledAfterBeingWokenPassesTheSlotOn) {
    const auto outs = run_guarded(woken_putter_cancelled());
    EXPECT_TRUE(outs[0].cancelled);
    EXPECT_FALSE(outs[0].value);
    EXPECT_EQ(outs[1].value, 2);
}

task<std::vector<outcome>> woken_getter_cancelled() {
    lifo_queue<int> q;
    std::vector<outcome> outs(1);
    auto g = corio::create_task(get_into(q, &outs[0]));
    co_await settle();
    q.put_nowait(6);
    g.cancel();
    co_await finish(g);
    EXPECT_EQ(q.size(), 1u);
    EXPECT_EQ(q.get_nowait(), 6);
    co_return outs;
}

TEST(LifoQueue, AGetterCancelledAfterBeingWokenLeavesTheItem) {
    const auto outs = run_guarded(woken_getter_cancelled());
    EXPECT_TRUE(outs[0].cancelled);
}

task<std::vector<std::string>> shutdown_drains_last_in_first_out() {
    lifo_queue<int> q;
    std::vector<std::string> log;
    q.put_nowait(1);
    q.put_nowait(2);
    q.shutdown();
    try {
        q.put_nowait(3);
    } catch (const corio::queue_shutdown&) {
        log.emplace_back("put refused");
    }
    for (int i = 0; i < 3; ++i) {
        try {
            log.push_back(std::to_string(co_await q.get()));
        } catch (const corio::queue_shutdown&) {
            log.emplace_back("shutdown");
        }
    }
    co_return log;
}

TEST(LifoQueue, AfterShutdownTheItemsLeftComeOutLastInFirstOut) {
    EXPECT_EQ(run_guarded(shutdown_drains_last_in_first_out()),
              (std::vector<std::string>{"put refused", "2", "1", "shutdown"}));
}

// --- many producers and consumers -------------------------------------------------------

constexpr int producers = 5;
constexpr int items_per_producer = 200;

task<> put_one(lifo_queue<int>& q, int v) {
    co_await q.put(v);
}

task<> stress_producer(lifo_queue<int>& q, int id, unsigned seed, stress_report* r) {
    std::mt19937 rng(seed);
    for (int i = 0; i < items_per_producer; ++i) {
        const int item = id * items_per_producer + i;
        for (;;) {
            try {
                auto t = corio::wait_for(put_one(q, item), std::chrono::milliseconds(rng() % 4));
                co_await std::move(t);
                break;
            } catch (const corio::timeout_error&) {
                ++r->timeouts;
            }
        }
        r->sum_put += static_cast<std::uint64_t>(item);
        if (rng() % 2 == 0)
            co_await corio::sleep(std::chrono::milliseconds(rng() % 3));
    }
}

task<> stress_consumer(lifo_queue<int>& q, unsigned seed, stress_report* r) {
    std::mt19937 rng(seed);
    for (;;) {
        int item = -1;
        try {
            item = co_await q.get();
        } catch (const corio::queue_shutdown&) {
            co_return;
        }
        r->receive(item);
        co_await corio::sleep(std::chrono::milliseconds(rng() % 4));
        q.task_done();
    }
}

task<stress_report> many_producers_and_consumers() {
    const corio::test::stress_plan plan{.maxsize = 2,
                                        .producers = producers,
                                        .items_per_producer = items_per_producer,
                                        .consumers = 3,
                                        .consumer_seed = 50};
    return corio::test::many_producers_and_consumers<lifo_queue<int>>(plan, &stress_producer,
                                                                      &stress_consumer);
}

TEST(LifoQueue, ManyProducersAndConsumersDeliverEveryItemExactlyOnce) {
    const auto r = run_guarded(many_producers_and_consumers());
    EXPECT_EQ(r.received, static_cast<std::size_t>(producers * items_per_producer));
    EXPECT_EQ(r.sum_got, r.sum_put);
    EXPECT_EQ(r.wrong_count, 0u);
    EXPECT_GT(r.timeouts, 0u);
}

} // namespace
