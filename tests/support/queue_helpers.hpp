#pragma once

// Helpers for the tests of lifo_queue and priority_queue: children that record how a get or a
// put ended, and the driver of a run of many producers and consumers over one queue. (The
// queue tests record errors by name and time instead: see tests/sync/queue_test.cpp.)

#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/task.hpp"
#include "corio/core/task_handle.hpp"
#include "corio/sync/queue_errors.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace corio::test {

/// How a child that got from or put into a queue ended.
struct queue_outcome {
    std::optional<int> value;
    bool cancelled = false;
    bool shutdown = false;
};

/// Gets an item from `q` into `out->value`; records a cancellation (and rethrows it) or a
/// queue_shutdown.
template <typename Queue>
task<> get_into(Queue& q, queue_outcome* out) {
    try {
        out->value = co_await q.get();
    } catch (const cancelled_error&) {
        out->cancelled = true;
        throw;
    } catch (const queue_shutdown&) {
        out->shutdown = true;
    }
}

/// Puts `v` into `q` and then records it in `out->value`; records a cancellation (and rethrows
/// it) or a queue_shutdown.
template <typename Queue>
task<> put_from(Queue& q, int v, queue_outcome* out) {
    try {
        co_await q.put(v);
        out->value = v;
    } catch (const cancelled_error&) {
        out->cancelled = true;
        throw;
    } catch (const queue_shutdown&) {
        out->shutdown = true;
    }
}

/// What a run of many producers and consumers over one queue saw.
struct stress_report {
    std::size_t received = 0;
    std::uint64_t sum_put = 0;
    std::uint64_t sum_got = 0;
    /// Items not received exactly once.
    std::size_t wrong_count = 0;
    /// Gets or puts that timed out (and were tried again).
    std::size_t timeouts = 0;
    /// How many times each item was received.
    std::vector<int> seen;

    /// Counts `item` as received by a consumer.
    void receive(int item) {
        ++seen[static_cast<std::size_t>(item)];
        sum_got += static_cast<std::uint64_t>(item);
        ++received;
    }
};

/// How many producers and consumers a stress run has, and over what queue.
struct stress_plan {
    std::size_t maxsize;
    int producers;
    int items_per_producer;
    int consumers;
    /// Consumer i is seeded with consumer_seed + i; producer i with i.
    unsigned consumer_seed;
};

/// Puts the items of producer `id` (each of 0 .. producers * items_per_producer - 1 is put by
/// exactly one producer), adding them to r->sum_put.
template <typename Queue>
using producer_fn = task<> (*)(Queue& q, int id, unsigned seed, stress_report* r);
/// Gets items until the queue is shut down, counting each with r->receive(item), and marks each
/// one done.
template <typename Queue>
using consumer_fn = task<> (*)(Queue& q, unsigned seed, stress_report* r);

/// Runs the producers and consumers of `plan` over one queue: waits for the producers, joins
/// the queue, shuts it down, waits for the consumers, and counts the items not seen exactly once.
template <typename Queue>
task<stress_report> many_producers_and_consumers(stress_plan plan, producer_fn<Queue> produce,
                                                 consumer_fn<Queue> consume) {
    stress_report r;
    Queue q(plan.maxsize);
    r.seen.assign(static_cast<std::size_t>(plan.producers * plan.items_per_producer), 0);
    std::vector<task_handle<>> ps;
    std::vector<task_handle<>> cs;
    for (int c = 0; c < plan.consumers; ++c)
        cs.push_back(create_task(consume(q, plan.consumer_seed + static_cast<unsigned>(c), &r)));
    for (int p = 0; p < plan.producers; ++p)
        ps.push_back(create_task(produce(q, p, static_cast<unsigned>(p), &r)));
    for (auto& h : ps)
        co_await h;
    co_await q.join();
    q.shutdown();
    for (auto& h : cs)
        co_await h;
    for (int n : r.seen)
        r.wrong_count += n == 1 ? 0u : 1u;
    co_return r;
}

} // namespace corio::test
