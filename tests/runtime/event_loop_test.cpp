#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"

#include "support/loop_helpers.hpp"
#include "support/scoped_env.hpp"
#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::event_loop;
using corio::task;
using corio::test::virtual_clock;

TEST(EventLoop, CallSoonRunsCallbacksInFifoOrder) {
    event_loop loop(virtual_clock());
    std::vector<int> order;
    for (int i = 0; i < 10; ++i)
        loop.call_soon([&order, i] { order.push_back(i); });
    loop.call_soon([&loop] { loop.stop(); });
    loop.run_forever();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(EventLoop, CallbacksScheduledByACallbackRunAfterTheOnesAlreadyQueued) {
    event_loop loop(virtual_clock());
    std::vector<std::string> order;
    loop.call_soon([&] {
        order.push_back("a");
        loop.call_soon([&] {
            order.push_back("c");
            loop.stop();
        });
    });
    loop.call_soon([&] { order.push_back("b"); });
    loop.run_forever();
    EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(EventLoop, ACancelledCallbackDoesNotRun) {
    event_loop loop(virtual_clock());
    bool ran = false;
    corio::callback_handle h = loop.call_soon([&ran] { ran = true; });
    EXPECT_FALSE(h.cancelled());
    h.cancel();
    h.cancel(); // idempotent
    EXPECT_TRUE(h.cancelled());
    loop.call_soon([&loop] { loop.stop(); });
    loop.run_forever();
    EXPECT_FALSE(ran);
}

TEST(EventLoop, ACancelledTimerDoesNotRunAndIsDisarmed) {
    event_loop loop(virtual_clock());
    bool ran = false;
    corio::callback_handle h = loop.call_later(5s, [&ran] { ran = true; });
    EXPECT_EQ(loop.timer_count(), 1u);
    h.cancel();
    EXPECT_EQ(loop.timer_count(), 0u);
    loop.call_later(10s, [&loop] { loop.stop(); });
    loop.run_forever();
    EXPECT_FALSE(ran);
}

TEST(EventLoop, DroppingACallbackHandleDoesNotCancelTheCallback) {
    event_loop loop(virtual_clock());
    bool ran = false;
    (void)loop.call_later(1s, [&ran] { ran = true; });
    loop.call_later(2s, [&loop] { loop.stop(); });
    loop.run_forever();
    EXPECT_TRUE(ran);
}

TEST(EventLoop, CallLaterAndCallAtFireInDeadlineOrderOnTheVirtualClock) {
    event_loop loop(virtual_clock());
    const auto t0 = loop.time();
    std::vector<std::pair<int, event_loop::duration>> fired;
    auto record = [&](int id) { fired.emplace_back(id, loop.time() - t0); };
    loop.call_later(3s, [&] { record(3); });
    loop.call_at(t0 + 1s, [&] { record(1); });
    loop.call_later(2s, [&] { record(2); });
    corio::callback_handle h = loop.call_at(t0 + 4s, [&] {
        record(4);
        loop.stop();
    });
    EXPECT_EQ(h.when(), t0 + 4s);
    loop.run_forever();
    ASSERT_EQ(fired.size(), 4u);
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(fired[i].first, i + 1);
        EXPECT_EQ(fired[i].second, std::chrono::seconds(i + 1));
    }
}

TEST(EventLoop, EqualDeadlinesFireInSchedulingOrder) {
    event_loop loop(virtual_clock());
    const auto when = loop.time() + 1s;
    std::vector<int> order;
    for (int i = 0; i < 20; ++i)
        loop.call_at(when, [&order, i] { order.push_back(i); });
    loop.call_at(when, [&loop] { loop.stop(); });
    loop.run_forever();
    ASSERT_EQ(order.size(), 20u);
    for (int i = 0; i < 20; ++i)
        EXPECT_EQ(order[i], i);
}

TEST(EventLoop, VirtualTimeAdvancesExactlyToTheNextTimer) {
    event_loop loop(virtual_clock());
    EXPECT_EQ(loop.clock_kind(), corio::clock_mode::virtual_time);
    const auto t0 = loop.time();
    std::vector<event_loop::duration> seen;
    loop.call_later(1500ms, [&] { seen.push_back(loop.time() - t0); });
    loop.call_later(7h, [&] {
        seen.push_back(loop.time() - t0);
        loop.stop();
    });
    const auto real_start = std::chrono::steady_clock::now();
    loop.run_forever();
    const auto real_took = std::chrono::steady_clock::now() - real_start;
    EXPECT_EQ(seen, (std::vector<event_loop::duration>{1500ms, 7h}));
    EXPECT_EQ(loop.time() - t0, 7h);
    EXPECT_LT(real_took, 5s);
}

TEST(EventLoop, VirtualTimeStandsStillWhileWorkIsReady) {
    event_loop loop(virtual_clock());
    const auto t0 = loop.time();
    int rounds = 0;
    std::optional<event_loop::time_point> time_when_done;
    // A callback that reschedules itself keeps the ready queue busy: the pending timer must not
    // be reached while it does.
    struct again {
        event_loop* loop;
        int* rounds;
        std::optional<event_loop::time_point>* done;
        void operator()() const {
            if (++*rounds < 1000) {
                loop->call_soon(*this);
            } else {
                *done = loop->time();
            }
        }
    };
    bool timer_fired_early = false;
    loop.call_later(1s, [&] {
        timer_fired_early = !time_when_done.has_value();
        loop.stop();
    });
    loop.call_soon(again{&loop, &rounds, &time_when_done});
    loop.run_forever();
    EXPECT_EQ(rounds, 1000);
    ASSERT_TRUE(time_when_done.has_value());
    EXPECT_EQ(*time_when_done, t0);
    EXPECT_FALSE(timer_fired_early);
    EXPECT_EQ(loop.time() - t0, 1s);
}

TEST(EventLoop, WhileIoIsPendingVirtualTimeJumpsOnlyAfterAQuietSpellOfRealTime) {
    // A reader on a pipe nobody writes to: an operation pending that will never complete. The
    // loop must still reach the timer, but only after waiting in the kernel for 20 ms of real
    // time, since loopback traffic can lag that long under load.
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    event_loop loop(virtual_clock());
    const auto t0 = loop.time();
    bool read_called = false;
    loop.add_reader(fds[0], [&] { read_called = true; });
    loop.call_later(1h, [&] { loop.stop(); });
    const auto real_start = std::chrono::steady_clock::now();
    loop.run_forever();
    const auto real_took = std::chrono::steady_clock::now() - real_start;
    loop.remove_reader(fds[0]);
    ::close(fds[0]);
    ::close(fds[1]);
    EXPECT_FALSE(read_called);
    EXPECT_EQ(loop.time() - t0, 1h);
    EXPECT_GE(real_took, 20ms);
}

TEST(EventLoop, ALoopOfSleepsWhileIoIsPendingWaitsForTheQuietSpellOnceNotPerSleep) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    event_loop loop(virtual_clock());
    loop.add_reader(fds[0], [] {});
    const auto t0 = loop.time();
    const auto real_start = std::chrono::steady_clock::now();
    loop.run_until_complete([]() -> task<void> {
        for (int i = 0; i < 500; ++i)
            co_await corio::sleep(1s);
    }());
    const auto real_took = std::chrono::steady_clock::now() - real_start;
    loop.remove_reader(fds[0]);
    ::close(fds[0]);
    ::close(fds[1]);
    EXPECT_EQ(loop.time() - t0, 500s);
    EXPECT_LT(real_took, 5s) << "20 ms per sleep would be 10 s";
}

task<int> compute(int v) {
    co_await corio::sleep(10s);
    co_return v * 2;
}

task<int> fail_later() {
    co_await corio::sleep(1s);
    throw std::out_of_range("bad index");
    co_return 0;
}

TEST(EventLoop, RunUntilCompleteReturnsTheValue) {
    event_loop loop(virtual_clock());
    EXPECT_EQ(loop.run_until_complete(compute(21)), 42);
    EXPECT_FALSE(loop.is_running());
    EXPECT_EQ(loop.run_until_complete(compute(5)), 10); // the loop can be run again
}

TEST(EventLoop, RunUntilCompleteRethrowsTheException) {
    event_loop loop(virtual_clock());
    EXPECT_THROW(loop.run_until_complete(fail_later()), std::out_of_range);
}

task<> forever() {
    co_await corio::sleep(24h);
}

task<> stop_the_loop() {
    corio::scheduler::current()->stop();
    co_await forever();
}

TEST(EventLoop, RunUntilCompleteThrowsRuntimeErrorWhenStoppedFirst) {
    event_loop loop(virtual_clock());
    std::vector<std::string> reports;
    loop.set_exception_handler([&reports](corio::scheduler&, const corio::exception_context& ctx) {
        reports.push_back(ctx.message + " " + ctx.task_name);
    });
    EXPECT_THROW(loop.run_until_complete(stop_the_loop()), std::runtime_error);
    EXPECT_EQ(loop.task_count(), 1u) << "the unfinished task stays scheduled";
    loop.close();
    EXPECT_EQ(reports, (std::vector<std::string>{"Task was destroyed but it is pending Task-1"}));
}

TEST(EventLoop, TasksLeftByRunUntilCompleteStayScheduled) {
    event_loop loop(virtual_clock());
    corio::task_handle<int> h = loop.create_task(compute(4));
    EXPECT_EQ(loop.run_until_complete(compute(0)), 0);
    // compute(0) and compute(4) both sleep 10 s; the earlier one is done too.
    EXPECT_TRUE(h.done());
    EXPECT_EQ(h.result(), 8);
}

TEST(EventLoop, StopInsideRunForeverMakesItReturn) {
    event_loop loop(virtual_clock());
    bool later_ran = false;
    loop.call_later(1s, [&loop] { loop.stop(); });
    loop.call_later(2s, [&later_ran] { later_ran = true; });
    loop.run_forever();
    EXPECT_FALSE(later_ran);
    EXPECT_FALSE(loop.is_running());
    // The stop request was consumed: this run goes on until the next stop.
    loop.call_later(5s, [&loop] { loop.stop(); });
    loop.run_forever();
    EXPECT_TRUE(later_ran);
}

TEST(EventLoop, StopBeforeRunForeverReturnsAfterOneIteration) {
    event_loop loop(virtual_clock());
    bool ran = false;
    loop.call_soon([&ran] { ran = true; });
    loop.stop();
    loop.run_forever();
    EXPECT_TRUE(ran);
}

TEST(EventLoop, AnExceptionEscapingACallbackGoesToTheHandlerAndTheLoopContinues) {
    event_loop loop(virtual_clock());
    std::vector<std::string> reports;
    loop.set_exception_handler([&](corio::scheduler& s, const corio::exception_context& ctx) {
        EXPECT_EQ(&s, &loop);
        try {
            std::rethrow_exception(ctx.exception);
        } catch (const std::exception& e) {
            reports.push_back(ctx.message + ": " + e.what());
        }
    });
    bool after = false;
    loop.call_soon([] { throw std::runtime_error("boom"); });
    loop.call_soon([&after] { after = true; });
    loop.call_later(1s, [] { throw std::runtime_error("timer boom"); });
    loop.call_later(2s, [&loop] { loop.stop(); });
    loop.run_forever();
    EXPECT_TRUE(after);
    EXPECT_EQ(reports, (std::vector<std::string>{"Exception in callback: boom",
                                                 "Exception in callback: timer boom"}));
}

TEST(EventLoop, AThrowingExceptionHandlerDoesNotStopTheLoop) {
    event_loop loop(virtual_clock());
    int calls = 0;
    loop.set_exception_handler([&calls](corio::scheduler&, const corio::exception_context&) {
        ++calls;
        throw std::runtime_error("handler failed");
    });
    bool after = false;
    loop.call_soon([] { throw std::runtime_error("boom"); });
    loop.call_soon([&] {
        after = true;
        loop.stop();
    });
    testing::internal::CaptureStderr();
    loop.run_forever();
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(after);
    EXPECT_NE(err.find("handler failed"), std::string::npos) << err;
}

task<std::string> nested_run(event_loop* loop) {
    try {
        loop->run_until_complete(compute(1));
    } catch (const std::logic_error& e) {
        co_return e.what();
    }
    co_return "";
}

TEST(EventLoop, NestedRunUntilCompleteWhileRunningThrowsLogicError) {
    event_loop loop(virtual_clock());
    const std::string what = loop.run_until_complete(nested_run(&loop));
    EXPECT_NE(what.find("already running"), std::string::npos) << what;
}

task<bool> run_other_loop() {
    event_loop other(virtual_clock());
    try {
        other.run_until_complete(compute(1));
    } catch (const std::logic_error&) {
        co_return true;
    }
    co_return false;
}

TEST(EventLoop, RunningASecondLoopOnTheSameThreadThrowsLogicError) {
    event_loop loop(virtual_clock());
    EXPECT_TRUE(loop.run_until_complete(run_other_loop()));
}

TEST(EventLoop, CloseReportsPendingTasksAsDestroyedWhilePending) {
    event_loop loop(virtual_clock());
    std::vector<corio::exception_context> reports;
    loop.set_exception_handler([&reports](corio::scheduler&, const corio::exception_context& ctx) {
        reports.push_back(ctx);
    });
    {
        auto h = loop.create_task(forever(), "sleeper");
        (void)loop.create_task(forever(), "queued"); // never started
        loop.call_soon([&loop] { loop.stop(); });
        loop.run_forever();
        EXPECT_FALSE(h.done());
        EXPECT_EQ(loop.task_count(), 2u);
        loop.close();
        EXPECT_TRUE(h.done());
        EXPECT_TRUE(h.cancelled());
    }
    EXPECT_TRUE(loop.is_closed());
    EXPECT_EQ(loop.task_count(), 0u);
    EXPECT_EQ(loop.timer_count(), 0u);
    ASSERT_EQ(reports.size(), 2u);
    std::vector<std::string> names;
    for (const auto& r : reports) {
        EXPECT_EQ(r.message, "Task was destroyed but it is pending");
        EXPECT_EQ(r.exception, nullptr);
        names.push_back(r.task_name);
    }
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"queued", "sleeper"}));
}

TEST(EventLoop, AClosedLoopRefusesNewTasksAndRuns) {
    event_loop loop(virtual_clock());
    loop.close();
    loop.close(); // idempotent
    EXPECT_TRUE(loop.is_closed());
    EXPECT_THROW((void)loop.create_task(compute(1)), std::logic_error);
    EXPECT_THROW(loop.run_until_complete(compute(1)), std::logic_error);
}

task<bool> close_while_running(event_loop* loop) {
    try {
        loop->close();
    } catch (const std::logic_error&) {
        co_return true;
    }
    co_return false;
}

TEST(EventLoop, CloseWhileRunningThrowsLogicError) {
    event_loop loop(virtual_clock());
    EXPECT_TRUE(loop.run_until_complete(close_while_running(&loop)));
    EXPECT_FALSE(loop.is_closed());
}

TEST(EventLoop, CloseDropsPendingCallbacksWithoutRunningThem) {
    event_loop loop(virtual_clock());
    bool ran = false;
    loop.call_soon([&ran] { ran = true; });
    loop.call_later(1s, [&ran] { ran = true; });
    EXPECT_EQ(loop.timer_count(), 1u);
    loop.close();
    EXPECT_FALSE(ran);
    EXPECT_EQ(loop.timer_count(), 0u);
}

TEST(EventLoop, DebugModeWarnsAboutASlowCallback) {
    corio::loop_options options = virtual_clock();
    options.debug = true;
    options.slow_callback_duration = 5ms;
    event_loop loop(options);
    EXPECT_TRUE(loop.get_debug());
    EXPECT_EQ(loop.slow_callback_duration(), 5ms);
    std::vector<std::string> warnings;
    loop.set_warning_handler([&warnings](std::string_view w) { warnings.emplace_back(w); });
    loop.call_soon([] {}); // fast: no warning
    // The one real sleep of this suite: a callback has to block the loop to be reported.
    loop.call_soon([] { std::this_thread::sleep_for(20ms); });
    loop.call_soon([&loop] { loop.stop(); });
    loop.run_forever();
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("callback"), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find("took"), std::string::npos) << warnings[0];
}

task<> block_the_loop() {
    std::this_thread::sleep_for(20ms);
    co_return;
}

TEST(EventLoop, DebugModeNamesASlowTaskStep) {
    corio::loop_options options = virtual_clock();
    options.debug = true;
    options.slow_callback_duration = 5ms;
    event_loop loop(options);
    std::vector<std::string> warnings;
    loop.set_warning_handler([&warnings](std::string_view w) { warnings.emplace_back(w); });
    auto h = loop.create_task(block_the_loop(), "blocker");
    loop.run_until_complete(compute(1));
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("blocker"), std::string::npos) << warnings[0];
}

TEST(EventLoop, WithoutDebugModeASlowCallbackIsNotReported) {
    corio::loop_options options = virtual_clock();
    options.debug = false;
    options.slow_callback_duration = 1ns;
    event_loop loop(options);
    EXPECT_FALSE(loop.get_debug());
    int warnings = 0;
    loop.set_warning_handler([&warnings](std::string_view) { ++warnings; });
    loop.call_soon([&loop] { loop.stop(); });
    loop.run_forever();
    EXPECT_EQ(warnings, 0);
}

using corio::test::scoped_env;

TEST(EventLoop, CorioDebugEnvironmentVariableTurnsDebugModeOn) {
    {
        scoped_env env("CORIO_DEBUG", "1");
        EXPECT_TRUE(event_loop(virtual_clock()).get_debug());
        corio::loop_options explicit_off = virtual_clock();
        explicit_off.debug = false;
        EXPECT_FALSE(event_loop(explicit_off).get_debug()) << "an explicit option wins";
    }
    {
        scoped_env env("CORIO_DEBUG", "0");
        EXPECT_FALSE(event_loop(virtual_clock()).get_debug());
    }
    {
        scoped_env env("CORIO_DEBUG", "");
        EXPECT_FALSE(event_loop(virtual_clock()).get_debug());
    }
    {
        scoped_env env("CORIO_DEBUG", nullptr);
        EXPECT_FALSE(event_loop(virtual_clock()).get_debug());
    }
}

std::chrono::nanoseconds process_cpu_time() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

TEST(EventLoop, AnIdleLoopSleepsInTheKernelInsteadOfSpinning) {
    event_loop loop; // the real clock
    EXPECT_EQ(loop.clock_kind(), corio::clock_mode::real);
    bool fired = false;
    loop.call_later(50ms, [&] {
        fired = true;
        loop.stop();
    });
    const auto wall_start = std::chrono::steady_clock::now();
    const auto cpu_start = process_cpu_time();
    loop.run_forever();
    const auto cpu = process_cpu_time() - cpu_start;
    const auto wall = std::chrono::steady_clock::now() - wall_start;
    EXPECT_TRUE(fired);
    EXPECT_GE(wall, 50ms);
    EXPECT_LT(cpu, 20ms) << "the loop burnt CPU while it had nothing to do";
}

TEST(EventLoop, BackendNameIsEpollByDefault) {
    corio::loop_options options = virtual_clock();
    options.backend = "epoll";
    event_loop loop(options);
    EXPECT_STREQ(loop.backend_name(), "epoll");
}

TEST(EventLoop, AnUnknownBackendOptionThrowsInvalidArgument) {
    corio::loop_options options;
    options.backend = "no-such-backend";
    EXPECT_THROW(event_loop{options}, std::invalid_argument);
}

TEST(EventLoop, CurrentIsTheRunningLoopOnlyWhileItRuns) {
    event_loop loop(virtual_clock());
    EXPECT_EQ(event_loop::current(), nullptr);
    event_loop* seen = nullptr;
    loop.call_soon([&] {
        seen = event_loop::current();
        loop.stop();
    });
    loop.run_forever();
    EXPECT_EQ(seen, &loop);
    EXPECT_EQ(event_loop::current(), nullptr);
}

} // namespace
