// Many producers and consumers on several threads: every item is delivered exactly once.
//
// Producers are plain threads and tasks on other loops; each consumer loop owns a bounded
// corio::queue, so items cross threads through run_coroutine_threadsafe (whose put blocks on a
// full queue: backpressure reaches the producing thread through its future) and through
// to_thread (consumers hand some items to the default executor and get them back).

#include "corio/core/gather.hpp"
#include "corio/core/task.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/runtime/loop_group.hpp"
#include "corio/runtime/run_coroutine_threadsafe.hpp"
#include "corio/runtime/to_thread.hpp"
#include "corio/sync/queue.hpp"
#include "corio/sync/queue_errors.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <thread>
#include <vector>

namespace {

using corio::task;

constexpr std::size_t consumer_loops = 3;
constexpr std::size_t consumers_per_loop = 4;
constexpr std::size_t producer_threads = 4;
constexpr std::size_t items_per_producer = 2000;
constexpr std::uint64_t total_items = producer_threads * items_per_producer;

/// An item names its producer and its sequence number, so that a duplicate or a loss shows up
/// as a wrong count for one exact value.
std::uint64_t item_of(std::size_t producer, std::size_t seq) {
    return producer * items_per_producer + seq;
}

/// The state of one consumer loop. Touched only on that loop's thread, except `delivered`,
/// which is read after the loops have stopped (the loop_group join orders it).
struct consumer_side {
    corio::queue<std::uint64_t> queue{8};
    std::vector<std::uint64_t> delivered;
};

task<void> consume(consumer_side& side, std::size_t index) {
    for (;;) {
        std::uint64_t item = 0;
        try {
            item = co_await side.queue.get();
        } catch (const corio::queue_shutdown&) {
            co_return;
        }
        // Every few items take a detour through the thread pool and back.
        if ((item + index) % 7 == 0) {
            auto identity = [item] { return item; };
            item = co_await corio::to_thread(identity);
        }
        side.delivered.push_back(item);
        side.queue.task_done();
    }
}

task<void> consumer_main(consumer_side& side) {
    std::vector<task<void>> workers;
    for (std::size_t i = 0; i < consumers_per_loop; ++i)
        workers.push_back(consume(side, i));
    co_await corio::gather(std::move(workers));
}

task<void> put_one(consumer_side& side, std::uint64_t item) {
    co_await side.queue.put(item);
}

task<void> drain_and_shut(consumer_side& side) {
    co_await side.queue.join();
    side.queue.shutdown();
}

TEST(CrossThreadStress, EveryItemFromManyProducerThreadsIsDeliveredExactlyOnce) {
    corio::loop_group loops(consumer_loops);
    std::vector<std::unique_ptr<consumer_side>> sides;
    std::vector<std::future<void>> consumers;
    for (std::size_t l = 0; l < consumer_loops; ++l)
        sides.push_back(std::make_unique<consumer_side>());
    for (std::size_t l = 0; l < consumer_loops; ++l) {
        consumer_side& side = *sides[l];
        consumers.push_back(loops.spawn(l, [&side] { return consumer_main(side); }));
    }

    std::atomic<std::size_t> failures{0};
    std::vector<std::thread> producers;
    for (std::size_t p = 0; p < producer_threads; ++p) {
        producers.emplace_back([&, p] {
            for (std::size_t seq = 0; seq < items_per_producer; ++seq) {
                const std::uint64_t item = item_of(p, seq);
                consumer_side& side = *sides[(p + seq) % consumer_loops];
                try {
                    // Waiting for the put is the backpressure: the queue holds at most 8.
                    corio::run_coroutine_threadsafe(put_one(side, item),
                                                    loops.handle((p + seq) % consumer_loops))
                        .get();
                } catch (...) {
                    failures.fetch_add(1, std::memory_order_relaxed);
                }
            }
        });
    }
    for (std::thread& t : producers)
        t.join();
    ASSERT_EQ(failures.load(), 0u);

    // Every put has completed, so join() waits for the consumers to finish each item.
    for (std::size_t l = 0; l < consumer_loops; ++l) {
        consumer_side& side = *sides[l];
        corio::run_coroutine_threadsafe(drain_and_shut(side), loops.handle(l)).get();
    }
    for (auto& c : consumers)
        c.get();
    loops.stop();
    loops.join();

    std::vector<std::uint32_t> seen(total_items, 0);
    std::size_t count = 0;
    for (const auto& side : sides) {
        for (std::uint64_t item : side->delivered) {
            ASSERT_LT(item, total_items);
            ++seen[item];
            ++count;
        }
    }
    EXPECT_EQ(count, total_items);
    EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](std::uint32_t n) { return n == 1; }))
        << "some item was lost or delivered twice";
}

task<void> produce_on_loop(std::vector<std::unique_ptr<consumer_side>>& sides,
                           const corio::loop_group& loops, std::size_t producer) {
    for (std::size_t seq = 0; seq < items_per_producer; ++seq) {
        const std::size_t target = (producer + seq) % consumer_loops;
        // A producer task must not block its own loop on a future: it hands the blocking wait
        // to the thread pool instead.
        auto put_and_wait = [&sides, &loops, target, item = item_of(producer, seq)] {
            corio::run_coroutine_threadsafe(put_one(*sides[target], item), loops.handle(target))
                .get();
        };
        co_await corio::to_thread(put_and_wait);
    }
}

TEST(CrossThreadStress, ProducerTasksOnOtherLoopsDeliverEveryItemExactlyOnce) {
    corio::loop_group consumers_group(consumer_loops);
    corio::loop_group producers_group(2);
    std::vector<std::unique_ptr<consumer_side>> sides;
    for (std::size_t l = 0; l < consumer_loops; ++l)
        sides.push_back(std::make_unique<consumer_side>());
    std::vector<std::future<void>> consumers;
    for (std::size_t l = 0; l < consumer_loops; ++l) {
        consumer_side& side = *sides[l];
        consumers.push_back(consumers_group.spawn(l, [&side] { return consumer_main(side); }));
    }
    std::vector<std::future<void>> producers;
    for (std::size_t p = 0; p < producer_threads; ++p) {
        producers.push_back(producers_group.spawn(p % 2, [&sides, &consumers_group, p] {
            return produce_on_loop(sides, consumers_group, p);
        }));
    }
    for (auto& f : producers)
        f.get();
    for (std::size_t l = 0; l < consumer_loops; ++l) {
        consumer_side& side = *sides[l];
        corio::run_coroutine_threadsafe(drain_and_shut(side), consumers_group.handle(l)).get();
    }
    for (auto& c : consumers)
        c.get();
    producers_group.stop();
    producers_group.join();
    consumers_group.stop();
    consumers_group.join();

    std::vector<std::uint32_t> seen(total_items, 0);
    for (const auto& side : sides)
        for (std::uint64_t item : side->delivered)
            ++seen.at(item);
    EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](std::uint32_t n) { return n == 1; }))
        << "some item was lost or delivered twice";
}

} // namespace
