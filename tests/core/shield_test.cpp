#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/current_task.hpp"
#include "corio/core/shield.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"

#include "support/loop_helpers.hpp"
#include "support/structured_helpers.hpp"
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace {

using namespace std::chrono_literals;
using corio::cancelled_error;
using corio::scheduler;
using corio::task;
using corio::task_handle;
using corio::test::child_probe;
using corio::test::now;
using corio::test::probe_child;
using corio::test::run_virtual;
using corio::test::since;
using corio::test::value_after;

struct shield_report {
    bool threw_cancelled = false;
    scheduler::duration threw_at{};
    std::uint32_t cancelling = 99;
};

task<int> shield_a_handle(task_handle<int> inner, shield_report* out) {
    const auto start = now();
    try {
        co_return co_await corio::shield(inner);
    } catch (const cancelled_error&) {
        out->threw_cancelled = true;
        out->threw_at = since(start);
        out->cancelling = corio::current_task().cancelling();
        throw;
    }
}

struct cancel_inside_shield_result {
    bool outer_cancelled = false;
    bool inner_running_after = false;
    int inner_value = -1;
    scheduler::duration inner_done_at{};
};

task<cancel_inside_shield_result> cancel_inside_shield(child_probe* p, shield_report* r) {
    cancel_inside_shield_result out;
    const auto start = now();
    task_handle<int> inner = corio::create_task(probe_child(5s, 42, 0s, p));
    auto outer = corio::create_task(shield_a_handle(inner, r));
    co_await corio::sleep(1s);
    outer.cancel();
    try {
        (void)co_await outer;
    } catch (const cancelled_error&) {
        out.outer_cancelled = outer.cancelled();
    }
    out.inner_running_after = !inner.done();
    out.inner_value = co_await inner;
    out.inner_done_at = since(start);
    co_return out;
}

TEST(Shield, CancelInsideShieldThrowsAtOnceWhileTheInnerTaskRunsToCompletion) {
    child_probe p;
    shield_report r;
    const auto out = run_virtual(cancel_inside_shield(&p, &r));
    EXPECT_TRUE(r.threw_cancelled);
    EXPECT_EQ(r.threw_at, 1s); // at once, not when the inner task finishes
    EXPECT_EQ(r.cancelling, 1u);
    EXPECT_TRUE(out.outer_cancelled);
    EXPECT_TRUE(out.inner_running_after);
    EXPECT_FALSE(p.cancelled); // the cancellation did not reach the inner task
    EXPECT_EQ(out.inner_value, 42);
    EXPECT_EQ(out.inner_done_at, 5s);
}

task<> shield_a_task(child_probe* p, bool* threw) {
    try {
        (void)co_await corio::shield(probe_child(5s, 7, 0s, p));
    } catch (const cancelled_error&) {
        *threw = true;
        throw;
    }
}

task<scheduler::duration> cancel_inside_shield_of_a_task(child_probe* p, bool* threw) {
    const auto start = now();
    auto outer = corio::create_task(shield_a_task(p, threw));
    co_await corio::sleep(1s);
    outer.cancel();
    try {
        co_await outer;
    } catch (const cancelled_error&) {
    }
    // The inner task is not reachable any more; it must still finish on its own.
    while (!p->finished)
        co_await corio::sleep(1s);
    co_return since(start);
}

TEST(Shield, CancelInsideShieldOfATaskLetsTheTaskFinishOnItsOwn) {
    child_probe p;
    bool threw = false;
    const auto finished_after = run_virtual(cancel_inside_shield_of_a_task(&p, &threw));
    EXPECT_TRUE(threw);
    EXPECT_FALSE(p.cancelled);
    EXPECT_TRUE(p.finished);
    EXPECT_EQ(finished_after, 5s);
}

task<std::pair<int, int>> shield_without_cancellation() {
    task_handle<int> h = corio::create_task(value_after(2s, 3));
    const int a = co_await corio::shield(h);
    const int b = co_await corio::shield(value_after(1s, 4));
    co_return std::make_pair(a, b);
}

TEST(Shield, WithoutCancellationReturnsTheValue) {
    EXPECT_EQ(run_virtual(shield_without_cancellation()), std::make_pair(3, 4));
}

task<std::unique_ptr<int>> make_unique_eleven() {
    co_await corio::sleep(1s);
    co_return std::make_unique<int>(11);
}

task<int> shield_a_move_only_result() {
    std::unique_ptr<int> p = co_await corio::shield(make_unique_eleven());
    co_return *p;
}

TEST(Shield, AMoveOnlyResultOfATaskIsMovedOut) {
    EXPECT_EQ(run_virtual(shield_a_move_only_result()), 11);
}

task<std::pair<std::string, std::string>> shield_failing_tasks() {
    std::pair<std::string, std::string> out;
    try {
        co_await corio::shield(corio::test::fail_after(1s, "via task"));
    } catch (const std::runtime_error& e) {
        out.first = e.what();
    }
    task_handle<> h = corio::create_task(corio::test::fail_after(1s, "via handle"));
    try {
        co_await corio::shield(h);
    } catch (const std::runtime_error& e) {
        out.second = e.what();
    }
    co_return out;
}

TEST(Shield, TheInnerTasksExceptionPropagates) {
    corio::event_loop loop(corio::test::virtual_clock());
    corio::test::exception_log log(loop);
    const auto r = loop.run_until_complete(shield_failing_tasks());
    EXPECT_EQ(r.first, "via task");
    EXPECT_EQ(r.second, "via handle");
    loop.close();
    EXPECT_EQ(log.size(), 0u); // retrieved through the shield: not reported as lost
}

task<bool> shield_a_task_cancelled_itself() {
    task_handle<int> h = corio::create_task(value_after(5s, 1));
    auto canceller = corio::create_task(corio::test::cancel_after(1s, h));
    bool threw = false;
    try {
        (void)co_await corio::shield(h);
    } catch (const cancelled_error&) {
        threw = true;
    }
    co_await canceller;
    co_return threw&& corio::current_task().cancelling() == 0;
}

TEST(Shield, ThrowsCancelledErrorWhenTheInnerTaskItselfIsCancelled) {
    EXPECT_TRUE(run_virtual(shield_a_task_cancelled_itself()));
}

} // namespace
