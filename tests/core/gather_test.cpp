#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/current_task.hpp"
#include "corio/core/gather.hpp"
#include "corio/core/outcome.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"

#include "support/loop_helpers.hpp"
#include "support/structured_helpers.hpp"
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::cancelled_error;
using corio::scheduler;
using corio::task;
using corio::task_handle;
using corio::test::child_probe;
using corio::test::exception_log;
using corio::test::fail_after;
using corio::test::fail_int_after;
using corio::test::fail_when_cancelled;
using corio::test::now;
using corio::test::probe_child;
using corio::test::run_virtual;
using corio::test::since;
using corio::test::value_after;
using corio::test::void_after;

template <typename R>
struct timed {
    R value;
    scheduler::duration took;
};

task<timed<std::tuple<int, int, int>>> gather_three() {
    const auto start = now();
    auto r = co_await corio::gather(value_after(3s, 1), value_after(1s, 2), value_after(2s, 3));
    co_return timed<std::tuple<int, int, int>>{r, since(start)};
}

TEST(Gather, ReturnsTheResultsInArgumentOrderAndRunsTheChildrenConcurrently) {
    const auto r = run_virtual(gather_three());
    EXPECT_EQ(r.value, std::make_tuple(1, 2, 3));
    EXPECT_EQ(r.took, 3s); // the longest child, not the sum
}

task<int> gather_void_and_int() {
    auto r = co_await corio::gather(void_after(1s), value_after(2s, 7));
    static_assert(std::is_same_v<decltype(r), std::tuple<std::monostate, int>>);
    co_return std::get<1>(r);
}

TEST(Gather, AVoidChildContributesAMonostate) {
    EXPECT_EQ(run_virtual(gather_void_and_int()), 7);
}

task<std::tuple<int, int, int>> gather_handles_and_tasks() {
    task_handle<int> h = corio::create_task(value_after(2s, 5));
    auto [a, b] = co_await corio::gather(h, value_after(1s, 6));
    // The handle stays usable: awaiting it again gives the same value.
    const int again = co_await h;
    co_return std::make_tuple(a, b, again);
}

TEST(Gather, AcceptsTaskHandlesMixedWithTasks) {
    EXPECT_EQ(run_virtual(gather_handles_and_tasks()), std::make_tuple(5, 6, 5));
}

task<std::string> text_after(scheduler::duration d, std::string s) {
    co_await corio::sleep(d);
    co_return s;
}

task<std::pair<std::string, std::string>> gather_a_shared_handle() {
    task_handle<std::string> h = corio::create_task(text_after(1s, std::string(40, 'a')));
    auto [first] = co_await corio::gather(h);
    co_return std::make_pair(first, h.result());
}

TEST(Gather, LeavesTheResultInAHandlePassedByCopy) {
    // A handle may be awaited several times (task_handle's contract); gather is one awaiter
    // among others and must not take the result away from the caller's handle.
    const auto [from_gather, from_handle] = run_virtual(gather_a_shared_handle());
    EXPECT_EQ(from_gather, std::string(40, 'a'));
    EXPECT_EQ(from_handle, std::string(40, 'a'));
}

task<timed<std::vector<int>>> gather_vector() {
    const auto start = now();
    std::vector<task<int>> children;
    for (int i = 0; i < 5; ++i)
        children.push_back(value_after(std::chrono::seconds(5 - i), i));
    auto r = co_await corio::gather(std::move(children));
    co_return timed<std::vector<int>>{r, since(start)};
}

TEST(Gather, AVectorOfTasksGivesAVectorOfResultsInOrder) {
    const auto r = run_virtual(gather_vector());
    EXPECT_EQ(r.value, (std::vector<int>{0, 1, 2, 3, 4}));
    EXPECT_EQ(r.took, 5s);
}

task<timed<std::vector<int>>> gather_empty_vector() {
    const auto start = now();
    auto r = co_await corio::gather(std::vector<task<int>>{});
    co_return timed<std::vector<int>>{r, since(start)};
}

TEST(Gather, AnEmptyVectorGivesAnEmptyResultAtOnce) {
    const auto r = run_virtual(gather_empty_vector());
    EXPECT_TRUE(r.value.empty());
    EXPECT_EQ(r.took, 0s);
}

struct failure_report {
    std::string what;
    scheduler::duration took{};
    bool slow_cancelled = false;
    bool slow_cleaned_up = false;
    bool slow_handle_cancelled = false;
};

task<failure_report> gather_with_a_failure() {
    failure_report out;
    child_probe slow;
    const auto start = now();
    task_handle<int> h = corio::create_task(probe_child(10s, 1, 2s, &slow));
    try {
        task<> failing = fail_after(1s, "boom");
        co_await corio::gather(std::move(failing), h);
    } catch (const std::runtime_error& e) {
        out.what = e.what();
    }
    out.took = since(start);
    out.slow_cancelled = slow.cancelled;
    out.slow_cleaned_up = slow.cleaned_up;
    out.slow_handle_cancelled = h.cancelled();
    co_return out;
}

TEST(Gather, TheFirstFailureCancelsTheOthersWaitsForThemAndIsRethrown) {
    const auto r = run_virtual(gather_with_a_failure());
    EXPECT_EQ(r.what, "boom");
    EXPECT_TRUE(r.slow_cancelled);
    EXPECT_TRUE(r.slow_cleaned_up); // gather waited for the cancelled child's cleanup
    EXPECT_TRUE(r.slow_handle_cancelled);
    EXPECT_EQ(r.took, 3s); // failure at 1 s + 2 s of cleanup
}

task<std::string> gather_two_failures() {
    try {
        co_await corio::gather(fail_after(1s, "first"), fail_when_cancelled(10s, "second"));
    } catch (const std::runtime_error& e) {
        co_return e.what();
    }
    co_return "no exception";
}

TEST(Gather, ASecondFailureGoesToTheExceptionHandler) {
    std::size_t reports_after_run = 0;
    std::string what;
    {
        corio::event_loop loop(corio::test::virtual_clock());
        exception_log log(loop);
        what = loop.run_until_complete(gather_two_failures());
        reports_after_run = log.size();
        ASSERT_EQ(log.size(), 1u);
        EXPECT_EQ(log[0].message, "gather: another child failed as well");
        EXPECT_EQ(log.what(0), "second");
        loop.close();
        // The second failure was reported once: not again as "never retrieved".
        EXPECT_EQ(log.size(), 1u);
    }
    EXPECT_EQ(what, "first");
    EXPECT_EQ(reports_after_run, 1u);
}

task<timed<std::tuple<corio::outcome<void>, corio::outcome<int>, corio::outcome<void>>>>
gather_outcomes() {
    const auto start = now();
    auto r = co_await corio::gather(corio::return_exceptions, fail_after(1s, "x"),
                                    value_after(3s, 4), void_after(2s));
    co_return timed<decltype(r)>{std::move(r), since(start)};
}

TEST(Gather, ReturnExceptionsCollectsOutcomesWithoutCancellingTheSiblings) {
    corio::event_loop loop(corio::test::virtual_clock());
    exception_log log(loop);
    auto r = loop.run_until_complete(gather_outcomes());
    auto& [failed, value, done] = r.value;
    EXPECT_FALSE(failed.has_value());
    EXPECT_FALSE(static_cast<bool>(failed));
    EXPECT_FALSE(failed.cancelled());
    EXPECT_EQ(corio::test::what_of(failed.exception()), "x");
    EXPECT_THROW(failed.value(), std::runtime_error);
    ASSERT_TRUE(value.has_value());
    EXPECT_EQ(value.value(), 4); // the sibling ran to its end
    EXPECT_TRUE(done.has_value());
    EXPECT_EQ(done.exception(), nullptr);
    EXPECT_EQ(r.took, 3s);
    loop.close();
    EXPECT_EQ(log.size(), 0u); // the failure was handed over, not lost
}

task<std::vector<corio::outcome<int>>> gather_outcome_vector() {
    std::vector<task<int>> children;
    children.push_back(value_after(2s, 1));
    children.push_back(fail_int_after(1s, "y"));
    children.push_back(value_after(3s, 3));
    co_return co_await corio::gather(corio::return_exceptions, std::move(children));
}

TEST(Gather, ReturnExceptionsOverAVectorGivesOneOutcomePerTaskInOrder) {
    auto r = run_virtual(gather_outcome_vector());
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0].value(), 1);
    EXPECT_EQ(corio::test::what_of(r[1].exception()), "y");
    EXPECT_EQ(r[2].value(), 3);
}

task<std::pair<bool, int>> gather_outcomes_with_an_external_cancel() {
    task_handle<int> victim = corio::create_task(value_after(10s, 1));
    auto canceller = corio::create_task(corio::test::cancel_after(1s, victim));
    auto [a, b] = co_await corio::gather(corio::return_exceptions, victim, value_after(2s, 2));
    co_await canceller;
    co_return std::make_pair(a.cancelled(), b.value());
}

TEST(Gather, ReturnExceptionsShowsAChildCancelledFromOutsideAsCancelled) {
    const auto [cancelled, sibling] = run_virtual(gather_outcomes_with_an_external_cancel());
    EXPECT_TRUE(cancelled);
    EXPECT_EQ(sibling, 2); // with return_exceptions the sibling is not cancelled
}

struct cancel_inside_gather_state {
    child_probe a;
    child_probe b;
    scheduler::time_point threw_at{};
    bool threw_cancelled = false;
};

task<> gather_two_slow(cancel_inside_gather_state* s) {
    try {
        co_await corio::gather(probe_child(10s, 1, 2s, &s->a), probe_child(20s, 2, 1s, &s->b));
    } catch (const cancelled_error&) {
        s->threw_cancelled = true;
        s->threw_at = now();
        throw;
    }
}

task<std::pair<bool, scheduler::duration>> cancel_inside_gather(cancel_inside_gather_state* s) {
    const auto start = now();
    task_handle<> outer = corio::create_task(gather_two_slow(s));
    co_await corio::sleep(1s);
    outer.cancel();
    bool outer_cancelled = false;
    try {
        co_await outer;
    } catch (const cancelled_error&) {
        outer_cancelled = true;
    }
    co_return std::make_pair(outer_cancelled && outer.cancelled(), since(start));
}

TEST(Gather, CancelInsideGatherCancelsEveryChildWaitsForThemAndThrowsCancelledError) {
    cancel_inside_gather_state s;
    corio::event_loop loop(corio::test::virtual_clock());
    const auto start = loop.time();
    const auto [outer_cancelled, took] = loop.run_until_complete(cancel_inside_gather(&s));
    EXPECT_TRUE(outer_cancelled);
    EXPECT_TRUE(s.threw_cancelled);
    EXPECT_TRUE(s.a.cancelled);
    EXPECT_TRUE(s.b.cancelled);
    EXPECT_EQ(s.a.cancelled_at - start, 1s);
    EXPECT_EQ(s.b.cancelled_at - start, 1s);
    EXPECT_TRUE(s.a.cleaned_up);
    EXPECT_TRUE(s.b.cleaned_up);
    // gather threw only once the slowest cleanup (2 s) had finished.
    EXPECT_EQ(s.threw_at - start, 3s);
    EXPECT_EQ(took, 3s);
    EXPECT_EQ(loop.task_count(), 0u);
}

task<bool> return_exceptions_gather_cancelled(child_probe* p) {
    try {
        co_await corio::gather(corio::return_exceptions, probe_child(10s, 1, 0s, p));
    } catch (const cancelled_error&) {
        co_return true;
    }
    co_return false;
}

task<bool> cancel_a_return_exceptions_gather(child_probe* p) {
    auto outer = corio::create_task(return_exceptions_gather_cancelled(p));
    co_await corio::sleep(1s);
    outer.cancel();
    co_return co_await outer;
}

TEST(Gather, ReturnExceptionsStillThrowsCancelledErrorWhenTheAwaiterIsCancelled) {
    child_probe p;
    EXPECT_TRUE(run_virtual(cancel_a_return_exceptions_gather(&p)));
    EXPECT_TRUE(p.cancelled);
}

struct external_cancel_result {
    bool threw_cancelled = false;
    bool sibling_cancelled = false;
    std::uint32_t awaiter_cancelling = 99;
    scheduler::duration took{};
};

task<external_cancel_result> gather_with_a_child_cancelled_from_outside() {
    external_cancel_result out;
    child_probe sibling;
    const auto start = now();
    task_handle<int> victim = corio::create_task(value_after(10s, 1));
    task_handle<int> other = corio::create_task(probe_child(10s, 2, 0s, &sibling));
    auto canceller = corio::create_task(corio::test::cancel_after(1s, victim));
    try {
        co_await corio::gather(victim, other);
    } catch (const cancelled_error&) {
        out.threw_cancelled = true;
    }
    out.took = since(start);
    out.sibling_cancelled = sibling.cancelled && other.cancelled();
    out.awaiter_cancelling = corio::current_task().cancelling();
    co_await canceller;
    co_return out;
}

TEST(Gather, AChildCancelledFromOutsideMakesGatherThrowCancelledErrorAndCancelsTheSiblings) {
    const auto r = run_virtual(gather_with_a_child_cancelled_from_outside());
    EXPECT_TRUE(r.threw_cancelled);
    EXPECT_TRUE(r.sibling_cancelled);
    EXPECT_EQ(r.awaiter_cancelling, 0u); // the awaiting task itself was never cancelled
    EXPECT_EQ(r.took, 1s);
}

task<bool> gather_that_fails_during_cancellation() {
    try {
        co_await corio::gather(fail_when_cancelled(10s, "cleanup failed"), value_after(10s, 1));
    } catch (const cancelled_error&) {
        co_return true;
    }
    co_return false;
}

task<bool> cancel_gather_with_a_failing_cleanup() {
    auto outer = corio::create_task(gather_that_fails_during_cancellation());
    co_await corio::sleep(1s);
    outer.cancel();
    co_return co_await outer;
}

TEST(Gather, AChildFailingWhileTheAwaiterIsCancelledGoesToTheExceptionHandler) {
    corio::event_loop loop(corio::test::virtual_clock());
    exception_log log(loop);
    EXPECT_TRUE(loop.run_until_complete(cancel_gather_with_a_failing_cleanup()));
    loop.close();
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(log[0].message, "gather: another child failed as well");
    EXPECT_EQ(log.what(0), "cleanup failed");
}

struct failure_then_cancel_state {
    child_probe slow;
    std::string what;
    scheduler::duration ended_at{};
};

task<> gather_while_a_failure_is_cleaning_up(failure_then_cancel_state* s) {
    const auto start = now();
    try {
        co_await corio::gather(probe_child(10s, 1, 3s, &s->slow), fail_after(1s, "boom"));
    } catch (const std::runtime_error& e) {
        s->what = e.what();
    } catch (const cancelled_error&) {
        s->what = "cancelled";
    }
    s->ended_at = since(start);
}

task<> cancel_the_gatherer_at_two_seconds(failure_then_cancel_state* s) {
    auto t = corio::create_task(gather_while_a_failure_is_cleaning_up(s));
    co_await corio::sleep(2s);
    t.cancel();
    co_await t;
}

TEST(Gather, CancellingTheAwaiterAfterAFailureDoesNotInterruptTheChildrensCleanup) {
    // A child fails at 1 s, so gather cancels the other, which cleans up for 3 s; cancelling
    // the awaiter at 2 s must not cancel that child a second time.
    failure_then_cancel_state s;
    corio::event_loop loop(corio::test::virtual_clock());
    exception_log log(loop);
    loop.run_until_complete(cancel_the_gatherer_at_two_seconds(&s));
    EXPECT_TRUE(s.slow.cancelled);
    EXPECT_TRUE(s.slow.cleaned_up);
    EXPECT_EQ(s.ended_at, 4s);
    EXPECT_EQ(s.what, "cancelled"); // the awaiter was cancelled: that is what it sees
    // The failure it did not propagate is not lost.
    loop.close();
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(log.what(0), "boom");
}

} // namespace
