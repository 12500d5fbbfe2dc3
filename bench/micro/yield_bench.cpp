// Cost of a yield: `co_await corio::sleep(0s)` puts the task at the back of the ready queue and
// the loop resumes it (no timer is armed for a zero delay). Measured for one task yielding
// alone, and for two tasks yielding in turn (each yield then switches to the other task).
//
// Each benchmark iteration runs a batch of yields inside one run_until_complete on a loop built
// once; ns_per_op is per yield.

#include <corio/corio.hpp>

#include "bench_common.hpp"

#include <chrono>
#include <cstdint>

namespace {

corio::task<std::int64_t> yield_n(int n) {
    std::int64_t done = 0;
    for (int i = 0; i < n; ++i) {
        // Named first: g++ 12 destroys co_await operand temporaries twice (DESIGN.md).
        auto yield = corio::sleep(std::chrono::seconds(0));
        co_await yield;
        ++done;
    }
    co_return done;
}

corio::task<std::int64_t> two_yielders(int n) {
    corio::task_handle<std::int64_t> a = corio::create_task(yield_n(n));
    corio::task_handle<std::int64_t> b = corio::create_task(yield_n(n));
    std::int64_t done = co_await a;
    done += co_await b;
    co_return done;
}

[[gnu::noinline]] std::int64_t run_yield_alone(corio::event_loop& loop, int n) {
    return loop.run_until_complete(yield_n(n));
}
[[gnu::noinline]] std::int64_t run_yield_pair(corio::event_loop& loop, int n) {
    return loop.run_until_complete(two_yielders(n));
}

void BM_yield_alone(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    corio::event_loop loop;
    for (auto _ : state) {
        std::int64_t done = run_yield_alone(loop, n);
        corio_bench::keep(done);
        if (done != n) {
            state.SkipWithError("the task did not yield n times");
            break;
        }
    }
    corio_bench::report_ops(state, n);
}
BENCHMARK(BM_yield_alone)->Arg(1000);

void BM_yield_two_tasks(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0)); // yields per task
    corio::event_loop loop;
    for (auto _ : state) {
        std::int64_t done = run_yield_pair(loop, n);
        corio_bench::keep(done);
        if (done != 2 * static_cast<std::int64_t>(n)) {
            state.SkipWithError("the tasks did not yield n times each");
            break;
        }
    }
    corio_bench::report_ops(state, 2 * static_cast<std::int64_t>(n));
}
BENCHMARK(BM_yield_two_tasks)->Arg(1000);

} // namespace
