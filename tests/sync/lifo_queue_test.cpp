#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/timeout_error.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/sync/lifo_queue.hpp"
#include "corio/sync/queue_errors.hpp"
#include "corio/time/sleep.hpp"
#include "corio/time/timeout.hpp"

#include "support/loop_helpers.hpp"
#include "support/structured_helpers.hpp"
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
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
using corio::test::now;
using corio::test::since;

/// Runs `t` to completion on a loop on the virtual clock, under a one-hour limit: a lost wake-up
/// then fails the test with timeout_error instead of hanging it.
template <typename T>
T run_guarded(task<T> t) {
    return corio::test::run_virtual([](task<T> body) -> task<T> {
        co_return co_await corio::timeout(1h, std::move(body));
    }(std::move(t)));
}

task<> settle() {
    for (int i = 0; i < 4; ++i)
        co_await corio::sleep(0s);
}

template <typename T>
task<> finish(task_handle<T>& h) {
    try {
        co_await h;
    } catch (...) {
    }
}

struct outcome {
    std::optional<int> value;
    bool cancelled = false;
    bool shutdown = false;
};

task<> get_into(lifo_queue<int>& q, outcome* out) {
    try {
        out->value = co_await q.get();
    } catch (const cancelled_error&) {
        out->cancelled = true;
        throw;
    } catch (const corio::queue_shutdown&) {
        out->shutdown = true;
    }
}

task<> put_from(lifo_queue<int>& q, int v, outcome* out) {
    try {
        co_await q.put(v);
        out->value = v;
    } catch (const cancelled_error&) {
        out->cancelled = true;
        throw;
    } catch (const corio::queue_shutdown&) {
        out->shutdown = true;
    }
}

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

struct stress_report {
    std::size_t received = 0;
    std::uint64_t sum_put = 0;
    std::uint64_t sum_got = 0;
    std::size_t wrong_count = 0;
    std::size_t timeouts = 0;
};

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

task<> stress_consumer(lifo_queue<int>& q, unsigned seed, std::vector<int>* seen,
                       stress_report* r) {
    std::mt19937 rng(seed);
    for (;;) {
        int item = -1;
        try {
            item = co_await q.get();
        } catch (const corio::queue_shutdown&) {
            co_return;
        }
        ++(*seen)[static_cast<std::size_t>(item)];
        r->sum_got += static_cast<std::uint64_t>(item);
        ++r->received;
        co_await corio::sleep(std::chrono::milliseconds(rng() % 4));
        q.task_done();
    }
}

task<stress_report> many_producers_and_consumers() {
    stress_report r;
    lifo_queue<int> q(2);
    std::vector<int> seen(producers * items_per_producer, 0);
    std::vector<task_handle<>> ps;
    std::vector<task_handle<>> cs;
    for (int c = 0; c < 3; ++c)
        cs.push_back(
            corio::create_task(stress_consumer(q, 50u + static_cast<unsigned>(c), &seen, &r)));
    for (int p = 0; p < producers; ++p)
        ps.push_back(corio::create_task(stress_producer(q, p, static_cast<unsigned>(p), &r)));
    for (auto& h : ps)
        co_await h;
    co_await q.join();
    q.shutdown();
    for (auto& h : cs)
        co_await h;
    for (int n : seen)
        r.wrong_count += n == 1 ? 0u : 1u;
    co_return r;
}

TEST(LifoQueue, ManyProducersAndConsumersDeliverEveryItemExactlyOnce) {
    const auto r = run_guarded(many_producers_and_consumers());
    EXPECT_EQ(r.received, static_cast<std::size_t>(producers * items_per_producer));
    EXPECT_EQ(r.sum_got, r.sum_put);
    EXPECT_EQ(r.wrong_count, 0u);
    EXPECT_GT(r.timeouts, 0u);
}

} // namespace
