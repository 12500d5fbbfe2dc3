#include "corio/runtime/thread_pool.hpp"

#include "support/thread_helpers.hpp"
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

// Every test here uses real threads: the suite is named ThreadPool so that the tsan run
// selects it.

namespace {

using namespace std::chrono_literals;
using corio::thread_pool;
using corio::test::exception_of;
using corio::test::wait_for;

TEST(ThreadPool, SubmitRunsTheCallableOnAWorkerAndFulfilsTheFuture) {
    thread_pool pool(2);
    std::future<std::thread::id> f = pool.submit([] { return std::this_thread::get_id(); });
    EXPECT_NE(f.get(), std::this_thread::get_id());
}

TEST(ThreadPool, SubmitPutsTheCallablesExceptionInTheFuture) {
    thread_pool pool(1);
    std::future<int> f = pool.submit([]() -> int { throw std::invalid_argument("bad input"); });
    const std::exception_ptr error = exception_of(f);
    EXPECT_THROW(std::rethrow_exception(error), std::invalid_argument);
}

TEST(ThreadPool, SubmitOfAVoidCallableGivesAVoidFuture) {
    thread_pool pool(1);
    std::atomic<int> n{0};
    std::future<void> f = pool.submit([&n] { n.store(7); });
    f.get();
    EXPECT_EQ(n.load(), 7);
}

TEST(ThreadPool, ThreadsStartOnlyWhenWorkArrives) {
    thread_pool pool(4);
    EXPECT_EQ(pool.max_threads(), 4u);
    EXPECT_EQ(pool.thread_count(), 0u);
    pool.submit([] {}).get();
    EXPECT_EQ(pool.thread_count(), 1u);
}

TEST(ThreadPool, AnIdleWorkerTakesTheNextJobInsteadOfANewThread) {
    thread_pool pool(4);
    for (int i = 0; i < 3; ++i) {
        pool.submit([] {}).get();
        // Leave the worker time to go back to waiting after fulfilling the future.
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(pool.thread_count(), 1u);
}

TEST(ThreadPool, NeverRunsMoreJobsAtOnceThanItsBound) {
    constexpr std::size_t bound = 3;
    thread_pool pool(bound);
    std::atomic<int> now{0};
    std::atomic<int> max{0};
    std::vector<std::future<void>> futures;
    for (int i = 0; i < 24; ++i) {
        futures.push_back(pool.submit([&] {
            const int n = now.fetch_add(1) + 1;
            int m = max.load();
            while (n > m && !max.compare_exchange_weak(m, n)) {
            }
            std::this_thread::sleep_for(2ms);
            now.fetch_sub(1);
        }));
    }
    for (std::future<void>& f : futures)
        f.get();
    EXPECT_EQ(max.load(), static_cast<int>(bound));
    EXPECT_EQ(pool.thread_count(), bound);
}

TEST(ThreadPool, OneWorkerRunsJobsInSubmissionOrder) {
    thread_pool pool(1);
    std::vector<int> order; // only touched by the single worker, read after the futures
    std::vector<std::future<void>> futures;
    for (int i = 0; i < 100; ++i)
        futures.push_back(pool.submit([&order, i] { order.push_back(i); }));
    for (std::future<void>& f : futures)
        f.get();
    ASSERT_EQ(order.size(), 100u);
    EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

TEST(ThreadPool, ShutdownDropsQueuedJobsAndWaitsForTheRunningOne) {
    thread_pool pool(1);
    std::atomic<bool> entered{false};
    std::atomic<bool> release{false};
    std::atomic<bool> queued_ran{false};
    std::future<int> running = pool.submit([&] {
        entered.store(true);
        wait_for([&] { return release.load(); });
        return 1;
    });
    ASSERT_TRUE(wait_for([&] { return entered.load(); }));
    std::future<int> queued = pool.submit([&] {
        queued_ran.store(true);
        return 2;
    });
    pool.shutdown(false); // does not wait for the running job
    EXPECT_TRUE(pool.is_shutdown());
    try {
        queued.get();
        FAIL() << "a queued job survived shutdown";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), corio::detail::pool_shutdown_message);
    }
    EXPECT_EQ(running.wait_for(0s), std::future_status::timeout);
    release.store(true);
    pool.shutdown(true);
    EXPECT_EQ(running.get(), 1);
    EXPECT_FALSE(queued_ran.load());
}

TEST(ThreadPool, SubmitAfterShutdownThrowsRuntimeError) {
    thread_pool pool(2);
    pool.shutdown();
    bool ran = false;
    EXPECT_THROW((void)pool.submit([&ran] { ran = true; }), std::runtime_error);
    EXPECT_FALSE(ran);
}

TEST(ThreadPool, ShutdownIsIdempotent) {
    thread_pool pool(2);
    pool.submit([] {}).get();
    pool.shutdown(false);
    pool.shutdown(true);
    pool.shutdown(true);
    EXPECT_TRUE(pool.is_shutdown());
}

TEST(ThreadPool, TheDestructorWaitsForRunningJobs) {
    std::atomic<bool> finished{false};
    std::atomic<bool> entered{false};
    {
        thread_pool pool(1);
        (void)pool.submit([&] {
            entered.store(true);
            std::this_thread::sleep_for(30ms);
            finished.store(true);
        });
        ASSERT_TRUE(wait_for([&] { return entered.load(); }));
    }
    EXPECT_TRUE(finished.load());
}

TEST(ThreadPool, AJobCanShutDownItsOwnPoolWithoutDeadlock) {
    thread_pool pool(2);
    std::future<void> f = pool.submit([&pool] { pool.shutdown(true); });
    f.get();
    EXPECT_TRUE(pool.is_shutdown());
    EXPECT_THROW((void)pool.submit([] {}), std::runtime_error);
}

TEST(ThreadPool, SubmitIsSafeFromManyThreadsAtOnce) {
    thread_pool pool(3);
    std::atomic<int> sum{0};
    std::vector<std::thread> submitters;
    std::mutex m;
    std::vector<std::future<void>> futures;
    for (int t = 0; t < 4; ++t) {
        submitters.emplace_back([&, t] {
            for (int i = 0; i < 250; ++i) {
                std::future<void> f = pool.submit([&sum, t] { sum.fetch_add(t + 1); });
                std::lock_guard lock(m);
                futures.push_back(std::move(f));
            }
        });
    }
    for (std::thread& t : submitters)
        t.join();
    for (std::future<void>& f : futures)
        f.get();
    EXPECT_EQ(sum.load(), 250 * (1 + 2 + 3 + 4));
    EXPECT_LE(pool.thread_count(), 3u);
}

TEST(ThreadPool, TheDefaultSizeIsPythonsMinOf32AndHardwareThreadsPlus4) {
    const std::size_t hw = std::max(1u, std::thread::hardware_concurrency());
    EXPECT_EQ(thread_pool::default_thread_count(), std::min<std::size_t>(32, hw + 4));
    thread_pool pool; // 0: the default
    EXPECT_EQ(pool.max_threads(), thread_pool::default_thread_count());
}

} // namespace
