#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/current_task.hpp"
#include "corio/core/timeout_error.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"
#include "corio/time/timeout.hpp"

#include "support/loop_helpers.hpp"
#include "support/structured_helpers.hpp"
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>

namespace {

using namespace std::chrono_literals;
using corio::cancelled_error;
using corio::scheduler;
using corio::task;
using corio::task_handle;
using corio::timeout_error;
using corio::test::child_probe;
using corio::test::now;
using corio::test::probe_child;
using corio::test::run_virtual;
using corio::test::since;
using corio::test::value_after;

std::size_t timer_count() {
    return corio::scheduler::current()->timer_count();
}
std::uint32_t cancelling() {
    return corio::current_task().cancelling();
}

/// How a scope ended, and the task's state right after.
struct scope_report {
    int value = -1;
    bool timed_out = false;
    bool cancelled = false;
    std::string error;
    scheduler::duration at{};
    std::size_t timers = 99;
    std::uint32_t cancelling = 99;
};

task<scope_report> in_time() {
    scope_report out;
    const auto start = now();
    out.value = co_await corio::timeout(2s, value_after(1s, 5));
    out.at = since(start);
    out.timers = timer_count();
    out.cancelling = cancelling();
    co_return out;
}

TEST(Timeout, ReturnsTheValueWhenTheBodyFinishesInTime) {
    const auto r = run_virtual(in_time());
    EXPECT_EQ(r.value, 5);
    EXPECT_EQ(r.at, 1s);
    EXPECT_EQ(r.timers, 0u);
    EXPECT_EQ(r.cancelling, 0u);
}

task<scope_report> expiring(child_probe* body) {
    scope_report out;
    const auto start = now();
    try {
        out.value = co_await corio::timeout(1s, probe_child(10s, 1, 0s, body));
    } catch (const timeout_error&) {
        out.timed_out = true;
    }
    out.at = since(start);
    out.timers = timer_count();
    out.cancelling = cancelling();
    co_return out;
}

TEST(Timeout, OnExpiryTheBodyIsCancelledAndTimeoutErrorIsThrown) {
    child_probe body;
    const auto r = run_virtual(expiring(&body));
    EXPECT_TRUE(r.timed_out);
    EXPECT_TRUE(body.cancelled);
    EXPECT_EQ(r.at, 1s);
    EXPECT_EQ(r.timers, 0u);
    EXPECT_EQ(r.cancelling, 0u); // the expiry's request was withdrawn
}

task<scope_report> expiring_with_cleanup(child_probe* body) {
    scope_report out;
    const auto start = now();
    try {
        out.value = co_await corio::timeout(1s, probe_child(10s, 1, 2s, body));
    } catch (const timeout_error&) {
        out.timed_out = true;
    }
    out.at = since(start);
    co_return out;
}

TEST(Timeout, TimeoutErrorComesOnlyAfterTheBodyHasFinishedItsCleanup) {
    child_probe body;
    const auto r = run_virtual(expiring_with_cleanup(&body));
    EXPECT_TRUE(r.timed_out);
    EXPECT_TRUE(body.cleaned_up);
    EXPECT_EQ(r.at, 3s);
}

task<scope_report> expiring_at_a_time_point() {
    scope_report out;
    const auto start = now();
    try {
        out.value = co_await corio::timeout_at(start + 1500ms, value_after(10s, 1));
    } catch (const timeout_error&) {
        out.timed_out = true;
    }
    out.at = since(start);
    out.timers = timer_count();
    co_return out;
}

TEST(Timeout, TimeoutAtExpiresAtTheGivenTimePoint) {
    const auto r = run_virtual(expiring_at_a_time_point());
    EXPECT_TRUE(r.timed_out);
    EXPECT_EQ(r.at, 1500ms);
    EXPECT_EQ(r.timers, 0u);
}

task<int> timeout_at_in_time() {
    co_return co_await corio::timeout_at(now() + 2s, value_after(1s, 8));
}

TEST(Timeout, TimeoutAtReturnsTheValueInTime) {
    EXPECT_EQ(run_virtual(timeout_at_in_time()), 8);
}

task<scope_report> void_body_in_time() {
    scope_report out;
    const auto start = now();
    co_await corio::timeout(2s, corio::test::void_after(1s));
    out.at = since(start);
    out.timers = timer_count();
    co_return out;
}

TEST(Timeout, AVoidBodyFinishingInTimeReturns) {
    const auto r = run_virtual(void_body_in_time());
    EXPECT_EQ(r.at, 1s);
    EXPECT_EQ(r.timers, 0u);
}

task<scope_report> failing_body() {
    scope_report out;
    try {
        co_await corio::timeout(5s, corio::test::fail_after(1s, "body failed"));
    } catch (const std::runtime_error& e) {
        out.error = e.what();
    }
    out.timers = timer_count();
    out.cancelling = cancelling();
    co_return out;
}

TEST(Timeout, TheBodysExceptionPropagates) {
    const auto r = run_virtual(failing_body());
    EXPECT_EQ(r.error, "body failed");
    EXPECT_EQ(r.timers, 0u);
    EXPECT_EQ(r.cancelling, 0u);
}

task<scope_report> externally_cancelled(scope_report* out) {
    const auto start = now();
    try {
        out->value = co_await corio::timeout(5s, value_after(10s, 1));
    } catch (const timeout_error&) {
        out->timed_out = true;
    } catch (const cancelled_error&) {
        out->cancelled = true;
        out->at = since(start);
        out->cancelling = cancelling();
        out->timers = timer_count();
        throw;
    }
    co_return *out;
}

task<bool> cancel_during_a_timeout(scope_report* r) {
    auto t = corio::create_task(externally_cancelled(r));
    co_await corio::sleep(1s);
    t.cancel();
    try {
        co_await t;
    } catch (const cancelled_error&) {
        co_return true;
    }
    co_return false;
}

TEST(Timeout, AnExternalCancellationPropagatesAsCancelledErrorNotTimeoutError) {
    scope_report r;
    EXPECT_TRUE(run_virtual(cancel_during_a_timeout(&r)));
    EXPECT_TRUE(r.cancelled);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.at, 1s);
    EXPECT_EQ(r.cancelling, 1u); // the external request stays counted
    EXPECT_EQ(r.timers, 0u);     // the timeout's timer is gone (the canceller's sleep fired)
}

task<int> sleep_ten_seconds() {
    co_await corio::sleep(10s);
    co_return 0;
}

struct cancel_at_expiry_report {
    bool timed_out = false;
    bool cancelled = false;
    std::uint32_t cancelling = 99;
};

task<> timed_body_cancelled_at_expiry(cancel_at_expiry_report* out) {
    try {
        co_await corio::timeout(1s, sleep_ten_seconds());
    } catch (const timeout_error&) {
        out->timed_out = true;
    } catch (const cancelled_error&) {
        out->cancelled = true;
        out->cancelling = cancelling();
        throw;
    }
}

task<> cancel_after_one_second(task_handle<>* victim) {
    co_await corio::sleep(1s);
    victim->cancel();
}

task<bool> cancel_at_the_moment_of_expiry(cancel_at_expiry_report* r) {
    task_handle<> victim;
    // The canceller's sleep is armed first, so at 1 s it wakes before the timeout fires; its
    // cancel() then reaches the task after the expiry's own request.
    auto canceller = corio::create_task(cancel_after_one_second(&victim));
    co_await corio::sleep(0s); // let the canceller arm its sleep first
    victim = corio::create_task(timed_body_cancelled_at_expiry(r));
    co_await canceller;
    try {
        co_await victim;
    } catch (const cancelled_error&) {
        co_return true;
    }
    co_return false;
}

TEST(Timeout, AnExternalCancellationArrivingAtTheExpiryWinsOverTheTimeout) {
    cancel_at_expiry_report r;
    EXPECT_TRUE(run_virtual(cancel_at_the_moment_of_expiry(&r)));
    EXPECT_TRUE(r.cancelled);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.cancelling, 1u);
}

task<int> cleanup() {
    co_await corio::sleep(10s);
    co_return 0;
}

struct handler_report {
    bool original_cancelled = false;
    std::uint32_t cancelling_in_handler = 99;
    bool cleanup_timed_out = false;
    bool cleanup_cancelled = false;
    scheduler::duration cleanup_ended_at{};
    std::uint32_t cancelling_after_cleanup = 99;
    bool rethrew = false;
};

task<> handles_its_cancellation_with_a_timed_cleanup(handler_report* out) {
    const auto start = now();
    std::exception_ptr original;
    try {
        co_await corio::sleep(10s);
    } catch (const cancelled_error&) {
        original = std::current_exception();
    }
    out->original_cancelled = static_cast<bool>(original);
    out->cancelling_in_handler = cancelling();
    // Handling the cancellation: a bounded cleanup.
    try {
        co_await corio::timeout(1s, cleanup());
    } catch (const timeout_error&) {
        out->cleanup_timed_out = true;
    } catch (const cancelled_error&) {
        out->cleanup_cancelled = true;
    }
    out->cleanup_ended_at = since(start);
    out->cancelling_after_cleanup = cancelling();
    out->rethrew = true;
    std::rethrow_exception(original);
}

task<bool> cancel_a_task_whose_handler_times_out(handler_report* r) {
    auto t = corio::create_task(handles_its_cancellation_with_a_timed_cleanup(r));
    co_await corio::sleep(1s);
    t.cancel();
    try {
        co_await t;
    } catch (const cancelled_error&) {
        co_return t.cancelled();
    }
    co_return false;
}

TEST(Timeout, ATimeoutThatExpiresWhileTheTaskIsHandlingACancellationRaisesTimeoutError) {
    handler_report r;
    EXPECT_TRUE(run_virtual(cancel_a_task_whose_handler_times_out(&r)));
    EXPECT_TRUE(r.original_cancelled);
    EXPECT_EQ(r.cancelling_in_handler, 1u);
    EXPECT_TRUE(r.cleanup_timed_out); // timeout_error from the timeout inside the handler
    EXPECT_FALSE(r.cleanup_cancelled);
    EXPECT_EQ(r.cleanup_ended_at, 2s); // cancelled at 1 s, then 1 s of cleanup
    EXPECT_EQ(r.cancelling_after_cleanup, 1u);
    EXPECT_TRUE(r.rethrew); // and the task ends by its original cancellation
}

struct nested_report {
    bool inner_timed_out = false;
    bool inner_cancelled = false;
    scheduler::duration inner_ended_at{};
    bool outer_timed_out = false;
    int value = -1;
    scheduler::duration outer_ended_at{};
    std::uint32_t cancelling = 99;
    std::size_t timers = 99;
};

task<int> body_with_an_inner_timeout(nested_report* out, scheduler::time_point start,
                                     scheduler::duration inner) {
    try {
        co_await corio::timeout(inner, sleep_ten_seconds());
    } catch (const timeout_error&) {
        out->inner_timed_out = true;
    } catch (const cancelled_error&) {
        out->inner_cancelled = true;
        out->inner_ended_at = since(start);
        throw;
    }
    out->inner_ended_at = since(start);
    co_await corio::sleep(2s); // the outer scope keeps running
    co_return 7;
}

task<nested_report> nested(scheduler::duration outer, scheduler::duration inner) {
    nested_report out;
    const auto start = now();
    try {
        out.value = co_await corio::timeout(outer, body_with_an_inner_timeout(&out, start, inner));
    } catch (const timeout_error&) {
        out.outer_timed_out = true;
    }
    out.outer_ended_at = since(start);
    out.cancelling = cancelling();
    out.timers = timer_count();
    co_return out;
}

TEST(Timeout, AnInnerTimeoutExpiringFirstGivesTimeoutErrorToTheInnerScopeOnly) {
    const auto r = run_virtual(nested(5s, 1s));
    EXPECT_TRUE(r.inner_timed_out);
    EXPECT_EQ(r.inner_ended_at, 1s);
    EXPECT_FALSE(r.outer_timed_out);
    EXPECT_EQ(r.value, 7);
    EXPECT_EQ(r.outer_ended_at, 3s);
    EXPECT_EQ(r.cancelling, 0u);
    EXPECT_EQ(r.timers, 0u);
}

TEST(Timeout, AnOuterTimeoutExpiringFirstIsACancellationInsideAndATimeoutOutside) {
    const auto r = run_virtual(nested(1s, 5s));
    EXPECT_FALSE(r.inner_timed_out);
    EXPECT_TRUE(r.inner_cancelled);
    EXPECT_EQ(r.inner_ended_at, 1s);
    EXPECT_TRUE(r.outer_timed_out);
    EXPECT_EQ(r.outer_ended_at, 1s);
    EXPECT_EQ(r.cancelling, 0u);
    EXPECT_EQ(r.timers, 0u);
}

struct after_scope_report {
    int value = -1;
    std::uint32_t cancelling = 99;
    bool later_sleep_cancelled = false;
    scheduler::duration total{};
};

task<after_scope_report> sleep_after_an_unexpired_timeout() {
    after_scope_report out;
    const auto start = now();
    out.value = co_await corio::timeout(1s, value_after(500ms, 3));
    out.cancelling = cancelling();
    try {
        co_await corio::sleep(2s); // past the old deadline
    } catch (const cancelled_error&) {
        out.later_sleep_cancelled = true;
    }
    out.total = since(start);
    co_return out;
}

TEST(Timeout, ATimeoutThatDidNotExpireLeavesNoPendingCancellation) {
    const auto r = run_virtual(sleep_after_an_unexpired_timeout());
    EXPECT_EQ(r.value, 3);
    EXPECT_EQ(r.cancelling, 0u);
    EXPECT_FALSE(r.later_sleep_cancelled);
    EXPECT_EQ(r.total, 2500ms);
}

task<int> body_finishing_at_the_deadline() {
    co_await corio::sleep(1s);
    co_return 4;
}

task<after_scope_report> timeout_and_body_due_together() {
    after_scope_report out;
    const auto start = now();
    try {
        out.value = co_await corio::timeout(1s, body_finishing_at_the_deadline());
    } catch (const timeout_error&) {
        out.value = -2;
    }
    out.cancelling = cancelling();
    try {
        co_await corio::sleep(1s);
    } catch (const cancelled_error&) {
        out.later_sleep_cancelled = true;
    }
    out.total = since(start);
    co_return out;
}

TEST(Timeout, ABodyDueAtTheDeadlineLeavesTheTaskWithoutACancellationEitherWay) {
    // Whether the body or the timeout wins a tie, the task must not keep a cancellation.
    const auto r = run_virtual(timeout_and_body_due_together());
    EXPECT_TRUE(r.value == 4 || r.value == -2) << r.value;
    EXPECT_EQ(r.cancelling, 0u);
    EXPECT_FALSE(r.later_sleep_cancelled);
    EXPECT_EQ(r.total, 2s);
}

task<std::size_t> several_scopes_in_a_row() {
    std::size_t worst = 0;
    for (int i = 0; i < 3; ++i) {
        try {
            co_await corio::timeout(1s, value_after(std::chrono::seconds(2 * (i % 2)), i));
        } catch (const timeout_error&) {
        }
        worst = std::max(worst, timer_count());
    }
    co_return worst;
}

TEST(Timeout, TheTimerCountReturnsToZeroAfterEveryScope) {
    EXPECT_EQ(run_virtual(several_scopes_in_a_row()), 0u);
}

task<int> wait_for_in_time() {
    co_return co_await corio::wait_for(value_after(1s, 9), 2s);
}

TEST(WaitFor, ReturnsTheValueWhenTheBodyFinishesInTime) {
    EXPECT_EQ(run_virtual(wait_for_in_time()), 9);
}

struct wait_for_handle_report {
    bool timed_out = false;
    scheduler::duration at{};
    bool task_cancelled = false;
    bool task_cleaned_up = false;
    std::uint32_t cancelling = 99;
};

task<wait_for_handle_report> wait_for_a_handle(child_probe* p) {
    wait_for_handle_report out;
    const auto start = now();
    task_handle<int> h = corio::create_task(probe_child(10s, 1, 1s, p));
    try {
        (void)co_await corio::wait_for(h, 2s);
    } catch (const timeout_error&) {
        out.timed_out = true;
    }
    out.at = since(start);
    out.task_cancelled = h.done() && h.cancelled();
    out.task_cleaned_up = p->cleaned_up;
    out.cancelling = cancelling();
    co_return out;
}

TEST(WaitFor, OnExpiryTheTaskBehindAHandleIsCancelledAndAwaited) {
    child_probe p;
    const auto r = run_virtual(wait_for_a_handle(&p));
    EXPECT_TRUE(r.timed_out);
    EXPECT_TRUE(r.task_cancelled);
    EXPECT_TRUE(r.task_cleaned_up);
    EXPECT_EQ(r.at, 3s); // expiry at 2 s + 1 s of cleanup
    EXPECT_EQ(r.cancelling, 0u);
}

task<std::string> text_after(scheduler::duration d, std::string s) {
    co_await corio::sleep(d);
    co_return s;
}

task<std::pair<std::string, std::string>> wait_for_a_shared_handle() {
    task_handle<std::string> h = corio::create_task(text_after(1s, std::string(40, 'b')));
    std::string v = co_await corio::wait_for(h, 2s);
    co_return std::make_pair(v, h.result());
}

TEST(WaitFor, LeavesTheResultInAHandlePassedByCopy) {
    const auto [from_wait_for, from_handle] = run_virtual(wait_for_a_shared_handle());
    EXPECT_EQ(from_wait_for, std::string(40, 'b'));
    EXPECT_EQ(from_handle, std::string(40, 'b'));
}

TEST(Timeout, OutsideATaskThrowsLogicError) {
    EXPECT_THROW((void)corio::timeout(1s, value_after(1s, 1)), std::logic_error);
}

} // namespace
