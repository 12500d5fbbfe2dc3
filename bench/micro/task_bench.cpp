// Cost of a task: a root task created, run and destroyed through create_task + co_await of its
// handle, and a task awaited inline (frame allocation + symmetric transfer in and out).
//
// Google Benchmark's state loop cannot run inside a coroutine, so each benchmark iteration runs
// one batch of `state.range(0)` operations inside a single run_until_complete on a loop built
// once. ns_per_op divides by the operations; BM_run_until_complete_overhead measures the
// per-batch cost that the batch amortises (divide it by the batch size).

#include <corio/corio.hpp>

#include "bench_common.hpp"

#include <cstdint>

namespace {

corio::task<int> trivial(int v) {
    co_return v;
}

// One root task per iteration: create_task (schedules its first step), co_await on the handle
// (the driver parks until the task finishes), and the handle's release at the end of the body
// destroys the frame.
corio::task<std::int64_t> spawn_and_await(int n) {
    std::int64_t sum = 0;
    for (int i = 0; i < n; ++i) {
        corio::task_handle<int> h = corio::create_task(trivial(i));
        sum += co_await h;
    }
    co_return sum;
}

// One inline await per iteration: frame allocation, symmetric transfer into the callee and back,
// frame destruction. The task is named first (g++ 12 destroys co_await operand temporaries
// twice, see DESIGN.md).
corio::task<std::int64_t> await_inline(int n) {
    std::int64_t sum = 0;
    for (int i = 0; i < n; ++i) {
        corio::task<int> t = trivial(i);
        sum += co_await std::move(t);
    }
    co_return sum;
}

std::int64_t expected_sum(int n) {
    return static_cast<std::int64_t>(n) * (n - 1) / 2;
}

// Out of line so that `valgrind --tool=callgrind --toggle-collect=...run_batch...` can restrict
// the instruction count to the measured work (see docs/performance.md).
[[gnu::noinline]] std::int64_t run_spawn_batch(corio::event_loop& loop, int n) {
    return loop.run_until_complete(spawn_and_await(n));
}
[[gnu::noinline]] std::int64_t run_inline_batch(corio::event_loop& loop, int n) {
    return loop.run_until_complete(await_inline(n));
}

void BM_task_create_await(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    corio::event_loop loop;
    for (auto _ : state) {
        std::int64_t sum = run_spawn_batch(loop, n);
        corio_bench::keep(sum);
        if (sum != expected_sum(n)) {
            state.SkipWithError("wrong sum: the tasks did not all run");
            break;
        }
    }
    corio_bench::report_ops(state, n);
}
BENCHMARK(BM_task_create_await)->Arg(1000);

void BM_task_await_inline(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    corio::event_loop loop;
    for (auto _ : state) {
        std::int64_t sum = run_inline_batch(loop, n);
        corio_bench::keep(sum);
        if (sum != expected_sum(n)) {
            state.SkipWithError("wrong sum: the tasks did not all run");
            break;
        }
    }
    corio_bench::report_ops(state, n);
}
BENCHMARK(BM_task_await_inline)->Arg(1000);

// The fixed cost of one batch (run_until_complete of a task that does nothing), which the
// benchmarks above spread over their batch.
void BM_run_until_complete_overhead(benchmark::State& state) {
    corio::event_loop loop;
    for (auto _ : state) {
        std::int64_t sum = run_spawn_batch(loop, 0);
        corio_bench::keep(sum);
    }
    corio_bench::report_ops(state, 1);
}
BENCHMARK(BM_run_until_complete_overhead);

} // namespace
