// Cost of the synchronisation primitives of corio/sync:
// - an uncontended lock: acquire + release of a free lock, with the guard of `co_await l` and
//   with acquire()/release() (the fast path: no suspension, no loop round trip);
// - a contended lock: two tasks handing the lock to each other, so that every acquisition
//   suspends, is granted by the other task's release, and resumes through the ready queue;
// - an uncontended semaphore: acquire + release with a free unit.
//
// Each benchmark iteration runs a batch inside one run_until_complete on a loop built once;
// ns_per_op is per acquire + release pair (per hand-off for the contended case).

#include <corio/corio.hpp>
#include <corio/sync/lock.hpp>
#include <corio/sync/semaphore.hpp>

#include "bench_common.hpp"

#include <chrono>
#include <cstdint>

namespace {

corio::task<std::int64_t> lock_guard_n(corio::lock& l, int n) {
    std::int64_t done = 0;
    for (int i = 0; i < n; ++i) {
        auto g = co_await l;
        ++done;
    }
    co_return done;
}

corio::task<std::int64_t> lock_manual_n(corio::lock& l, int n) {
    std::int64_t done = 0;
    for (int i = 0; i < n; ++i) {
        co_await l.acquire();
        ++done;
        l.release();
    }
    co_return done;
}

/// Takes the lock n times. The first time it holds it across a yield, so that the other task
/// queues behind it; from then on each release hands the lock to the other task, and the next
/// acquire queues behind that one: every acquisition is a hand-off.
corio::task<std::int64_t> contender(corio::lock& l, int n) {
    std::int64_t done = 0;
    for (int i = 0; i < n; ++i) {
        auto g = co_await l;
        if (i == 0) {
            // Named first: g++ 12 destroys co_await operand temporaries twice (DESIGN.md).
            auto yield = corio::sleep(std::chrono::seconds(0));
            co_await yield;
        }
        ++done;
    }
    co_return done;
}

corio::task<std::int64_t> two_contenders(corio::lock& l, int n) {
    corio::task_handle<std::int64_t> a = corio::create_task(contender(l, n));
    corio::task_handle<std::int64_t> b = corio::create_task(contender(l, n));
    std::int64_t done = co_await a;
    done += co_await b;
    co_return done;
}

corio::task<std::int64_t> semaphore_n(corio::semaphore& s, int n) {
    std::int64_t done = 0;
    for (int i = 0; i < n; ++i) {
        co_await s.acquire();
        ++done;
        s.release();
    }
    co_return done;
}

corio::task<std::int64_t> semaphore_guard_n(corio::semaphore& s, int n) {
    std::int64_t done = 0;
    for (int i = 0; i < n; ++i) {
        auto unit = co_await s;
        ++done;
    }
    co_return done;
}

[[gnu::noinline]] std::int64_t run_lock_guard(corio::event_loop& loop, corio::lock& l, int n) {
    return loop.run_until_complete(lock_guard_n(l, n));
}
[[gnu::noinline]] std::int64_t run_lock_manual(corio::event_loop& loop, corio::lock& l, int n) {
    return loop.run_until_complete(lock_manual_n(l, n));
}
[[gnu::noinline]] std::int64_t run_lock_contended(corio::event_loop& loop, corio::lock& l, int n) {
    return loop.run_until_complete(two_contenders(l, n));
}
[[gnu::noinline]] std::int64_t run_semaphore(corio::event_loop& loop, corio::semaphore& s, int n) {
    return loop.run_until_complete(semaphore_n(s, n));
}
[[gnu::noinline]] std::int64_t run_semaphore_guard(corio::event_loop& loop, corio::semaphore& s,
                                                   int n) {
    return loop.run_until_complete(semaphore_guard_n(s, n));
}

template <typename Primitive, typename Run>
void measure(benchmark::State& state, Run run, std::int64_t ops_per_run) {
    const int n = static_cast<int>(state.range(0));
    corio::event_loop loop;
    Primitive p;
    for (auto _ : state) {
        std::int64_t done = run(loop, p, n);
        corio_bench::keep(done);
        if (done != ops_per_run) {
            state.SkipWithError("the task did not complete every operation");
            break;
        }
    }
    corio_bench::report_ops(state, ops_per_run);
}

void BM_lock_uncontended_guard(benchmark::State& state) {
    measure<corio::lock>(state, run_lock_guard, state.range(0));
}
BENCHMARK(BM_lock_uncontended_guard)->Arg(10000);

void BM_lock_uncontended_acquire_release(benchmark::State& state) {
    measure<corio::lock>(state, run_lock_manual, state.range(0));
}
BENCHMARK(BM_lock_uncontended_acquire_release)->Arg(10000);

void BM_lock_contended_hand_off(benchmark::State& state) {
    // Two tasks, n acquisitions each: 2n hand-offs (less the first, which is not one).
    measure<corio::lock>(state, run_lock_contended, 2 * state.range(0));
}
BENCHMARK(BM_lock_contended_hand_off)->Arg(1000);

void BM_semaphore_uncontended_acquire_release(benchmark::State& state) {
    measure<corio::semaphore>(state, run_semaphore, state.range(0));
}
BENCHMARK(BM_semaphore_uncontended_acquire_release)->Arg(10000);

void BM_semaphore_uncontended_guard(benchmark::State& state) {
    measure<corio::semaphore>(state, run_semaphore_guard, state.range(0));
}
BENCHMARK(BM_semaphore_uncontended_guard)->Arg(10000);

} // namespace
