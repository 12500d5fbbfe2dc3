#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"

#include "support/loop_helpers.hpp"
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <coroutine>
#include <exception>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::event_loop;
using corio::scheduler;
using corio::task;
using corio::test::run_virtual;
using corio::test::virtual_clock;

task<scheduler::duration> measure_sleep(scheduler::duration d) {
    const auto before = scheduler::current()->time();
    co_await corio::sleep(d);
    co_return scheduler::current()->time() - before;
}

TEST(Sleep, OnTheVirtualClockAnHourPassesExactlyAndAtOnce) {
    const auto real_start = std::chrono::steady_clock::now();
    EXPECT_EQ(run_virtual(measure_sleep(1h)), 1h);
    EXPECT_LT(std::chrono::steady_clock::now() - real_start, 1s);
}

template <typename Duration>
task<> sleep_for_seconds(Duration d, scheduler::duration* took) {
    const auto before = scheduler::current()->time();
    co_await corio::sleep(d);
    *took = scheduler::current()->time() - before;
}

TEST(Sleep, AFloatingPointDurationSleepsThatLong) {
    scheduler::duration took{};
    run_virtual(sleep_for_seconds(std::chrono::duration<double>(0.25), &took));
    EXPECT_EQ(took, 250ms);
}

TEST(Sleep, AFractionOfAClockTickIsRoundedUpNotDown) {
    // 1.5 ns on a nanosecond clock: waking after 1 ns would wake before the deadline.
    scheduler::duration took{};
    run_virtual(sleep_for_seconds(std::chrono::duration<double, std::nano>(1.5), &took));
    EXPECT_EQ(took, 2ns);
}

task<> yield_and_log(char name, int rounds, std::string* log) {
    for (int i = 0; i < rounds; ++i) {
        *log += name;
        co_await corio::sleep(0s);
    }
}

task<std::string> two_yielders() {
    std::string log;
    auto a = corio::create_task(yield_and_log('a', 5, &log));
    auto b = corio::create_task(yield_and_log('b', 5, &log));
    co_await a;
    co_await b;
    co_return log;
}

TEST(Sleep, SleepZeroYieldsSoTwoTasksAlternateStrictly) {
    corio::event_loop loop(virtual_clock());
    const auto t0 = loop.time();
    EXPECT_EQ(loop.run_until_complete(two_yielders()), "ababababab");
    EXPECT_EQ(loop.time(), t0) << "yielding does not advance time";
    EXPECT_EQ(loop.timer_count(), 0u);
}

task<std::string> negative_sleep_yields() {
    std::string log;
    auto a = corio::create_task(yield_and_log('a', 2, &log));
    log += 'm';
    co_await corio::sleep(-5s); // like sleep(0): the other task runs first
    log += 'm';
    co_await a;
    co_return log;
}

TEST(Sleep, ANegativeSleepYieldsLikeSleepZero) {
    EXPECT_EQ(run_virtual(negative_sleep_yields()), "mama");
}

task<scheduler::duration> sleep_until_the_past() {
    auto* s = scheduler::current();
    const auto before = s->time();
    co_await corio::sleep_until(before - 10s);
    co_await corio::sleep_until(before);
    co_return s->time() - before;
}

TEST(Sleep, SleepUntilAPastDeadlineReturnsPromptlyWithoutMovingTheClock) {
    EXPECT_EQ(run_virtual(sleep_until_the_past()), scheduler::duration::zero());
}

TEST(Sleep, SleepUntilAPastDeadlineReturnsPromptlyOnTheRealClock) {
    corio::event_loop loop;
    const auto start = std::chrono::steady_clock::now();
    loop.run_until_complete(sleep_until_the_past());
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

task<scheduler::duration> sleep_until_a_future_deadline() {
    auto* s = scheduler::current();
    const auto start = s->time();
    co_await corio::sleep_until(start + 90min);
    co_return s->time() - start;
}

TEST(Sleep, SleepUntilAFutureDeadlineWakesExactlyAtIt) {
    EXPECT_EQ(run_virtual(sleep_until_a_future_deadline()), 90min);
}

task<> long_sleep(bool* saw_cancel) {
    try {
        co_await corio::sleep(1h);
    } catch (const corio::cancelled_error&) {
        *saw_cancel = true;
        throw;
    }
}

struct disarm_outcome {
    std::size_t timers_while_sleeping = 0;
    std::size_t timers_after_cancel = 99;
    bool saw_cancel = false;
    scheduler::duration elapsed{};
};

task<> cancel_a_sleep(disarm_outcome* out) {
    auto* s = scheduler::current();
    const auto start = s->time();
    auto h = corio::create_task(long_sleep(&out->saw_cancel));
    co_await corio::sleep(0s); // h parks at its sleep
    out->timers_while_sleeping = s->timer_count();
    h.cancel();
    out->timers_after_cancel = s->timer_count();
    try {
        co_await h;
    } catch (const corio::cancelled_error&) {
    }
    out->elapsed = s->time() - start;
}

TEST(Sleep, CancelDuringASleepDisarmsItsTimer) {
    disarm_outcome out;
    run_virtual(cancel_a_sleep(&out));
    EXPECT_EQ(out.timers_while_sleeping, 1u);
    EXPECT_EQ(out.timers_after_cancel, 0u);
    EXPECT_TRUE(out.saw_cancel);
    EXPECT_EQ(out.elapsed, scheduler::duration::zero());
}

task<> cancel_self_then_sleep(corio::task_handle<>* self, bool* saw_cancel, std::size_t* timers) {
    // The request is made while the task runs; the sleep must throw without arming a timer.
    self->cancel();
    try {
        co_await corio::sleep(1h);
    } catch (const corio::cancelled_error&) {
        *saw_cancel = true;
        *timers = scheduler::current()->timer_count();
        throw;
    }
}

task<bool> self_cancel(bool* saw_cancel, std::size_t* timers) {
    corio::task_handle<> h;
    h = corio::create_task(cancel_self_then_sleep(&h, saw_cancel, timers));
    try {
        co_await h;
    } catch (const corio::cancelled_error&) {
    }
    co_return h.cancelled();
}

TEST(Sleep, ACancelRequestedWhileRunningSurfacesAtTheNextSleepWithoutArmingIt) {
    bool saw_cancel = false;
    std::size_t timers = 99;
    corio::event_loop loop(virtual_clock());
    const auto t0 = loop.time();
    EXPECT_TRUE(loop.run_until_complete(self_cancel(&saw_cancel, &timers)));
    EXPECT_TRUE(saw_cancel);
    EXPECT_EQ(timers, 0u);
    EXPECT_EQ(loop.time(), t0);
}

task<> yield_then_sleep(bool* resumed_after_yield) {
    co_await corio::sleep(0s);
    *resumed_after_yield = true;
    co_await corio::sleep(1h);
}

task<bool> cancel_while_queued(bool* resumed_after_yield) {
    auto h = corio::create_task(yield_then_sleep(resumed_after_yield));
    co_await corio::sleep(0s); // h has run its first step and is queued after its yield
    h.cancel();
    try {
        co_await h;
    } catch (const corio::cancelled_error&) {
    }
    co_return h.cancelled();
}

TEST(Sleep, ACancelRequestedWhileQueuedSurfacesWhereTheTaskYielded) {
    bool resumed_after_yield = false;
    EXPECT_TRUE(run_virtual(cancel_while_queued(&resumed_after_yield)));
    EXPECT_FALSE(resumed_after_yield);
}

/// A bare coroutine that is not a corio task: it runs eagerly and keeps its exception.
struct bare_coroutine {
    struct promise_type {
        std::exception_ptr* out;
        promise_type(std::exception_ptr* e) : out(e) {}
        bare_coroutine get_return_object() noexcept { return {}; }
        std::suspend_never initial_suspend() noexcept { return {}; }
        std::suspend_never final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept { *out = std::current_exception(); }
    };
};

bare_coroutine sleep_in_bare_coroutine(std::exception_ptr*) {
    co_await corio::sleep(1s);
}

bool is_logic_error(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::logic_error&) {
        return true;
    } catch (...) {
        return false;
    }
}

TEST(Sleep, ASleepOutsideAnyLoopThrowsLogicError) {
    std::exception_ptr e;
    sleep_in_bare_coroutine(&e);
    ASSERT_TRUE(e);
    EXPECT_TRUE(is_logic_error(e));
}

TEST(Sleep, ASleepInALoopCallbackOutsideATaskThrowsLogicError) {
    event_loop loop(virtual_clock());
    std::exception_ptr e;
    loop.call_soon([&] {
        sleep_in_bare_coroutine(&e);
        loop.stop();
    });
    loop.run_forever();
    ASSERT_TRUE(e);
    EXPECT_TRUE(is_logic_error(e));
    EXPECT_EQ(loop.timer_count(), 0u);
}

struct wake_record {
    int id;
    scheduler::duration at;
};

task<> sleep_and_record(int id, scheduler::duration d, scheduler::time_point t0,
                        std::vector<wake_record>* wakes) {
    co_await corio::sleep(d);
    wakes->push_back(wake_record{id, scheduler::current()->time() - t0});
}

task<> many_sleepers(const std::vector<scheduler::duration>* durations,
                     std::vector<wake_record>* wakes) {
    const auto t0 = scheduler::current()->time();
    std::vector<corio::task_handle<>> handles;
    handles.reserve(durations->size());
    for (std::size_t i = 0; i < durations->size(); ++i)
        handles.push_back(
            corio::create_task(sleep_and_record(static_cast<int>(i), (*durations)[i], t0, wakes)));
    for (auto& h : handles)
        co_await h;
}

TEST(Sleep, TenThousandConcurrentSleepsWakeInDeadlineOrder) {
    constexpr int n = 10'000;
    std::mt19937 rng(12345);
    std::uniform_int_distribution<int> ms(1, 5'000); // collisions are likely: ties are tested
    std::vector<scheduler::duration> durations;
    for (int i = 0; i < n; ++i)
        durations.push_back(std::chrono::milliseconds(ms(rng)));
    std::vector<wake_record> wakes;
    event_loop loop(virtual_clock());
    loop.run_until_complete(many_sleepers(&durations, &wakes));
    ASSERT_EQ(wakes.size(), static_cast<std::size_t>(n));
    // Every sleep wakes exactly at its deadline...
    for (const wake_record& w : wakes)
        ASSERT_EQ(w.at, durations[static_cast<std::size_t>(w.id)]) << "task " << w.id;
    // ...in deadline order, and equal deadlines in the order the sleeps started.
    for (std::size_t i = 1; i < wakes.size(); ++i) {
        ASSERT_LE(wakes[i - 1].at, wakes[i].at) << "at " << i;
        if (wakes[i - 1].at == wakes[i].at) {
            ASSERT_LT(wakes[i - 1].id, wakes[i].id) << "at " << i;
        }
    }
    EXPECT_EQ(loop.timer_count(), 0u);
}

} // namespace
