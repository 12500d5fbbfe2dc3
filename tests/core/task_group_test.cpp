#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/current_task.hpp"
#include "corio/core/task_group.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"

#include "support/loop_helpers.hpp"
#include "support/structured_helpers.hpp"
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::cancelled_error;
using corio::scheduler;
using corio::task;
using corio::task_group;
using corio::task_handle;
using corio::test::child_probe;
using corio::test::exception_log;
using corio::test::fail_after;
using corio::test::fail_when_cancelled;
using corio::test::now;
using corio::test::probe_child;
using corio::test::run_virtual;
using corio::test::since;
using corio::test::value_after;

struct join_report {
    std::vector<int> values;
    scheduler::duration took{};
    std::size_t pending_after = 99;
};

task<join_report> join_three() {
    join_report out;
    const auto start = now();
    task_group g;
    auto a = g.create_task(value_after(3s, 1));
    auto b = g.create_task(value_after(1s, 2));
    auto c = g.create_task(value_after(2s, 3));
    co_await g.join();
    out.took = since(start);
    out.values = {a.result(), b.result(), c.result()};
    out.pending_after = g.pending();
    co_return out;
}

TEST(TaskGroup, JoinWaitsForEveryChild) {
    const auto r = run_virtual(join_three());
    EXPECT_EQ(r.values, (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(r.took, 3s);
    EXPECT_EQ(r.pending_after, 0u);
}

task<scheduler::duration> join_an_empty_group() {
    const auto start = now();
    task_group g;
    co_await g.join();
    co_return since(start);
}

TEST(TaskGroup, JoiningAnEmptyGroupReturnsAtOnce) {
    EXPECT_EQ(run_virtual(join_an_empty_group()), 0s);
}

struct failure_report {
    std::string what;
    scheduler::duration took{};
    child_probe slow;
    child_probe slower;
    bool slow_handle_cancelled = false;
};

task<> join_with_failures(failure_report* out) {
    const auto start = now();
    task_group g;
    auto slow = g.create_task(probe_child(10s, 1, 2s, &out->slow));
    g.create_task(fail_after(1s, "first"));
    g.create_task(probe_child(20s, 2, 1s, &out->slower));
    g.create_task(fail_when_cancelled(30s, "second"));
    try {
        co_await g.join();
    } catch (const std::runtime_error& e) {
        out->what = e.what();
    }
    out->took = since(start);
    out->slow_handle_cancelled = slow.cancelled();
}

TEST(TaskGroup, AFailingChildCancelsTheOthersAndJoinRethrowsTheFirstFailure) {
    failure_report r;
    corio::event_loop loop(corio::test::virtual_clock());
    exception_log log(loop);
    loop.run_until_complete(join_with_failures(&r));
    EXPECT_EQ(r.what, "first");
    EXPECT_TRUE(r.slow.cancelled);
    EXPECT_TRUE(r.slower.cancelled);
    EXPECT_TRUE(r.slow_handle_cancelled);
    EXPECT_TRUE(r.slow.cleaned_up);
    EXPECT_TRUE(r.slower.cleaned_up);
    EXPECT_EQ(r.took, 3s); // failure at 1 s, then the longest cleanup (2 s)
    loop.close();
    // The later failure went to the exception handler, once; the first one was not reported.
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(log[0].message, "task_group: another child failed as well");
    EXPECT_EQ(log.what(0), "second");
}

struct cancelled_child_report {
    bool join_threw = false;
    bool victim_cancelled = false;
    int other = -1;
    scheduler::duration took{};
};

task<cancelled_child_report> join_with_a_cancelled_child() {
    cancelled_child_report out;
    const auto start = now();
    task_group g;
    auto victim = g.create_task(value_after(10s, 1));
    auto other = g.create_task(value_after(3s, 2));
    co_await corio::sleep(1s);
    victim.cancel();
    try {
        co_await g.join();
    } catch (...) {
        out.join_threw = true;
    }
    out.took = since(start);
    out.victim_cancelled = victim.cancelled();
    out.other = other.result();
    co_return out;
}

TEST(TaskGroup, ACancelledChildIsNotAFailure) {
    const auto r = run_virtual(join_with_a_cancelled_child());
    EXPECT_FALSE(r.join_threw);
    EXPECT_TRUE(r.victim_cancelled);
    EXPECT_EQ(r.other, 2); // the sibling was not cancelled
    EXPECT_EQ(r.took, 3s);
}

struct joiner_cancel_report {
    child_probe a;
    child_probe b;
    bool join_threw_cancelled = false;
    scheduler::duration threw_at{};
};

task<> join_two_slow(joiner_cancel_report* out) {
    const auto start = now();
    task_group g;
    g.create_task(probe_child(10s, 1, 2s, &out->a));
    g.create_task(probe_child(20s, 2, 1s, &out->b));
    try {
        co_await g.join();
    } catch (const cancelled_error&) {
        out->join_threw_cancelled = true;
        out->threw_at = since(start);
        throw;
    }
}

task<bool> cancel_the_joiner(joiner_cancel_report* r) {
    auto joiner = corio::create_task(join_two_slow(r));
    co_await corio::sleep(1s);
    joiner.cancel();
    try {
        co_await joiner;
    } catch (const cancelled_error&) {
        co_return joiner.cancelled();
    }
    co_return false;
}

TEST(TaskGroup, CancellingTheJoiningTaskCancelsAllChildrenAndJoinThrowsCancelledError) {
    joiner_cancel_report r;
    EXPECT_TRUE(run_virtual(cancel_the_joiner(&r)));
    EXPECT_TRUE(r.join_threw_cancelled);
    EXPECT_TRUE(r.a.cancelled);
    EXPECT_TRUE(r.b.cancelled);
    EXPECT_TRUE(r.a.cleaned_up);
    EXPECT_TRUE(r.b.cleaned_up);
    EXPECT_EQ(r.threw_at, 3s); // join waited for the children's cleanup
}

task<bool> join_after_cancelling_oneself(joiner_cancel_report* out) {
    const auto start = now();
    task_group g;
    auto started = g.create_task(probe_child(10s, 1, 0s, &out->a));
    co_await corio::sleep(1s); // `started` is parked in its sleep now
    auto unstarted = g.create_task(value_after(10s, 2));
    corio::current_task().cancel(); // delivered at the next suspension point: join
    try {
        co_await g.join();
    } catch (const cancelled_error&) {
        out->join_threw_cancelled = true;
        out->threw_at = since(start);
    }
    co_return g.pending() == 0 && started.cancelled() && unstarted.cancelled();
}

TEST(TaskGroup, ACancellationPendingWhenJoinStartsCancelsTheChildren) {
    joiner_cancel_report r;
    EXPECT_TRUE(run_virtual(join_after_cancelling_oneself(&r)));
    EXPECT_TRUE(r.join_threw_cancelled);
    EXPECT_TRUE(r.a.cancelled);
    EXPECT_EQ(r.threw_at, 1s);
}

struct failure_then_joiner_cancel_report {
    child_probe slow;
    std::string what;
    scheduler::duration ended_at{};
};

task<> join_while_a_failure_is_cleaning_up(failure_then_joiner_cancel_report* out) {
    const auto start = now();
    task_group g;
    g.create_task(probe_child(10s, 1, 3s, &out->slow));
    g.create_task(fail_after(1s, "boom"));
    try {
        co_await g.join();
    } catch (const std::runtime_error& e) {
        out->what = e.what();
    }
    out->ended_at = since(start);
}

task<> cancel_the_joiner_at_two_seconds(failure_then_joiner_cancel_report* r) {
    auto joiner = corio::create_task(join_while_a_failure_is_cleaning_up(r));
    co_await corio::sleep(2s);
    joiner.cancel();
    try {
        co_await joiner;
    } catch (const cancelled_error&) {
    }
}

TEST(TaskGroup, CancellingTheJoinerAfterAFailureDoesNotInterruptTheChildrensCleanup) {
    // A child fails at 1 s, so the group cancels the other child, which cleans up for 3 s.
    // Cancelling the joiner at 2 s must not cancel that child a second time.
    failure_then_joiner_cancel_report r;
    run_virtual(cancel_the_joiner_at_two_seconds(&r));
    EXPECT_TRUE(r.slow.cancelled);
    EXPECT_TRUE(r.slow.cleaned_up);
    EXPECT_EQ(r.what, "boom"); // the first failure wins over the cancellation
    EXPECT_EQ(r.ended_at, 4s);
}

bool g_unrun_body_ran = false;

task<int> record_that_it_ran() {
    g_unrun_body_ran = true;
    co_return 0;
}

struct late_create_report {
    bool logic_error_after_failure = false;
    bool logic_error_after_join = false;
    std::string join_what;
};

task<late_create_report> create_after_failure_and_after_join() {
    late_create_report out;
    {
        task_group g;
        g.create_task(fail_after(1s, "failed"));
        co_await corio::sleep(2s);
        try {
            g.create_task(record_that_it_ran());
        } catch (const std::logic_error&) {
            out.logic_error_after_failure = true;
        }
        try {
            co_await g.join();
        } catch (const std::runtime_error& e) {
            out.join_what = e.what();
        }
    }
    {
        task_group g;
        g.create_task(value_after(1s, 1));
        co_await g.join();
        try {
            g.create_task(record_that_it_ran());
        } catch (const std::logic_error&) {
            out.logic_error_after_join = true;
        }
    }
    co_await corio::sleep(1s); // a task created by mistake would have run by now
    co_return out;
}

TEST(TaskGroup, CreateTaskAfterAFailureOrAfterJoinThrowsLogicError) {
    g_unrun_body_ran = false;
    const auto r = run_virtual(create_after_failure_and_after_join());
    EXPECT_TRUE(r.logic_error_after_failure);
    EXPECT_TRUE(r.logic_error_after_join);
    EXPECT_EQ(r.join_what, "failed");
    EXPECT_FALSE(g_unrun_body_ran); // the refused task was destroyed unrun
}

task<int> grandchild(std::vector<int>* finished) {
    co_await corio::sleep(3s);
    finished->push_back(2);
    co_return 2;
}

task<int> spawn_grandchild(task_group* g, std::vector<int>* finished) {
    co_await corio::sleep(1s);
    // Created while the parent task is already parked in join().
    g->create_task(grandchild(finished));
    finished->push_back(1);
    co_return 1;
}

task<std::pair<std::vector<int>, scheduler::duration>> join_waits_for_grandchildren() {
    std::vector<int> finished;
    const auto start = now();
    task_group g;
    g.create_task(spawn_grandchild(&g, &finished));
    co_await g.join();
    co_return std::make_pair(finished, since(start));
}

TEST(TaskGroup, ChildrenCreatedByChildrenWhileJoiningAreWaitedFor) {
    const auto [finished, took] = run_virtual(join_waits_for_grandchildren());
    EXPECT_EQ(finished, (std::vector<int>{1, 2}));
    EXPECT_EQ(took, 4s);
}

struct abandoned_report {
    child_probe a;
    child_probe b;
    std::size_t reports_right_after = 99;
};

task<> abandon_a_group(abandoned_report* out, const exception_log* log) {
    {
        task_group g;
        g.create_task(probe_child(10s, 1, 0s, &out->a));
        g.create_task(probe_child(10s, 2, 0s, &out->b));
        co_await corio::sleep(1s);
    } // destroyed without join
    out->reports_right_after = log->size();
    co_await corio::sleep(1s); // let the cancelled children finish
}

TEST(TaskGroup, AGroupDestroyedWithoutJoinCancelsItsChildrenAndReportsIt) {
    abandoned_report r;
    corio::event_loop loop(corio::test::virtual_clock());
    exception_log log(loop);
    loop.run_until_complete(abandon_a_group(&r, &log));
    EXPECT_TRUE(r.a.cancelled);
    EXPECT_TRUE(r.b.cancelled);
    EXPECT_EQ(r.reports_right_after, 1u);
    EXPECT_EQ(loop.task_count(), 0u);
    loop.close();
    ASSERT_EQ(log.size(), 1u); // and nothing more: cancelled children are not failures
    EXPECT_NE(log[0].message.find("task_group destroyed without join()"), std::string::npos)
        << log[0].message;
    EXPECT_NE(log[0].message.find("2 unfinished children"), std::string::npos) << log[0].message;
}

} // namespace
