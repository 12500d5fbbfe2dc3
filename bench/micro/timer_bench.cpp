// Cost of arming and cancelling a timer while many others are armed.
//
// The heap is filled first with `state.range(0)` timers at deadlines drawn uniformly over the
// next hour, armed in random order relative to their memory, as a server's sleeps and timeouts
// would be. Each iteration then arms one more timer at a precomputed random deadline and cancels
// it, at two levels:
//  - BM_timer_node_*: scheduler::arm_timer + cancel_timer on a timer_node that lives on the
//    stack, which is what sleep and timeout cost (they add one clock read for the deadline);
//  - BM_call_later_cancel_*: loop.call_later(delay, noop) + handle.cancel(), what users see:
//    it reads the clock and allocates (then frees) a callback node.
// The *_uniform variants draw the new deadline over the same hour; the *_soon variants draw it
// within the first 30 s, earlier than almost every armed timer, as a short timeout is: the entry
// then sifts up most of the heap.

#include <corio/corio.hpp>

#include "bench_common.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace {

using std::chrono::nanoseconds;
using ns_rep = std::int64_t;

constexpr ns_rep one_hour = std::chrono::nanoseconds(std::chrono::hours(1)).count();
constexpr ns_rep thirty_seconds = std::chrono::nanoseconds(std::chrono::seconds(30)).count();
constexpr std::size_t delay_count = 4096; // power of two: indexed with a mask

std::vector<ns_rep> random_delays(std::size_t count, ns_rep max, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<ns_rep> dist(1, max);
    std::vector<ns_rep> out(count);
    for (ns_rep& d : out)
        d = dist(rng);
    return out;
}

// A loop with `live` timers armed at random deadlines over the next hour, disarmed on
// destruction (the nodes would otherwise dangle in the heap).
class armed_loop {
  public:
    explicit armed_loop(std::size_t live) : m_nodes(live) {
        const corio::scheduler::time_point base = m_loop.time();
        const std::vector<ns_rep> delays = random_delays(live, one_hour, 1);
        for (std::size_t i = 0; i < live; ++i)
            m_loop.arm_timer(m_nodes[i], base + nanoseconds(delays[i]));
    }
    armed_loop(const armed_loop&) = delete;
    armed_loop& operator=(const armed_loop&) = delete;
    ~armed_loop() {
        for (corio::detail::timer_node& n : m_nodes)
            m_loop.cancel_timer(n);
    }
    corio::event_loop& loop() noexcept { return m_loop; }

  private:
    corio::event_loop m_loop;
    std::vector<corio::detail::timer_node> m_nodes;
};

void timer_node_arm_cancel(benchmark::State& state, ns_rep max_delay) {
    armed_loop armed(static_cast<std::size_t>(state.range(0)));
    corio::event_loop& loop = armed.loop();
    // Absolute deadlines, precomputed: this level takes a deadline, not a delay.
    std::vector<corio::scheduler::time_point> deadlines;
    const corio::scheduler::time_point base = loop.time();
    for (ns_rep d : random_delays(delay_count, max_delay, 2))
        deadlines.push_back(base + nanoseconds(d));
    corio::detail::timer_node node;
    std::size_t i = 0;
    for (auto _ : state) {
        loop.arm_timer(node, deadlines[i++ & (delay_count - 1)]);
        corio_bench::keep(node.m_index);
        loop.cancel_timer(node);
    }
    if (loop.timer_count() != static_cast<std::size_t>(state.range(0)))
        state.SkipWithError("timer count changed");
    corio_bench::report_ops(state, 1);
}

struct noop {
    void operator()() const noexcept {}
};

void call_later_cancel(benchmark::State& state, ns_rep max_delay) {
    armed_loop armed(static_cast<std::size_t>(state.range(0)));
    corio::event_loop& loop = armed.loop();
    const std::vector<ns_rep> delays = random_delays(delay_count, max_delay, 2);
    std::size_t i = 0;
    for (auto _ : state) {
        corio::callback_handle h =
            loop.call_later(nanoseconds(delays[i++ & (delay_count - 1)]), noop{});
        h.cancel();
        corio_bench::keep(h);
    }
    if (loop.timer_count() != static_cast<std::size_t>(state.range(0)))
        state.SkipWithError("timer count changed");
    corio_bench::report_ops(state, 1);
}

void BM_timer_node_arm_cancel_uniform(benchmark::State& state) {
    timer_node_arm_cancel(state, one_hour);
}
void BM_timer_node_arm_cancel_soon(benchmark::State& state) {
    timer_node_arm_cancel(state, thirty_seconds);
}
void BM_call_later_cancel_uniform(benchmark::State& state) {
    call_later_cancel(state, one_hour);
}
void BM_call_later_cancel_soon(benchmark::State& state) {
    call_later_cancel(state, thirty_seconds);
}
BENCHMARK(BM_timer_node_arm_cancel_uniform)->Arg(1000)->Arg(1000000);
BENCHMARK(BM_timer_node_arm_cancel_soon)->Arg(1000)->Arg(1000000);
BENCHMARK(BM_call_later_cancel_uniform)->Arg(1000)->Arg(1000000);
BENCHMARK(BM_call_later_cancel_soon)->Arg(1000)->Arg(1000000);

// Churn at steady size: each iteration cancels one of the live timers, picked at random, and
// re-arms it at a new random deadline over the hour. Unlike the benchmarks above, whose new
// entry always lands at the same leaf, this touches random heap positions and nodes, so it
// includes the cache misses of a large heap.
void BM_timer_node_rearm_random(benchmark::State& state) {
    const auto live = static_cast<std::size_t>(state.range(0));
    corio::event_loop loop;
    std::vector<corio::detail::timer_node> nodes(live);
    const corio::scheduler::time_point base = loop.time();
    const std::vector<ns_rep> delays = random_delays(live, one_hour, 1);
    for (std::size_t i = 0; i < live; ++i)
        loop.arm_timer(nodes[i], base + nanoseconds(delays[i]));
    std::vector<std::size_t> picks(delay_count);
    std::mt19937_64 rng(3);
    std::uniform_int_distribution<std::size_t> pick(0, live - 1);
    for (std::size_t& p : picks)
        p = pick(rng);
    std::vector<corio::scheduler::time_point> deadlines;
    for (ns_rep d : random_delays(delay_count, one_hour, 2))
        deadlines.push_back(base + nanoseconds(d));
    std::size_t i = 0;
    for (auto _ : state) {
        corio::detail::timer_node& n = nodes[picks[i & (delay_count - 1)]];
        loop.cancel_timer(n);
        loop.arm_timer(n, deadlines[i++ & (delay_count - 1)]);
        corio_bench::keep(n.m_index);
    }
    if (loop.timer_count() != live)
        state.SkipWithError("timer count changed");
    for (corio::detail::timer_node& n : nodes)
        loop.cancel_timer(n);
    corio_bench::report_ops(state, 1);
}
BENCHMARK(BM_timer_node_rearm_random)->Arg(1000)->Arg(1000000);

// For reference: one read of the loop's clock, which sleep() and call_later() pay on top of the
// heap operations.
void BM_loop_time(benchmark::State& state) {
    corio::event_loop loop;
    for (auto _ : state) {
        corio::scheduler::time_point t = loop.time();
        corio_bench::keep(t);
    }
    corio_bench::report_ops(state, 1);
}
BENCHMARK(BM_loop_time);

} // namespace
