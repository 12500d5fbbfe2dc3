#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/task.hpp"
#include "corio/core/task_handle.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"

#include "support/loop_helpers.hpp"
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::cancelled_error;
using corio::task;
using corio::task_handle;
using corio::test::run_virtual;
using corio::test::virtual_clock;

/// Collects what reaches a loop's exception handler.
struct report {
    std::string message;
    std::string task_name;
    std::string what;
};

void collect_reports(corio::event_loop& loop, std::vector<report>* out) {
    loop.set_exception_handler([out](corio::scheduler&, const corio::exception_context& ctx) {
        std::string what;
        if (ctx.exception) {
            try {
                std::rethrow_exception(ctx.exception);
            } catch (const std::exception& e) {
                what = e.what();
            }
        }
        out->push_back(report{ctx.message, ctx.task_name, what});
    });
}

task<> nothing() {
    co_return;
}

task<int> set_and_return(bool* ran, int v) {
    *ran = true;
    co_return v;
}

task<bool> child_runs_only_when_the_loop_runs_it(bool* ran_before_await) {
    bool ran = false;
    task_handle<int> h = corio::create_task(set_and_return(&ran, 5));
    *ran_before_await = ran;
    const int v = co_await h;
    co_return ran&& v == 5;
}

TEST(CreateTask, TheTaskRunsOnlyWhenTheLoopRunsItNotInline) {
    bool ran_before_await = true;
    EXPECT_TRUE(run_virtual(child_runs_only_when_the_loop_runs_it(&ran_before_await)));
    EXPECT_FALSE(ran_before_await);
}

TEST(CreateTask, ATaskCreatedBeforeTheLoopRunsStartsWhenItRuns) {
    corio::event_loop loop(virtual_clock());
    bool ran = false;
    task_handle<int> h = loop.create_task(set_and_return(&ran, 3));
    EXPECT_FALSE(ran);
    EXPECT_FALSE(h.done());
    loop.run_until_complete(nothing());
    EXPECT_TRUE(ran);
    EXPECT_TRUE(h.done());
    EXPECT_EQ(h.result(), 3);
}

task<> yield_once() {
    co_await corio::sleep(0s);
}

task<> queries_of_a_handle(std::vector<std::string>* log) {
    bool ran = false;
    task_handle<int> h = corio::create_task(set_and_return(&ran, 9));
    log->push_back(h.done() ? "done" : "pending");
    try {
        (void)h.result();
        log->push_back("result before done");
    } catch (const std::logic_error&) {
        log->push_back("logic_error");
    }
    co_await yield_once();
    log->push_back(h.done() ? "done" : "pending");
    log->push_back(h.cancelled() ? "cancelled" : "not cancelled");
    log->push_back(std::to_string(h.result()));
    log->push_back(h.exception() ? "exception" : "no exception");
}

TEST(CreateTask, HandleReportsDoneCancelledAndResult) {
    std::vector<std::string> log;
    run_virtual(queries_of_a_handle(&log));
    EXPECT_EQ(log, (std::vector<std::string>{"pending", "logic_error", "done", "not cancelled", "9",
                                             "no exception"}));
}

task<> names_of_tasks(std::vector<std::string>* names, std::vector<std::uint64_t>* ids) {
    bool ran = false;
    task_handle<int> a = corio::create_task(set_and_return(&ran, 1));
    task_handle<int> b = corio::create_task(set_and_return(&ran, 2), "worker");
    task_handle<int> c = corio::create_task(set_and_return(&ran, 3));
    names->push_back(a.name());
    names->push_back(b.name());
    c.set_name("renamed");
    names->push_back(c.name());
    ids->push_back(a.id());
    ids->push_back(b.id());
    ids->push_back(c.id());
    co_await a;
    co_await b;
    co_await c;
}

TEST(CreateTask, DefaultNameIsTaskDashIdAndNamesCanBeSet) {
    std::vector<std::string> names;
    std::vector<std::uint64_t> ids;
    run_virtual(names_of_tasks(&names, &ids));
    ASSERT_EQ(names.size(), 3u);
    EXPECT_EQ(names[0], "Task-" + std::to_string(ids[0]));
    EXPECT_EQ(names[1], "worker");
    EXPECT_EQ(names[2], "renamed");
}

task<> many_ids(std::set<std::uint64_t>* ids, int n) {
    std::vector<task_handle<int>> handles;
    bool ran = false;
    for (int i = 0; i < n; ++i)
        handles.push_back(corio::create_task(set_and_return(&ran, i)));
    for (auto& h : handles)
        ids->insert(h.id());
    for (auto& h : handles)
        co_await h;
}

TEST(CreateTask, IdsAreUniqueAmongTheTasksOfALoop) {
    std::set<std::uint64_t> ids;
    run_virtual(many_ids(&ids, 1000));
    EXPECT_EQ(ids.size(), 1000u);
}

task<std::string> slow_text(std::chrono::seconds delay) {
    co_await corio::sleep(delay);
    co_return std::string(40, 'r'); // heap-allocated, so that copies are real copies
}

task<std::string> wait_for_text(task_handle<std::string> h) {
    std::string s = co_await h;
    co_return s;
}

task<std::vector<std::string>> several_awaiters() {
    task_handle<std::string> h = corio::create_task(slow_text(5s));
    std::vector<task_handle<std::string>> waiters;
    for (int i = 0; i < 3; ++i)
        waiters.push_back(corio::create_task(wait_for_text(h)));
    std::vector<std::string> results;
    for (auto& w : waiters)
        results.push_back(co_await w);
    results.push_back(co_await h); // the result is still there for the owner
    co_return results;
}

TEST(CreateTask, AHandleCanBeAwaitedFromSeveralTasks) {
    const std::vector<std::string> results = run_virtual(several_awaiters());
    ASSERT_EQ(results.size(), 4u);
    for (const std::string& s : results)
        EXPECT_EQ(s, std::string(40, 'r'));
}

task<int> await_twice() {
    bool ran = false;
    task_handle<int> h = corio::create_task(set_and_return(&ran, 21));
    const int a = co_await h;
    const int b = co_await h; // already done: returns at once
    co_return a + b;
}

TEST(CreateTask, AHandleCanBeAwaitedTwice) {
    EXPECT_EQ(run_virtual(await_twice()), 42);
}

task<int> sleep_and_record(bool* reached_end, bool* saw_cancel) {
    try {
        co_await corio::sleep(1h);
    } catch (const cancelled_error&) {
        *saw_cancel = true;
        throw;
    }
    *reached_end = true;
    co_return 1;
}

struct cancel_outcome {
    bool reached_end = false;
    bool saw_cancel = false;
    bool handle_cancelled = false;
    bool await_threw_cancelled = false;
    bool cancel_returned = false;
};

task<> cancel_a_sleeper(cancel_outcome* out) {
    task_handle<int> h = corio::create_task(sleep_and_record(&out->reached_end, &out->saw_cancel));
    co_await yield_once(); // let it start and park at the sleep
    out->cancel_returned = h.cancel();
    try {
        co_await h;
    } catch (const cancelled_error&) {
        out->await_threw_cancelled = true;
    }
    out->handle_cancelled = h.cancelled();
}

TEST(CreateTask, CancelWhileSleepingThrowsCancelledErrorAtTheSleep) {
    cancel_outcome out;
    corio::event_loop loop(virtual_clock());
    const auto start = loop.time();
    loop.run_until_complete(cancel_a_sleeper(&out));
    EXPECT_TRUE(out.cancel_returned);
    EXPECT_TRUE(out.saw_cancel);
    EXPECT_FALSE(out.reached_end);
    EXPECT_TRUE(out.await_threw_cancelled);
    EXPECT_TRUE(out.handle_cancelled);
    EXPECT_LT(loop.time() - start, 1h) << "the sleep must not have run to its end";
}

task<> cancel_before_first_step(bool* ran, bool* cancelled, bool* result_threw) {
    task_handle<int> h = corio::create_task(set_and_return(ran, 1));
    h.cancel();
    try {
        co_await h;
    } catch (const cancelled_error&) {
    }
    *cancelled = h.cancelled();
    try {
        (void)h.result();
    } catch (const cancelled_error&) {
        *result_threw = true;
    }
}

TEST(CreateTask, CancelBeforeTheFirstStepMeansTheBodyNeverRuns) {
    bool ran = false;
    bool cancelled = false;
    bool result_threw = false;
    run_virtual(cancel_before_first_step(&ran, &cancelled, &result_threw));
    EXPECT_FALSE(ran);
    EXPECT_TRUE(cancelled);
    EXPECT_TRUE(result_threw);
}

task<bool> cancel_done_task() {
    bool ran = false;
    task_handle<int> h = corio::create_task(set_and_return(&ran, 1));
    co_await h;
    const bool returned = h.cancel();
    co_return !returned && h.done() && !h.cancelled() && h.result() == 1;
}

TEST(CreateTask, CancelOnADoneTaskReturnsFalseAndChangesNothing) {
    EXPECT_TRUE(run_virtual(cancel_done_task()));
}

task<std::vector<std::uint32_t>> count_cancels() {
    bool end = false;
    bool saw = false;
    task_handle<int> h = corio::create_task(sleep_and_record(&end, &saw));
    co_await yield_once();
    std::vector<std::uint32_t> counts;
    counts.push_back(h.cancelling());
    h.cancel();
    counts.push_back(h.cancelling());
    h.cancel();
    counts.push_back(h.cancelling());
    counts.push_back(h.uncancel());
    counts.push_back(h.cancelling());
    try {
        co_await h;
    } catch (const cancelled_error&) {
    }
    counts.push_back(h.cancelled() ? 1 : 0);
    co_return counts;
}

TEST(CreateTask, CancellingCountsRepeatedCancelsAndUncancelDecrements) {
    EXPECT_EQ(run_virtual(count_cancels()), (std::vector<std::uint32_t>{0, 1, 2, 1, 1, 1}));
}

task<int> yield_twice_then_return(int v) {
    co_await yield_once();
    co_await yield_once();
    co_return v;
}

struct withdraw_outcome {
    std::vector<std::uint32_t> counts;
    int value = 0;
    bool threw = false;
    bool cancelled = true;
};

task<> cancel_then_withdraw(withdraw_outcome* out) {
    task_handle<int> h = corio::create_task(yield_twice_then_return(7));
    co_await yield_once(); // h ran its first step and is queued again, after its first yield
    h.cancel();
    h.cancel();
    out->counts.push_back(h.uncancel());
    out->counts.push_back(h.uncancel());
    out->counts.push_back(h.uncancel()); // never goes below zero
    try {
        out->value = co_await h;
    } catch (const cancelled_error&) {
        out->threw = true;
    }
    out->cancelled = h.cancelled();
}

TEST(CreateTask, UncancelToZeroDropsACancellationNotYetDelivered) {
    withdraw_outcome out;
    run_virtual(cancel_then_withdraw(&out));
    EXPECT_EQ(out.counts, (std::vector<std::uint32_t>{1, 0, 0}));
    EXPECT_FALSE(out.threw);
    EXPECT_EQ(out.value, 7);
    EXPECT_FALSE(out.cancelled);
}

task<int> absorb_cancel() {
    try {
        co_await corio::sleep(1h);
    } catch (const cancelled_error&) {
        co_return -1;
    }
    co_return 0;
}

task<bool> cancel_absorber(int* result) {
    task_handle<int> h = corio::create_task(absorb_cancel());
    co_await yield_once();
    h.cancel();
    *result = co_await h;
    co_return h.cancelled();
}

TEST(CreateTask, ATaskThatCatchesCancelledErrorAndReturnsIsNotCancelled) {
    int result = 0;
    EXPECT_FALSE(run_virtual(cancel_absorber(&result)));
    EXPECT_EQ(result, -1);
}

task<int> outer_awaits_inner(task_handle<int> inner) {
    co_return co_await inner;
}

struct forward_outcome {
    bool inner_saw_cancel = false;
    bool inner_reached_end = false;
    bool inner_cancelled = false;
    bool outer_cancelled = false;
};

task<> cancel_forwarding(forward_outcome* out) {
    task_handle<int> inner =
        corio::create_task(sleep_and_record(&out->inner_reached_end, &out->inner_saw_cancel));
    task_handle<int> outer = corio::create_task(outer_awaits_inner(inner));
    co_await yield_once(); // both are parked now: inner at its sleep, outer on inner
    outer.cancel();
    try {
        co_await outer;
    } catch (const cancelled_error&) {
    }
    out->inner_cancelled = inner.cancelled();
    out->outer_cancelled = outer.cancelled();
}

TEST(CreateTask, CancellingATaskThatAwaitsAnotherForwardsTheCancelToTheInnerTask) {
    forward_outcome out;
    run_virtual(cancel_forwarding(&out));
    EXPECT_TRUE(out.inner_saw_cancel);
    EXPECT_FALSE(out.inner_reached_end);
    EXPECT_TRUE(out.inner_cancelled);
    EXPECT_TRUE(out.outer_cancelled);
}

task<int> fail_after(std::chrono::seconds delay, const char* what) {
    co_await corio::sleep(delay);
    throw std::runtime_error(what);
    co_return 0;
}

task<> drop_failing_handle() {
    // The handle is a temporary here: dropped at once.
    (void)corio::create_task(fail_after(1s, "nobody listens"), "orphan");
    co_await corio::sleep(10s);
}

TEST(CreateTask, AnExceptionOfATaskWhoseHandleWasDroppedGoesToTheExceptionHandlerOnce) {
    std::vector<report> reports;
    {
        corio::event_loop loop(virtual_clock());
        collect_reports(loop, &reports);
        loop.run_until_complete(drop_failing_handle());
        ASSERT_EQ(reports.size(), 1u);
        EXPECT_EQ(reports[0].task_name, "orphan");
        EXPECT_EQ(reports[0].what, "nobody listens");
        EXPECT_NE(reports[0].message.find("never retrieved"), std::string::npos)
            << reports[0].message;
        loop.close();
    }
    EXPECT_EQ(reports.size(), 1u) << "reported again when the loop closed";
}

task<> drop_handle_after_failure(std::vector<report>* reports, std::size_t* seen_while_held) {
    {
        task_handle<int> h = corio::create_task(fail_after(1s, "late drop"), "held");
        co_await corio::sleep(5s); // h has failed by now, but is still referenced
        *seen_while_held = reports->size();
    }
    co_await yield_once();
}

TEST(CreateTask, AFailureIsReportedWhenTheLastHandleIsDroppedWithoutLookingAtIt) {
    std::vector<report> reports;
    std::size_t seen_while_held = 99;
    corio::event_loop loop(virtual_clock());
    collect_reports(loop, &reports);
    loop.run_until_complete(drop_handle_after_failure(&reports, &seen_while_held));
    EXPECT_EQ(seen_while_held, 0u);
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0].task_name, "held");
    EXPECT_EQ(reports[0].what, "late drop");
}

task<std::string> await_failing() {
    task_handle<int> h = corio::create_task(fail_after(1s, "awaited"));
    try {
        co_await h;
    } catch (const std::runtime_error& e) {
        co_return e.what();
    }
    co_return "";
}

task<bool> retrieve_with_result() {
    task_handle<int> h = corio::create_task(fail_after(1s, "retrieved"));
    co_await corio::sleep(2s);
    try {
        (void)h.result();
    } catch (const std::runtime_error&) {
        co_return true;
    }
    co_return false;
}

task<bool> retrieve_with_exception() {
    task_handle<int> h = corio::create_task(fail_after(1s, "inspected"));
    co_await corio::sleep(2s);
    co_return h.exception() != nullptr;
}

TEST(CreateTask, AnExceptionThatWasAwaitedOrRetrievedIsNotReported) {
    std::vector<report> reports;
    corio::event_loop loop(virtual_clock());
    collect_reports(loop, &reports);
    EXPECT_EQ(loop.run_until_complete(await_failing()), "awaited");
    EXPECT_TRUE(loop.run_until_complete(retrieve_with_result()));
    EXPECT_TRUE(loop.run_until_complete(retrieve_with_exception()));
    loop.close();
    EXPECT_TRUE(reports.empty()) << reports.front().message << ": " << reports.front().what;
}

task<> drop_cancelled_handle() {
    bool end = false;
    bool saw = false;
    {
        task_handle<int> h = corio::create_task(sleep_and_record(&end, &saw));
        co_await yield_once();
        h.cancel();
    }
    co_await corio::sleep(1s);
}

TEST(CreateTask, ACancelledTaskIsNotReported) {
    std::vector<report> reports;
    corio::event_loop loop(virtual_clock());
    collect_reports(loop, &reports);
    loop.run_until_complete(drop_cancelled_handle());
    EXPECT_EQ(loop.task_count(), 0u);
    loop.close();
    EXPECT_TRUE(reports.empty()) << reports.front().message;
}

task<bool> task_ref_shares_the_task() {
    bool end = false;
    bool saw = false;
    task_handle<int> h = corio::create_task(sleep_and_record(&end, &saw), "shared");
    corio::task_ref r = h;
    corio::task_ref copy = r;
    const bool same = r == h && copy == r && r.id() == h.id() && r.name() == "shared";
    co_await yield_once();
    copy.cancel(); // through a reference of another type
    try {
        co_await h;
    } catch (const cancelled_error&) {
    }
    co_return same&& r.done() && r.cancelled() && saw && !end;
}

TEST(CreateTask, ATaskRefSharesTheTaskOfItsHandle) {
    EXPECT_TRUE(run_virtual(task_ref_shares_the_task()));
}

TEST(CreateTask, CreateTaskOutsideARunningLoopThrowsLogicError) {
    bool ran = false;
    EXPECT_THROW((void)corio::create_task(set_and_return(&ran, 1)), std::logic_error);
    EXPECT_FALSE(ran);
}

TEST(CreateTask, CreateTaskOfAnEmptyTaskThrowsLogicError) {
    corio::event_loop loop(virtual_clock());
    EXPECT_THROW((void)loop.create_task(task<int>()), std::logic_error);
}

task<> count_ticks(int* ticks, int n) {
    for (int i = 0; i < n; ++i) {
        co_await corio::sleep(1s);
        ++*ticks;
    }
}

task<> drop_ticker(int* ticks) {
    (void)corio::create_task(count_ticks(ticks, 5));
    co_await corio::sleep(1min);
}

TEST(CreateTask, ADroppedHandleDoesNotStopTheTask) {
    int ticks = 0;
    corio::event_loop loop(virtual_clock());
    loop.run_until_complete(drop_ticker(&ticks));
    EXPECT_EQ(ticks, 5);
    EXPECT_EQ(loop.task_count(), 0u);
}

task<int> await_self(task_handle<int>* self) {
    co_await corio::sleep(0s);
    co_return co_await *self;
}

task<bool> self_await() {
    task_handle<int> h;
    h = corio::create_task(await_self(&h));
    try {
        co_await h;
    } catch (const std::logic_error&) {
        co_return true;
    }
    co_return false;
}

TEST(CreateTask, ATaskAwaitingItselfGetsLogicError) {
    EXPECT_TRUE(run_virtual(self_await()));
}

} // namespace
