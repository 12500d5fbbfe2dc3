// call_soon_threadsafe from another thread.
//
// BM_call_soon_threadsafe_throughput: a producer std::thread posts `state.range(0)` callbacks
// through loop.handle() as fast as it can while the loop (on the benchmark thread) runs them;
// the last one stops the loop. ns_per_op is wall-clock time per callback, producer thread start
// included (about 1% of a batch).
//
// BM_eventfd_pingpong_baseline (Linux): the same round trip without corio, a thread blocked in
// epoll_wait on an eventfd that the other thread writes, to separate the machine's wake-up
// latency from the library's cost.
//
// BM_call_soon_threadsafe_pingpong: the other thread posts one callback, which stores a sequence
// number into an atomic; the thread spins until it sees it, then posts the next. ns_per_op is
// one round trip: post, wake-up of the sleeping loop (eventfd + epoll_wait), run, and the store
// seen by the other thread.

#include <corio/corio.hpp>

#include "bench_common.hpp"

#include <atomic>
#include <cstdint>
#include <thread>

#if defined(__linux__)
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#endif

namespace {

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

struct sink {
    corio::event_loop* loop;
    std::int64_t target;
    std::int64_t count = 0; // loop thread only
};

void produce(corio::loop_handle handle, sink* s) {
    for (std::int64_t i = 0; i < s->target; ++i) {
        handle.call_soon_threadsafe([s] {
            if (++s->count == s->target)
                s->loop->stop();
        });
    }
}

void BM_call_soon_threadsafe_throughput(benchmark::State& state) {
    const std::int64_t n = state.range(0);
    corio::event_loop loop;
    for (auto _ : state) {
        sink s{&loop, n};
        std::thread producer(produce, loop.handle(), &s);
        loop.run_forever();
        producer.join();
        if (s.count != n) {
            state.SkipWithError("not every callback ran");
            break;
        }
    }
    corio_bench::report_ops(state, n);
}
BENCHMARK(BM_call_soon_threadsafe_throughput)->Arg(1 << 16)->UseRealTime();

void ping(corio::loop_handle handle, corio::event_loop* loop, std::atomic<std::int64_t>* acked,
          std::int64_t rounds) {
    for (std::int64_t i = 1; i <= rounds; ++i) {
        handle.call_soon_threadsafe([acked, i] {
            // Release: nothing else is published; kept for the usual pairing with the acquire.
            acked->store(i, std::memory_order_release);
        });
        while (acked->load(std::memory_order_acquire) != i)
            cpu_relax();
    }
    handle.call_soon_threadsafe([loop] { loop->stop(); });
}

void BM_call_soon_threadsafe_pingpong(benchmark::State& state) {
    const std::int64_t rounds = state.range(0);
    corio::event_loop loop;
    for (auto _ : state) {
        std::atomic<std::int64_t> acked{0};
        std::thread peer(ping, loop.handle(), &loop, &acked, rounds);
        loop.run_forever();
        peer.join();
        if (acked.load() != rounds) {
            state.SkipWithError("not every round trip completed");
            break;
        }
    }
    corio_bench::report_ops(state, rounds);
}
BENCHMARK(BM_call_soon_threadsafe_pingpong)->Arg(1000)->UseRealTime();

#if defined(__linux__)
void eventfd_ping(int efd, std::atomic<std::int64_t>* acked, std::int64_t rounds) {
    for (std::int64_t i = 1; i <= rounds + 1; ++i) { // the last write tells the loop to stop
        const std::uint64_t one = 1;
        if (::write(efd, &one, sizeof one) != sizeof one)
            return;
        if (i > rounds)
            return;
        while (acked->load(std::memory_order_acquire) != i)
            cpu_relax();
    }
}

void BM_eventfd_pingpong_baseline(benchmark::State& state) {
    const std::int64_t rounds = state.range(0);
    const int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    if (efd < 0 || ep < 0 || ::epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) != 0) {
        state.SkipWithError("eventfd/epoll setup failed");
        return;
    }
    for (auto _ : state) {
        std::atomic<std::int64_t> acked{0};
        std::thread peer(eventfd_ping, efd, &acked, rounds);
        for (std::int64_t i = 1; i <= rounds + 1;) {
            epoll_event out{};
            if (::epoll_wait(ep, &out, 1, -1) != 1)
                continue;
            std::uint64_t count = 0;
            if (::read(efd, &count, sizeof count) != sizeof count)
                continue;
            if (i <= rounds)
                acked.store(i, std::memory_order_release);
            i += static_cast<std::int64_t>(count);
        }
        peer.join();
    }
    ::close(ep);
    ::close(efd);
    corio_bench::report_ops(state, rounds);
}
BENCHMARK(BM_eventfd_pingpong_baseline)->Arg(1000)->UseRealTime();
#endif

} // namespace
