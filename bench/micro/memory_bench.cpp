// Memory per suspended task: `state.range(0)` root tasks each parked in
// `co_await corio::sleep(1h)` on a real-clock loop (a virtual clock would jump to the deadline).
//
// Counters (all per task):
//  - rss_bytes: growth of the resident set (/proc/self/statm) over the creation, divided by N.
//    It includes the allocator's overhead and the timer heap's spare capacity.
//  - heap_bytes: growth of live heap memory as malloc_usable_size reports it, counted by the
//    global operator new/delete replaced in this file; includes the timer heap entry.
//  - requested_bytes: bytes asked of operator new during the creation, divided by N.
//  - frame_bytes / frame_usable_bytes: the size the compiler asks for one sleeping task's
//    coroutine frame (promise and task header included), and what malloc really reserves.
//  - create_ns / cancel_ns: time to create and park one task, and to cancel it and run it to
//    its end (the frame is freed then).
// The tasks are cancelled and run to completion at the end of each iteration.

#include <corio/corio.hpp>

#include "bench_common.hpp"
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

// ------------------------------------------------------------ allocation counting ----------

namespace {

// Relaxed: the counters are statistics read on the benchmark thread after the work is done.
std::atomic<std::int64_t> g_live_usable{0};
std::atomic<std::int64_t> g_requested{0};
std::atomic<std::int64_t> g_allocations{0};

void* counted_alloc(std::size_t n) {
    void* p = std::malloc(n == 0 ? 1 : n);
    if (!p)
        throw std::bad_alloc();
    g_live_usable.fetch_add(static_cast<std::int64_t>(malloc_usable_size(p)),
                            std::memory_order_relaxed);
    g_requested.fetch_add(static_cast<std::int64_t>(n), std::memory_order_relaxed);
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    return p;
}

void counted_free(void* p) noexcept {
    if (!p)
        return;
    g_live_usable.fetch_sub(static_cast<std::int64_t>(malloc_usable_size(p)),
                            std::memory_order_relaxed);
    std::free(p);
}

} // namespace

// The array and nothrow forms of the standard library forward to these.
void* operator new(std::size_t n) {
    return counted_alloc(n);
}
void operator delete(void* p) noexcept {
    counted_free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    counted_free(p);
}

// --------------------------------------------------------------------- benchmark -----------

namespace {

std::int64_t resident_bytes() {
    long size = 0;
    long resident = 0;
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (std::fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = 0;
    std::fclose(f);
    return static_cast<std::int64_t>(resident) * sysconf(_SC_PAGESIZE);
}

corio::task<void> sleeper() {
    // Named first: g++ 12 destroys co_await operand temporaries twice (DESIGN.md).
    auto nap = corio::sleep(std::chrono::hours(1));
    co_await nap; // throws cancelled_error at the end of the benchmark
}

// Creates n sleepers (dropping their handles) and yields once, so that every one of them has
// run its first step and parked on its timer before this task returns.
corio::task<void> spawn_sleepers(std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) {
        corio::task_handle<void> h = corio::create_task(sleeper());
        (void)h;
    }
    auto yield = corio::sleep(std::chrono::seconds(0));
    co_await yield;
}

// Yields until it is the last task of the loop.
corio::task<void> drain(corio::event_loop* loop) {
    while (loop->task_count() > 1) {
        auto yield = corio::sleep(std::chrono::seconds(0));
        co_await yield;
    }
}

corio::task<void> frame_probe(std::int64_t* frame_requested, std::int64_t* frame_usable) {
    // Empty corio's per-thread frame cache first, so that the probed frame comes from malloc.
    std::vector<corio::task<void>> holders;
    holders.reserve(corio::detail::frame_cache::max_cached);
    for (std::uint32_t i = 0; i < corio::detail::frame_cache::max_cached; ++i)
        holders.push_back(sleeper());
    const std::int64_t requested = g_requested.load(std::memory_order_relaxed);
    const std::int64_t usable = g_live_usable.load(std::memory_order_relaxed);
    corio::task<void> t = sleeper(); // allocates the frame and nothing else
    *frame_requested = g_requested.load(std::memory_order_relaxed) - requested;
    *frame_usable = g_live_usable.load(std::memory_order_relaxed) - usable;
    co_return; // t is destroyed unrun
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void BM_memory_per_sleeping_task(benchmark::State& state) {
    const std::int64_t n = state.range(0);
    double rss = 0, heap = 0, requested = 0, create_s = 0, cancel_s = 0;
    std::int64_t frame_requested = 0, frame_usable = 0;
    for (auto _ : state) {
        corio::event_loop loop;
        loop.run_until_complete(frame_probe(&frame_requested, &frame_usable));
        malloc_trim(0); // return what earlier iterations freed, so that RSS growth is visible
        const std::int64_t rss0 = resident_bytes();
        const std::int64_t heap0 = g_live_usable.load(std::memory_order_relaxed);
        const std::int64_t req0 = g_requested.load(std::memory_order_relaxed);
        const auto t0 = std::chrono::steady_clock::now();
        loop.run_until_complete(spawn_sleepers(n));
        create_s += seconds_since(t0);
        rss += static_cast<double>(resident_bytes() - rss0);
        heap += static_cast<double>(g_live_usable.load(std::memory_order_relaxed) - heap0);
        requested += static_cast<double>(g_requested.load(std::memory_order_relaxed) - req0);
        if (loop.task_count() != static_cast<std::size_t>(n) ||
            loop.timer_count() != static_cast<std::size_t>(n)) {
            state.SkipWithError("the tasks are not all parked on a timer");
            break;
        }

        const auto t1 = std::chrono::steady_clock::now();
        for (corio::detail::task_header* t = loop.first_task(); t; t = t->m_next_task)
            t->cancel();
        loop.run_until_complete(drain(&loop));
        cancel_s += seconds_since(t1);
        if (loop.task_count() != 0 || loop.timer_count() != 0) {
            state.SkipWithError("the tasks did not all finish");
            break;
        }
    }
    const double per = static_cast<double>(state.iterations()) * static_cast<double>(n);
    state.counters["rss_bytes"] = rss / per;
    state.counters["heap_bytes"] = heap / per;
    state.counters["requested_bytes"] = requested / per;
    state.counters["frame_bytes"] = static_cast<double>(frame_requested);
    state.counters["frame_usable_bytes"] = static_cast<double>(frame_usable);
    state.counters["create_ns"] = create_s * 1e9 / per;
    state.counters["cancel_ns"] = cancel_s * 1e9 / per;
}
BENCHMARK(BM_memory_per_sleeping_task)
    ->Arg(1000000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

} // namespace
