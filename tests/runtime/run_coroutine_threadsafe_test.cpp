#include "corio/core/cancelled_error.hpp"
#include "corio/core/current_task.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/runtime/run_coroutine_threadsafe.hpp"
#include "corio/time/sleep.hpp"

#include "support/thread_helpers.hpp"
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

// Every test here crosses threads (or is about the thread-safe entry point): the suite is named
// RunCoroutineThreadsafe so that the tsan run selects it.

namespace {

using namespace std::chrono_literals;
using corio::cancelled_error;
using corio::event_loop;
using corio::task;
using corio::test::exception_of;

task<std::pair<int, std::thread::id>> add_on_loop(int a, int b) {
    co_await corio::sleep(1ms);
    co_return std::pair(a + b, std::this_thread::get_id());
}

TEST(RunCoroutineThreadsafe, AnotherThreadGetsTheResultOfATaskRunOnTheLoop) {
    event_loop loop;
    std::pair<int, std::thread::id> got{};
    std::thread client([&] {
        std::future<std::pair<int, std::thread::id>> f =
            corio::run_coroutine_threadsafe(add_on_loop(2, 3), loop.handle());
        got = f.get();
        loop.call_soon_threadsafe([&loop] { loop.stop(); });
    });
    loop.run_forever();
    client.join();
    EXPECT_EQ(got.first, 5);
    EXPECT_EQ(got.second, std::this_thread::get_id()); // the loop's thread
}

task<int> fail_on_loop() {
    co_await corio::sleep(0s);
    throw std::out_of_range("from the loop");
}

TEST(RunCoroutineThreadsafe, TheTasksExceptionReachesTheFuture) {
    event_loop loop;
    std::exception_ptr error;
    std::thread client([&] {
        std::future<int> f = corio::run_coroutine_threadsafe(fail_on_loop(), loop);
        error = exception_of(f);
        loop.call_soon_threadsafe([&loop] { loop.stop(); });
    });
    loop.run_forever();
    client.join();
    try {
        std::rethrow_exception(error);
    } catch (const std::out_of_range& e) {
        EXPECT_STREQ(e.what(), "from the loop");
    } catch (...) {
        ADD_FAILURE() << "not the task's exception";
    }
}

task<> set_on_loop(int* target) {
    *target = 9;
    co_return;
}

task<std::unique_ptr<int>> make_unique_on_loop() {
    co_return std::make_unique<int>(11);
}

int g_shared = 0;
task<int&> reference_on_loop() {
    co_return g_shared;
}

TEST(RunCoroutineThreadsafe, VoidMoveOnlyAndReferenceResultsReachTheFuture) {
    event_loop loop;
    int target = 0;
    std::unique_ptr<int> p;
    int* ref = nullptr;
    std::thread client([&] {
        std::future<void> a = corio::run_coroutine_threadsafe(set_on_loop(&target), loop);
        std::future<std::unique_ptr<int>> b =
            corio::run_coroutine_threadsafe(make_unique_on_loop(), loop);
        std::future<int&> c = corio::run_coroutine_threadsafe(reference_on_loop(), loop);
        a.get();
        p = b.get();
        ref = &c.get();
        loop.call_soon_threadsafe([&loop] { loop.stop(); });
    });
    loop.run_forever();
    client.join();
    EXPECT_EQ(target, 9);
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, 11);
    EXPECT_EQ(ref, &g_shared);
}

task<int> sleep_long_and_register(corio::task_ref* me) {
    *me = corio::current_task();
    co_await corio::sleep(1h);
    co_return 1;
}

TEST(RunCoroutineThreadsafe, ACancelledTaskGivesTheFutureCancelledError) {
    event_loop loop;
    corio::task_ref victim; // touched only on the loop thread
    std::exception_ptr error;
    std::thread client([&] {
        std::future<int> f =
            corio::run_coroutine_threadsafe(sleep_long_and_register(&victim), loop);
        // Posts from one thread run in order: the task exists when the cancel runs, and its
        // first step (which registers it) has run by then, or it is cancelled before it.
        loop.call_soon_threadsafe(
            [&loop, &victim] { loop.call_soon([&victim] { victim.cancel(); }); });
        error = exception_of(f);
        loop.call_soon_threadsafe([&loop, &victim] {
            victim = corio::task_ref();
            loop.stop();
        });
    });
    loop.run_forever();
    client.join();
    ASSERT_TRUE(error);
    EXPECT_THROW(std::rethrow_exception(error), cancelled_error);
}

TEST(RunCoroutineThreadsafe, ALoopThatClosesBeforeTheTaskFinishesGivesTheFutureAnError) {
    std::future<int> f;
    corio::task_ref victim;
    {
        event_loop loop;
        loop.set_exception_handler([](corio::scheduler&, const corio::exception_context&) {});
        std::thread client([&] {
            f = corio::run_coroutine_threadsafe(sleep_long_and_register(&victim), loop);
            loop.call_soon_threadsafe([&loop] { loop.stop(); });
        });
        loop.run_forever();
        client.join();
        victim = corio::task_ref(); // a reference must not outlive the loop
        loop.close();
    }
    ASSERT_EQ(f.wait_for(1s), std::future_status::ready);
    try {
        f.get();
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "corio: the event loop closed before the coroutine finished");
    }
}

TEST(RunCoroutineThreadsafe, ACallPostedToALoopThatNeverRunsItFailsTheFutureOnClose) {
    std::future<int> f;
    bool ran = false;
    {
        event_loop loop; // never run
        std::thread client([&] {
            f = corio::run_coroutine_threadsafe(
                [](bool* r) -> task<int> {
                    *r = true;
                    co_return 1;
                }(&ran),
                loop);
        });
        client.join();
        EXPECT_EQ(f.wait_for(0s), std::future_status::timeout);
    }
    EXPECT_THROW(f.get(), std::runtime_error);
    EXPECT_FALSE(ran);
}

TEST(RunCoroutineThreadsafe, SubmittingToAClosedLoopThrowsRuntimeError) {
    corio::loop_handle h;
    {
        event_loop loop;
        h = loop.handle();
    }
    bool threw = false;
    std::thread client([&] {
        try {
            (void)corio::run_coroutine_threadsafe(add_on_loop(1, 1), h);
        } catch (const std::runtime_error&) {
            threw = true;
        }
    });
    client.join();
    EXPECT_TRUE(threw);
}

task<int> submit_to_own_loop_then_poll() {
    std::future<std::pair<int, std::thread::id>> f =
        corio::run_coroutine_threadsafe(add_on_loop(20, 22), *event_loop::current());
    // Blocking on f here would deadlock; sleeping lets the loop run the task.
    while (f.wait_for(0s) != std::future_status::ready)
        co_await corio::sleep(1ms);
    co_return f.get().first;
}

TEST(RunCoroutineThreadsafe, FromTheLoopsOwnThreadTheFutureIsReadyOnceTheLoopRanTheTask) {
    event_loop loop;
    EXPECT_EQ(loop.run_until_complete(submit_to_own_loop_then_poll()), 42);
}

} // namespace
