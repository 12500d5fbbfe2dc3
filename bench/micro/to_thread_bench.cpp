// Round trips between a loop and other threads.
//
// BM_to_thread_round_trip: one task awaits `to_thread` of a trivial callable, `state.range(0)`
// times in a row. ns_per_op is one round trip: allocate the job, queue it on the default
// executor, wake the (sleeping) worker, run the callable, post the job back to the loop's inbox,
// wake the (sleeping) loop, resume the task.
//
// BM_to_thread_concurrent: `state.range(0)` tasks each await one to_thread at once on a
// 4-thread default executor (throughput rather than latency: wake-ups are amortised over
// batches).
//
// BM_run_coroutine_threadsafe_round_trip: the benchmark thread submits a trivial task to a loop
// running on another thread (a loop_group of one) and blocks on the future, `state.range(0)`
// times. ns_per_op is one round trip: post, wake the loop, create and run the task, fulfil the
// std::future, wake the benchmark thread.

#include <corio/corio.hpp>

#include "bench_common.hpp"

#include <cstdint>
#include <future>
#include <vector>

namespace {

corio::task<std::int64_t> to_thread_n(int n) {
    std::int64_t sum = 0;
    auto one = [] { return 1; };
    for (int i = 0; i < n; ++i) {
        auto call = corio::to_thread(one);
        sum += co_await call;
    }
    co_return sum;
}

void BM_to_thread_round_trip(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    corio::event_loop loop;
    for (auto _ : state) {
        const std::int64_t sum = loop.run_until_complete(to_thread_n(n));
        corio_bench::keep(sum);
        if (sum != n) {
            state.SkipWithError("a round trip went missing");
            break;
        }
    }
    corio_bench::report_ops(state, n);
}
BENCHMARK(BM_to_thread_round_trip)->Arg(1000)->UseRealTime();

corio::task<int> one_call() {
    auto one = [] { return 1; };
    auto call = corio::to_thread(one);
    co_return co_await call;
}

corio::task<std::int64_t> to_thread_concurrently(int n) {
    std::vector<corio::task<int>> calls;
    calls.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
        calls.push_back(one_call());
    auto all = corio::gather(std::move(calls));
    const std::vector<int> results = co_await all;
    std::int64_t sum = 0;
    for (int r : results)
        sum += r;
    co_return sum;
}

void BM_to_thread_concurrent(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    corio::loop_options options;
    options.default_executor_threads = 4;
    corio::event_loop loop(options);
    for (auto _ : state) {
        const std::int64_t sum = loop.run_until_complete(to_thread_concurrently(n));
        corio_bench::keep(sum);
        if (sum != n) {
            state.SkipWithError("a call went missing");
            break;
        }
    }
    corio_bench::report_ops(state, n);
}
BENCHMARK(BM_to_thread_concurrent)->Arg(1000)->UseRealTime();

corio::task<int> trivial() {
    co_return 1;
}

void BM_run_coroutine_threadsafe_round_trip(benchmark::State& state) {
    const std::int64_t n = state.range(0);
    corio::loop_group group(1);
    const corio::loop_handle loop = group.handle(0);
    for (auto _ : state) {
        std::int64_t sum = 0;
        for (std::int64_t i = 0; i < n; ++i)
            sum += corio::run_coroutine_threadsafe(trivial(), loop).get();
        corio_bench::keep(sum);
        if (sum != n) {
            state.SkipWithError("a round trip went missing");
            break;
        }
    }
    corio_bench::report_ops(state, n);
}
BENCHMARK(BM_run_coroutine_threadsafe_round_trip)->Arg(1000)->UseRealTime();

} // namespace
