#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/timeout_error.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/sync/priority_queue.hpp"
#include "corio/sync/queue_errors.hpp"
#include "corio/time/sleep.hpp"
#include "corio/time/timeout.hpp"

#include "support/queue_helpers.hpp"
#include "support/structured_helpers.hpp"
#include "support/sync_helpers.hpp"
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::cancelled_error;
using corio::priority_queue;
using corio::scheduler;
using corio::task;
using corio::task_handle;
using corio::test::finish;
using corio::test::get_into;
using corio::test::now;
using corio::test::run_guarded;
using corio::test::settle;
using corio::test::since;
using corio::test::stress_report;
using outcome = corio::test::queue_outcome;

TEST(PriorityQueue, TheSmallestItemComesOutFirst) {
    priority_queue<int> q;
    std::vector<int> in(200);
    std::mt19937 rng(7);
    for (auto& v : in)
        v = static_cast<int>(rng() % 1000);
    for (int v : in)
        q.put_nowait(v);
    std::vector<int> out;
    while (!q.empty())
        out.push_back(q.get_nowait());
    std::sort(in.begin(), in.end());
    EXPECT_EQ(out, in);
}

TEST(PriorityQueue, AGreaterComparatorGivesTheLargestFirst) {
    priority_queue<int, std::greater<int>> q;
    for (int v : {3, 9, 1, 7})
        q.put_nowait(v);
    std::vector<int> out;
    while (!q.empty())
        out.push_back(q.get_nowait());
    EXPECT_EQ(out, (std::vector<int>{9, 7, 3, 1}));
}

TEST(PriorityQueue, PairsOrderByPriorityThenBySequenceNumber) {
    // asyncio's idiom: (priority, count, payload) keeps equal priorities first in, first out.
    priority_queue<std::pair<std::pair<int, int>, std::string>> q;
    int seq = 0;
    q.put_nowait({{2, seq++}, "b1"});
    q.put_nowait({{1, seq++}, "a1"});
    q.put_nowait({{2, seq++}, "b2"});
    q.put_nowait({{1, seq++}, "a2"});
    std::vector<std::string> out;
    while (!q.empty())
        out.push_back(q.get_nowait().second);
    EXPECT_EQ(out, (std::vector<std::string>{"a1", "a2", "b1", "b2"}));
}

TEST(PriorityQueue, AStatefulComparatorIsUsed) {
    struct by_distance {
        int origin;
        bool operator()(int a, int b) const { return std::abs(a - origin) < std::abs(b - origin); }
    };
    priority_queue<int, by_distance> q(0, by_distance{10});
    for (int v : {0, 12, 30, 9})
        q.put_nowait(v);
    EXPECT_EQ(q.get_nowait(), 9);
    EXPECT_EQ(q.get_nowait(), 12);
    EXPECT_EQ(q.get_nowait(), 0);
    EXPECT_EQ(q.get_nowait(), 30);
}

struct by_pointee {
    bool operator()(const std::unique_ptr<int>& a, const std::unique_ptr<int>& b) const {
        return *a < *b;
    }
};

TEST(PriorityQueue, MoveOnlyItemsAreOrderedByTheComparator) {
    priority_queue<std::unique_ptr<int>, by_pointee> q;
    for (int v : {5, 2, 8, 1})
        q.put_nowait(std::make_unique<int>(v));
    std::vector<int> out;
    while (!q.empty())
        out.push_back(*q.get_nowait());
    EXPECT_EQ(out, (std::vector<int>{1, 2, 5, 8}));
}

task<std::pair<outcome, std::vector<int>>> woken_getter_takes_the_smallest() {
    priority_queue<int> q;
    outcome out;
    auto h = corio::create_task(get_into(q, &out));
    co_await settle();
    q.put_nowait(5); // wakes the getter...
    q.put_nowait(1); // ...which takes the smallest item when it resumes
    co_await h;
    std::vector<int> left;
    while (!q.empty())
        left.push_back(q.get_nowait());
    co_return std::pair{out, left};
}

TEST(PriorityQueue, AWokenGetterTakesTheSmallestItemWhenItResumes) {
    const auto [out, left] = run_guarded(woken_getter_takes_the_smallest());
    EXPECT_EQ(out.value, 1);
    EXPECT_EQ(left, (std::vector<int>{5}));
}

task<std::vector<outcome>> woken_getter_cancelled() {
    priority_queue<int> q;
    std::vector<outcome> outs(2);
    auto h1 = corio::create_task(get_into(q, &outs[0]));
    co_await settle();
    auto h2 = corio::create_task(get_into(q, &outs[1]));
    co_await settle();
    q.put_nowait(4);
    h1.cancel(); // woken, then cancelled before it runs: the item goes to the second getter
    co_await finish(h1);
    co_await h2;
    EXPECT_TRUE(q.empty());
    co_return outs;
}

TEST(PriorityQueue, AGetterCancelledAfterBeingWokenPassesTheItemOn) {
    const auto outs = run_guarded(woken_getter_cancelled());
    EXPECT_TRUE(outs[0].cancelled);
    EXPECT_FALSE(outs[0].value);
    EXPECT_EQ(outs[1].value, 4);
}

task<std::vector<scheduler::duration>> bounded_priority_queue() {
    priority_queue<int> q(2);
    std::vector<scheduler::duration> put_times;
    auto consumer = corio::create_task([](priority_queue<int>& q) -> task<> {
        for (int i = 0; i < 4; ++i) {
            co_await corio::sleep(1s);
            (void)co_await q.get();
        }
    }(q));
    const auto start = now();
    for (int v : {4, 3, 2, 1}) {
        co_await q.put(v);
        put_times.push_back(since(start));
    }
    co_await consumer;
    co_return put_times;
}

TEST(PriorityQueue, PutWaitsWhileTheQueueIsFull) {
    EXPECT_EQ(run_guarded(bounded_priority_queue()),
              (std::vector<scheduler::duration>{0s, 0s, 1s, 2s}));
}

task<std::vector<outcome>> immediate_shutdown() {
    priority_queue<int> q;
    q.put_nowait(3);
    q.put_nowait(1);
    std::vector<outcome> outs(1);
    q.shutdown(true);
    co_await get_into(q, &outs[0]);
    EXPECT_TRUE(q.empty());
    co_return outs;
}

TEST(PriorityQueue, ImmediateShutdownDropsTheItems) {
    const auto outs = run_guarded(immediate_shutdown());
    EXPECT_TRUE(outs[0].shutdown);
}

task<std::vector<int>> drain_in_order_after_shutdown() {
    priority_queue<int> q;
    for (int v : {3, 1, 2})
        q.put_nowait(v);
    q.shutdown();
    std::vector<int> out;
    try {
        for (;;)
            out.push_back(co_await q.get());
    } catch (const corio::queue_shutdown&) {
        out.push_back(-1);
    }
    co_return out;
}

TEST(PriorityQueue, AfterShutdownTheItemsLeftStillComeOutSmallestFirst) {
    EXPECT_EQ(run_guarded(drain_in_order_after_shutdown()), (std::vector<int>{1, 2, 3, -1}));
}

// --- many producers and consumers -------------------------------------------------------

constexpr int producers = 5;
constexpr int items_per_producer = 200;

task<int> get_one(priority_queue<int>& q) {
    co_return co_await q.get();
}

task<> stress_producer(priority_queue<int>& q, int id, unsigned seed, stress_report* r) {
    std::mt19937 rng(seed);
    for (int i = 0; i < items_per_producer; ++i) {
        const int item = i * producers + id;
        co_await q.put(item);
        r->sum_put += static_cast<std::uint64_t>(item);
        if (rng() % 2 == 0)
            co_await corio::sleep(std::chrono::milliseconds(rng() % 3));
    }
}

task<> stress_consumer(priority_queue<int>& q, unsigned seed, stress_report* r) {
    std::mt19937 rng(seed);
    for (;;) {
        int item = -1;
        try {
            auto t = corio::wait_for(get_one(q), std::chrono::milliseconds(rng() % 4));
            item = co_await std::move(t);
        } catch (const corio::timeout_error&) {
            ++r->timeouts;
            continue;
        } catch (const corio::queue_shutdown&) {
            co_return;
        }
        r->receive(item);
        if (rng() % 2 == 0)
            co_await corio::sleep(std::chrono::milliseconds(rng() % 3));
        q.task_done();
    }
}

task<stress_report> many_producers_and_consumers() {
    const corio::test::stress_plan plan{.maxsize = 3,
                                        .producers = producers,
                                        .items_per_producer = items_per_producer,
                                        .consumers = 4,
                                        .consumer_seed = 77};
    return corio::test::many_producers_and_consumers<priority_queue<int>>(plan, &stress_producer,
                                                                          &stress_consumer);
}

TEST(PriorityQueue, ManyProducersAndConsumersDeliverEveryItemExactlyOnce) {
    const auto r = run_guarded(many_producers_and_consumers());
    EXPECT_EQ(r.received, static_cast<std::size_t>(producers * items_per_producer));
    EXPECT_EQ(r.sum_got, r.sum_put);
    EXPECT_EQ(r.wrong_count, 0u);
    EXPECT_GT(r.timeouts, 0u);
}

} // namespace
