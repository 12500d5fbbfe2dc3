#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/current_task.hpp"
#include "corio/core/gather.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/runtime/thread_pool.hpp"
#include "corio/runtime/to_thread.hpp"
#include "corio/time/sleep.hpp"

#include "support/thread_helpers.hpp"
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

// Every test here crosses threads: the suite is named ToThread so that the tsan run selects it.

namespace {

using namespace std::chrono_literals;
using corio::cancelled_error;
using corio::event_loop;
using corio::loop_options;
using corio::task;
using corio::task_handle;
using corio::thread_pool;
using corio::test::wait_for;
using steady = std::chrono::steady_clock;

/// Suspends the calling task (on a real-clock loop) until `pred()` holds, polling every 200 us.
template <typename Pred>
task<bool> until(Pred pred, std::chrono::milliseconds limit = 5000ms) {
    const auto deadline = steady::now() + limit;
    while (!pred()) {
        if (steady::now() > deadline)
            co_return false;
        co_await corio::sleep(200us);
    }
    co_return true;
}

task<> nap(std::chrono::milliseconds d) {
    co_await corio::sleep(d);
}

loop_options with_threads(std::size_t n) {
    loop_options o;
    o.default_executor_threads = n;
    return o;
}

// --- results -------------------------------------------------------------------------------

task<std::pair<int, std::thread::id>> square_elsewhere(int x) {
    auto square = [](int v) { return std::pair(v * v, std::this_thread::get_id()); };
    co_return co_await corio::to_thread(square, x);
}

TEST(ToThread, ReturnsTheResultComputedOnAWorkerThread) {
    event_loop loop;
    auto [value, worker] = loop.run_until_complete(square_elsewhere(12));
    EXPECT_EQ(value, 144);
    EXPECT_NE(worker, std::this_thread::get_id());
}

task<std::string> concat_on_thread(std::string a, std::string b) {
    auto join = [](std::string x, const std::string& y) { return x + y; };
    co_return co_await corio::to_thread(join, std::move(a), b);
}

TEST(ToThread, ArgumentsAreCopiedIntoTheJobAndPassedToTheCallable) {
    event_loop loop;
    EXPECT_EQ(loop.run_until_complete(concat_on_thread(std::string(40, 'a'), "bc")),
              std::string(40, 'a') + "bc");
}

task<int> throw_on_thread() {
    auto fail = []() -> int { throw std::runtime_error("boom on a worker"); };
    co_return co_await corio::to_thread(fail);
}

TEST(ToThread, TheCallablesExceptionIsRethrownInTheAwaitingTask) {
    event_loop loop;
    try {
        loop.run_until_complete(throw_on_thread());
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "boom on a worker");
    }
}

task<> void_on_thread(std::atomic<bool>* ran) {
    auto set = [ran] { ran->store(true); };
    co_await corio::to_thread(set);
}

TEST(ToThread, AVoidCallableCompletes) {
    event_loop loop;
    std::atomic<bool> ran{false};
    loop.run_until_complete(void_on_thread(&ran));
    EXPECT_TRUE(ran.load());
}

task<std::unique_ptr<std::string>> move_only_on_thread() {
    auto make = [] { return std::make_unique<std::string>("move only"); };
    co_return co_await corio::to_thread(make);
}

TEST(ToThread, AMoveOnlyResultIsMovedOut) {
    event_loop loop;
    std::unique_ptr<std::string> p = loop.run_until_complete(move_only_on_thread());
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, "move only");
}

task<bool> reference_on_thread(std::vector<int>* target) {
    auto pick = [target]() -> std::vector<int>& {
        target->push_back(7);
        return *target;
    };
    std::vector<int>& r = co_await corio::to_thread(pick);
    co_return &r == target&& r.size() == 1;
}

TEST(ToThread, AnLvalueReferenceResultRefersToTheSameObject) {
    event_loop loop;
    std::vector<int> v;
    EXPECT_TRUE(loop.run_until_complete(reference_on_thread(&v)));
}

task<int> through_std_ref(int* counter) {
    auto bump = [](int& c) { return ++c; };
    co_return co_await corio::to_thread(bump, std::ref(*counter));
}

TEST(ToThread, StdRefSharesAnObjectWithTheCallable) {
    event_loop loop;
    int counter = 41;
    EXPECT_EQ(loop.run_until_complete(through_std_ref(&counter)), 42);
    EXPECT_EQ(counter, 42);
}

// --- errors --------------------------------------------------------------------------------

struct bare_coroutine {
    struct promise_type {
        std::exception_ptr* out;
        template <typename... Rest>
        promise_type(std::exception_ptr* o, Rest&...) : out(o) {}
        bare_coroutine get_return_object() noexcept { return {}; }
        std::suspend_never initial_suspend() noexcept { return {}; }
        std::suspend_never final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept { *out = std::current_exception(); }
    };
};

bare_coroutine to_thread_in_bare_coroutine(std::exception_ptr*, std::atomic<bool>* ran) {
    auto set = [ran] { ran->store(true); };
    co_await corio::to_thread(set);
}

TEST(ToThread, AwaitingOutsideATaskThrowsLogicErrorAndRunsNothing) {
    std::exception_ptr e;
    std::atomic<bool> ran{false};
    to_thread_in_bare_coroutine(&e, &ran);
    ASSERT_TRUE(e);
    EXPECT_THROW(std::rethrow_exception(e), std::logic_error);
    EXPECT_FALSE(ran.load());
}

task<std::string> await_on_pool(event_loop* loop, thread_pool* pool) {
    auto noop = [] { return 1; };
    try {
        co_await loop->run_in_executor(pool, noop);
    } catch (const std::runtime_error& e) {
        co_return e.what();
    }
    co_return "no error";
}

TEST(ToThread, AwaitingOnAShutDownPoolThrowsRuntimeError) {
    event_loop loop;
    thread_pool pool(2);
    pool.shutdown();
    EXPECT_EQ(loop.run_until_complete(await_on_pool(&loop, &pool)),
              "corio: cannot submit a job to a thread pool after shutdown");
}

// --- executors -----------------------------------------------------------------------------

task<std::thread::id> worker_id_on(event_loop* loop, thread_pool* pool) {
    auto id = [] { return std::this_thread::get_id(); };
    co_return co_await loop->run_in_executor(pool, id);
}

TEST(ToThread, RunInExecutorUsesTheGivenPoolAndLeavesTheDefaultOneIdle) {
    event_loop loop;
    thread_pool pool(3);
    const std::thread::id worker = loop.run_until_complete(worker_id_on(&loop, &pool));
    EXPECT_NE(worker, std::this_thread::get_id());
    EXPECT_EQ(pool.thread_count(), 1u);
    EXPECT_EQ(loop.default_executor().thread_count(), 0u);
}

TEST(ToThread, RunInExecutorWithNullUsesTheLoopsDefaultExecutor) {
    event_loop loop(with_threads(3));
    loop.run_until_complete(worker_id_on(&loop, nullptr));
    EXPECT_EQ(loop.default_executor().max_threads(), 3u);
    EXPECT_EQ(loop.default_executor().thread_count(), 1u);
}

TEST(ToThread, TheDefaultExecutorIsSizedByLoopOptionsOrPythonsDefault) {
    event_loop sized(with_threads(5));
    EXPECT_EQ(sized.default_executor().max_threads(), 5u);
    event_loop plain;
    EXPECT_EQ(plain.default_executor().max_threads(), thread_pool::default_thread_count());
    EXPECT_EQ(plain.default_executor().thread_count(), 0u); // threads start with the work
}

struct concurrency_probe {
    std::atomic<int> now{0};
    std::atomic<int> max{0};
    void enter() {
        const int n = now.fetch_add(1) + 1;
        int m = max.load();
        while (n > m && !max.compare_exchange_weak(m, n)) {
        }
    }
    void leave() { now.fetch_sub(1); }
};

task<> busy_jobs(concurrency_probe* probe, int count) {
    std::vector<task_handle<int>> handles;
    for (int i = 0; i < count; ++i) {
        handles.push_back(corio::create_task([](concurrency_probe* p, int v) -> task<int> {
            auto work = [p, v] {
                p->enter();
                std::this_thread::sleep_for(3ms);
                p->leave();
                return v;
            };
            co_return co_await corio::to_thread(work);
        }(probe, i)));
    }
    for (int i = 0; i < count; ++i) {
        const int v = co_await handles[static_cast<std::size_t>(i)];
        EXPECT_EQ(v, i);
    }
}

TEST(ToThread, TheDefaultExecutorNeverRunsMoreCallsAtOnceThanItsBound) {
    event_loop loop(with_threads(2));
    concurrency_probe probe;
    loop.run_until_complete(busy_jobs(&probe, 12));
    EXPECT_EQ(probe.max.load(), 2);
    EXPECT_EQ(loop.default_executor().thread_count(), 2u);
}

task<int> many_round_trips(int count) {
    std::vector<task<int>> items;
    for (int i = 0; i < count; ++i) {
        items.push_back([](int v) -> task<int> {
            auto twice = [](int x) { return 2 * x; };
            co_return co_await corio::to_thread(twice, v);
        }(i));
    }
    std::vector<int> results = co_await corio::gather(std::move(items));
    int sum = 0;
    for (int r : results)
        sum += r;
    co_return sum;
}

TEST(ToThread, HundredsOfConcurrentCallsAllComplete) {
    event_loop loop(with_threads(4));
    EXPECT_EQ(loop.run_until_complete(many_round_trips(300)), 300 * 299);
}

// --- cancellation --------------------------------------------------------------------------

struct gate {
    std::atomic<bool> open{false};
    std::atomic<bool> entered{false};
    std::atomic<bool> left{false};
    /// A callable for to_thread that blocks until the gate opens (or 5 s pass).
    auto blocker() {
        return [this] {
            entered.store(true);
            wait_for([this] { return open.load(); });
            left.store(true);
            return std::string(64, 'x'); // a heap result written after the awaiter is gone
        };
    }
};

task<std::string> await_blocker(gate* g) {
    auto f = g->blocker();
    co_return co_await corio::to_thread(f);
}

task<int> await_flag_setter(std::atomic<bool>* ran) {
    auto set = [ran] {
        ran->store(true);
        return 5;
    };
    co_return co_await corio::to_thread(set);
}

template <typename T>
bool ended_cancelled(const task_handle<T>& h) {
    return h.done() && h.cancelled();
}

task<> cancel_queued(gate* g, std::atomic<bool>* second_ran, bool* cancelled) {
    task_handle<std::string> first = corio::create_task(await_blocker(g));
    co_await until([g] { return g->entered.load(); });
    // The single worker is busy, so the second call waits in the queue.
    task_handle<int> second = corio::create_task(await_flag_setter(second_ran));
    co_await corio::sleep(1ms);
    second.cancel();
    co_await corio::sleep(0s);
    *cancelled = ended_cancelled(second);
    g->open.store(true);
    const std::string r = co_await first;
    EXPECT_EQ(r.size(), 64u);
}

TEST(ToThread, ACallCancelledWhileQueuedNeverRuns) {
    gate g;
    std::atomic<bool> second_ran{false};
    bool cancelled = false;
    {
        event_loop loop(with_threads(1));
        loop.run_until_complete(cancel_queued(&g, &second_ran, &cancelled));
        loop.run_until_complete(nap(5ms)); // the worker pops the cancelled job meanwhile
    }
    EXPECT_TRUE(cancelled);
    EXPECT_FALSE(second_ran.load());
}

struct cancel_report {
    bool cancelled_at_once = false;
    bool callable_still_running = false;
    steady::duration took{};
};

task<> cancel_running(gate* g, cancel_report* out) {
    task_handle<std::string> h = corio::create_task(await_blocker(g));
    co_await until([g] { return g->entered.load(); });
    const auto start = steady::now();
    h.cancel();
    co_await corio::sleep(0s); // the cancelled task runs its last step
    out->took = steady::now() - start;
    out->cancelled_at_once = ended_cancelled(h);
    out->callable_still_running = !g->left.load();
    g->open.store(true);
}

TEST(ToThread, CancellingWhileTheCallableRunsThrowsAtOnceAndTheCallableFinishesLater) {
    gate g;
    cancel_report r;
    {
        event_loop loop(with_threads(1));
        loop.run_until_complete(cancel_running(&g, &r));
        // The callable writes its result into the job after the awaiting frame is gone; the
        // loop is still open, so the completion reaches it and is dropped.
        EXPECT_TRUE(wait_for([&] { return g.left.load(); }));
        loop.run_until_complete(nap(5ms));
    }
    EXPECT_TRUE(r.cancelled_at_once);
    EXPECT_TRUE(r.callable_still_running);
    EXPECT_LT(r.took, 1s);
}

task<std::string> stoppable_wait(std::atomic<bool>* saw_stop,
                                 std::atomic<bool>* started = nullptr) {
    auto work = [saw_stop, started](std::stop_token st, int limit_ms) {
        if (started)
            started->store(true);
        const auto deadline = steady::now() + std::chrono::milliseconds(limit_ms);
        while (!st.stop_requested() && steady::now() < deadline)
            std::this_thread::sleep_for(100us);
        saw_stop->store(st.stop_requested());
        return std::string("stopped");
    };
    co_return co_await corio::to_thread(work, 5000);
}

task<> cancel_stoppable(std::atomic<bool>* saw_stop, bool* cancelled) {
    std::atomic<bool> started{false};
    task_handle<std::string> h = corio::create_task(stoppable_wait(saw_stop, &started));
    // Cancel only once the callable runs: a job cancelled while still queued is never run.
    co_await until([&started] { return started.load(); });
    h.cancel();
    co_await corio::sleep(0s);
    *cancelled = ended_cancelled(h);
    co_await until([saw_stop] { return saw_stop->load(); });
}

TEST(ToThread, ACallableTakingAStopTokenSeesAStopRequestOnCancellation) {
    std::atomic<bool> saw_stop{false};
    bool cancelled = false;
    const auto start = steady::now();
    {
        event_loop loop;
        loop.run_until_complete(cancel_stoppable(&saw_stop, &cancelled));
    }
    EXPECT_TRUE(cancelled);
    EXPECT_TRUE(saw_stop.load());
    EXPECT_LT(steady::now() - start, 4s); // it did not run to its 5 s limit
}

task<int> stop_token_not_requested() {
    auto work = [](std::stop_token st) { return st.stop_possible() && !st.stop_requested(); };
    co_return co_await corio::to_thread(work);
}

TEST(ToThread, AStopTokenIsPassedButNotRequestedWithoutCancellation) {
    event_loop loop;
    EXPECT_EQ(loop.run_until_complete(stop_token_not_requested()), 1);
}

task<int> cancel_self_then_await(std::atomic<bool>* ran) {
    corio::current_task().cancel();
    auto set = [ran] {
        ran->store(true);
        return 1;
    };
    co_return co_await corio::to_thread(set);
}

TEST(ToThread, APendingCancellationThrowsBeforeTheCallableIsSubmitted) {
    std::atomic<bool> ran{false};
    {
        event_loop loop;
        EXPECT_THROW(loop.run_until_complete(cancel_self_then_await(&ran)), cancelled_error);
        EXPECT_EQ(loop.default_executor().thread_count(), 0u);
    }
    EXPECT_FALSE(ran.load());
}

task<bool> cancel_then_uncancel(gate* g) {
    task_handle<std::string> h = corio::create_task(await_blocker(g));
    co_await until([g] { return g->entered.load(); });
    // The wait is withdrawn at once; taking the request back does not bring the result back.
    h.cancel();
    h.uncancel();
    co_await corio::sleep(0s);
    g->open.store(true);
    try {
        co_await h;
    } catch (const cancelled_error&) {
        co_return true;
    }
    co_return false;
}

TEST(ToThread, AWithdrawnWaitStillThrowsCancelledErrorIfTheRequestIsUncancelled) {
    gate g;
    event_loop loop(with_threads(1));
    EXPECT_TRUE(loop.run_until_complete(cancel_then_uncancel(&g)));
}

// --- shutdown and loop close ---------------------------------------------------------------

task<std::string> blocker_on(event_loop* loop, thread_pool* pool, gate* g) {
    auto f = g->blocker();
    co_return co_await loop->run_in_executor(pool, f);
}

task<std::string> flag_setter_on(event_loop* loop, thread_pool* pool, std::atomic<bool>* ran) {
    auto set = [ran] {
        ran->store(true);
        return std::string("ran");
    };
    try {
        co_return co_await loop->run_in_executor(pool, set);
    } catch (const std::runtime_error& e) {
        co_return e.what();
    }
}

task<std::string> shut_down_with_a_queued_call(event_loop* loop, thread_pool* pool, gate* g,
                                               std::atomic<bool>* second_ran) {
    task_handle<std::string> first = corio::create_task(blocker_on(loop, pool, g));
    co_await until([g] { return g->entered.load(); });
    // The single worker is busy: the second call waits in the queue.
    task_handle<std::string> second = corio::create_task(flag_setter_on(loop, pool, second_ran));
    co_await corio::sleep(1ms);
    pool->shutdown(false); // drops the queued second call; the first one goes on
    const std::string second_outcome = co_await second;
    g->open.store(true);
    const std::string first_result = co_await first;
    co_return second_outcome + "|" + std::to_string(first_result.size());
}

TEST(ToThread, APoolShutDownWithAQueuedCallGivesItsAwaiterRuntimeError) {
    gate g;
    std::atomic<bool> second_ran{false};
    thread_pool pool(1);
    event_loop loop;
    EXPECT_EQ(loop.run_until_complete(shut_down_with_a_queued_call(&loop, &pool, &g, &second_ran)),
              std::string(corio::detail::pool_shutdown_message) + "|64");
    pool.shutdown(true);
    EXPECT_FALSE(second_ran.load());
}

task<> start_pending_calls(std::atomic<bool>* queued_ran, std::atomic<bool>* saw_stop) {
    std::atomic<bool> started{false};
    (void)corio::create_task(stoppable_wait(saw_stop, &started));
    co_await until([&started] { return started.load(); });
    (void)corio::create_task(await_flag_setter(queued_ran));
    co_await corio::sleep(5ms);
}

TEST(ToThread, ClosingTheLoopWithdrawsPendingCallsAndJoinsTheDefaultExecutor) {
    std::atomic<bool> queued_ran{false};
    std::atomic<bool> saw_stop{false};
    std::vector<std::string> reports;
    {
        event_loop loop(with_threads(1));
        loop.set_exception_handler(
            [&reports](corio::scheduler&, const corio::exception_context& c) {
                reports.push_back(c.message);
            });
        loop.run_until_complete(start_pending_calls(&queued_ran, &saw_stop));
        // The stoppable call runs on the only worker and the flag setter waits behind it.
        // Closing destroys both awaiting frames: the queued call is withdrawn, the running one
        // gets its stop request, and close() waits for it.
        loop.close();
        EXPECT_TRUE(saw_stop.load());
    }
    EXPECT_FALSE(queued_ran.load());
    EXPECT_EQ(reports.size(), 2u); // two tasks destroyed while pending
}

TEST(ToThread, AUserPoolThatOutlivesTheLoopDropsCompletionsForTheClosedLoop) {
    thread_pool pool(1);
    gate g;
    {
        event_loop loop;
        loop.set_exception_handler([](corio::scheduler&, const corio::exception_context&) {});
        task_handle<std::string> h =
            loop.create_task([](event_loop* l, thread_pool* p, gate* gt) -> task<std::string> {
                auto f = gt->blocker();
                co_return co_await l->run_in_executor(p, f);
            }(&loop, &pool, &g));
        loop.run_until_complete(until([&g] { return g.entered.load(); }));
        loop.close(); // the user pool is not joined: the call is still running
        EXPECT_FALSE(g.left.load());
    }
    g.open.store(true);
    pool.shutdown(true); // the worker posts into the closed loop's inbox and drops the job
    EXPECT_TRUE(g.left.load());
}

// --- responsiveness ------------------------------------------------------------------------

struct responsiveness {
    steady::duration timer_after{};
    bool call_done_when_timer_fired = true;
    steady::duration call_after{};
};

task<> blocking_call_and_timer(responsiveness* out) {
    std::atomic<bool> call_done{false};
    const auto start = steady::now();
    task_handle<> call = corio::create_task([](std::atomic<bool>* done) -> task<> {
        auto block = [] { std::this_thread::sleep_for(200ms); };
        co_await corio::to_thread(block);
        done->store(true);
    }(&call_done));
    co_await corio::sleep(10ms);
    out->timer_after = steady::now() - start;
    out->call_done_when_timer_fired = call_done.load();
    co_await call;
    out->call_after = steady::now() - start;
}

TEST(ToThread, ABlockingCallOnAThreadDoesNotDelayATimerOnTheLoop) {
    // Real clock on purpose: the point is that the loop thread stays free while a worker
    // blocks for 200 ms.
    event_loop loop;
    responsiveness r;
    loop.run_until_complete(blocking_call_and_timer(&r));
    EXPECT_GE(r.timer_after, 10ms);
    EXPECT_LT(r.timer_after, 40ms);
    EXPECT_FALSE(r.call_done_when_timer_fired);
    EXPECT_GE(r.call_after, 200ms);
    EXPECT_LT(r.call_after, 1s);
}

} // namespace
