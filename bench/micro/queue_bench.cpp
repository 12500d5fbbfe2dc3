// Cost of corio::queue: an item's round trip from a producer task to a consumer task, with
// maxsize 1 (every put after the first waits for the consumer's get, so each item costs two
// task switches) and unbounded (the producer fills the queue without waiting, then the consumer
// drains it); and put_nowait + get_nowait on one task (no suspension, no waking).
//
// Each benchmark iteration runs a batch of `state.range(0)` items inside one run_until_complete
// on a loop built once; ns_per_op is per item (one put and one get).

#include <corio/corio.hpp>
#include <corio/sync/queue.hpp>

#include "bench_common.hpp"

#include <cstddef>
#include <cstdint>

namespace {

corio::task<> produce(corio::queue<int>& q, int n) {
    for (int i = 0; i < n; ++i)
        co_await q.put(i);
}

corio::task<std::int64_t> consume(corio::queue<int>& q, int n) {
    std::int64_t sum = 0;
    for (int i = 0; i < n; ++i)
        sum += co_await q.get();
    co_return sum;
}

corio::task<std::int64_t> round_trip(std::size_t maxsize, int n) {
    corio::queue<int> q(maxsize);
    corio::task_handle<std::int64_t> consumer = corio::create_task(consume(q, n));
    corio::task_handle<> producer = corio::create_task(produce(q, n));
    co_await producer;
    co_return co_await consumer;
}

corio::task<std::int64_t> nowait_pairs(int n) {
    corio::queue<int> q;
    std::int64_t sum = 0;
    for (int i = 0; i < n; ++i) {
        q.put_nowait(i);
        sum += q.get_nowait();
    }
    co_return sum;
}

std::int64_t expected_sum(int n) {
    return static_cast<std::int64_t>(n) * (n - 1) / 2;
}

[[gnu::noinline]] std::int64_t run_round_trip(corio::event_loop& loop, std::size_t maxsize, int n) {
    return loop.run_until_complete(round_trip(maxsize, n));
}
[[gnu::noinline]] std::int64_t run_nowait(corio::event_loop& loop, int n) {
    return loop.run_until_complete(nowait_pairs(n));
}

void round_trip_bench(benchmark::State& state, std::size_t maxsize) {
    const int n = static_cast<int>(state.range(0));
    corio::event_loop loop;
    for (auto _ : state) {
        std::int64_t sum = run_round_trip(loop, maxsize, n);
        corio_bench::keep(sum);
        if (sum != expected_sum(n)) {
            state.SkipWithError("wrong sum: an item was lost or duplicated");
            break;
        }
    }
    corio_bench::report_ops(state, n);
}

void BM_queue_round_trip_maxsize_1(benchmark::State& state) {
    round_trip_bench(state, 1);
}
BENCHMARK(BM_queue_round_trip_maxsize_1)->Arg(1000);

void BM_queue_round_trip_unbounded(benchmark::State& state) {
    round_trip_bench(state, 0);
}
BENCHMARK(BM_queue_round_trip_unbounded)->Arg(1000);

void BM_queue_put_get_nowait(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    corio::event_loop loop;
    for (auto _ : state) {
        std::int64_t sum = run_nowait(loop, n);
        corio_bench::keep(sum);
        if (sum != expected_sum(n)) {
            state.SkipWithError("wrong sum: an item was lost or duplicated");
            break;
        }
    }
    corio_bench::report_ops(state, n);
}
BENCHMARK(BM_queue_put_get_nowait)->Arg(1000);

} // namespace
