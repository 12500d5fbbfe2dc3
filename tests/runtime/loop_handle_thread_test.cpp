#include "corio/runtime/event_loop.hpp"
#include "corio/runtime/loop_handle.hpp"

#include "support/loop_helpers.hpp"
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::event_loop;

TEST(LoopHandleThreads, CallSoonThreadsafeFromAnotherThreadWakesASleepingLoop) {
    event_loop loop; // real clock, no timers: with nothing to do it blocks in the kernel
    std::atomic<bool> running{false};
    std::thread::id ran_on;
    loop.call_soon([&running] { running.store(true, std::memory_order_release); });
    corio::loop_handle h = loop.handle();
    std::thread poster([&running, &ran_on, &loop, h] {
        while (!running.load(std::memory_order_acquire))
            std::this_thread::yield();
        // Give the loop time to go to sleep; the test passes either way, but this way it
        // covers the wake-up of a blocked loop rather than a post seen before blocking.
        std::this_thread::sleep_for(20ms);
        h.call_soon_threadsafe([&ran_on, &loop] {
            ran_on = std::this_thread::get_id();
            loop.stop();
        });
    });
    loop.run_forever();
    poster.join();
    EXPECT_EQ(ran_on, std::this_thread::get_id());
    EXPECT_EQ(loop.timer_count(), 0u);
}

TEST(LoopHandleThreads, PostsFromFourThreadsRunExactlyOnceInPerThreadOrder) {
    constexpr int threads = 4;
    constexpr int per_thread = 5000;
    event_loop loop;
    // Only touched on the loop thread.
    std::vector<std::vector<int>> seen(threads);
    int total = 0;
    std::atomic<bool> go{false};
    std::vector<std::thread> posters;
    for (int t = 0; t < threads; ++t) {
        posters.emplace_back([&, t, h = loop.handle()] {
            while (!go.load(std::memory_order_acquire))
                std::this_thread::yield();
            for (int i = 0; i < per_thread; ++i) {
                h.call_soon_threadsafe([&, t, i] {
                    seen[t].push_back(i);
                    if (++total == threads * per_thread)
                        loop.stop();
                });
            }
        });
    }
    loop.call_soon([&go] { go.store(true, std::memory_order_release); });
    loop.run_forever();
    for (std::thread& p : posters)
        p.join();
    EXPECT_EQ(total, threads * per_thread);
    for (int t = 0; t < threads; ++t) {
        ASSERT_EQ(seen[t].size(), static_cast<std::size_t>(per_thread)) << "thread " << t;
        for (int i = 0; i < per_thread; ++i)
            ASSERT_EQ(seen[t][i], i) << "thread " << t;
    }
}

TEST(LoopHandleThreads, AnExceptionFromAThreadsafeCallGoesToTheExceptionHandler) {
    event_loop loop;
    std::vector<std::string> reports;
    loop.set_exception_handler([&reports](corio::scheduler&, const corio::exception_context& c) {
        try {
            std::rethrow_exception(c.exception);
        } catch (const std::exception& e) {
            reports.push_back(e.what());
        }
    });
    std::thread poster([h = loop.handle(), &loop] {
        h.call_soon_threadsafe([] { throw std::runtime_error("from another thread"); });
        h.call_soon_threadsafe([&loop] { loop.stop(); });
    });
    loop.run_forever();
    poster.join();
    EXPECT_EQ(reports, (std::vector<std::string>{"from another thread"}));
}

TEST(LoopHandleThreads, AHandleUsedAfterTheLoopClosedThrowsRuntimeError) {
    corio::loop_handle h;
    {
        event_loop loop;
        h = loop.handle();
        EXPECT_FALSE(h.is_closed());
        EXPECT_FALSE(loop.handle().is_closed());
        loop.close();
        EXPECT_TRUE(h.is_closed());
        EXPECT_TRUE(loop.handle().is_closed());
    }
    EXPECT_TRUE(h.is_closed());
    bool ran = false;
    EXPECT_THROW(h.call_soon_threadsafe([&ran] { ran = true; }), std::runtime_error);
    // From another thread, too.
    bool threw = false;
    std::thread other([&] {
        try {
            h.call_soon_threadsafe([&ran] { ran = true; });
        } catch (const std::runtime_error&) {
            threw = true;
        }
    });
    other.join();
    EXPECT_TRUE(threw);
    EXPECT_FALSE(ran);
}

TEST(LoopHandleThreads, ADefaultConstructedHandleIsClosedAndRefusesCalls) {
    corio::loop_handle h;
    EXPECT_TRUE(h.is_closed());
    EXPECT_THROW(h.call_soon_threadsafe([] {}), std::runtime_error);
}

TEST(LoopHandleThreads, CallsPostedToALoopThatClosesUnrunAreDestroyed) {
    auto token = std::make_shared<int>(0);
    std::weak_ptr<int> watch = token;
    {
        event_loop loop;
        std::thread poster([h = loop.handle(), t = std::move(token)]() mutable {
            h.call_soon_threadsafe([t = std::move(t)] { ++*t; });
        });
        poster.join();
        EXPECT_FALSE(watch.expired()); // queued, not run
        loop.close();
    }
    EXPECT_TRUE(watch.expired());
}

TEST(LoopHandleThreads, EventLoopCallSoonThreadsafeFromAnotherThreadRunsOnTheLoop) {
    event_loop loop;
    std::thread::id ran_on;
    std::thread poster([&] {
        loop.call_soon_threadsafe([&] {
            ran_on = std::this_thread::get_id();
            loop.stop();
        });
    });
    loop.run_forever();
    poster.join();
    EXPECT_EQ(ran_on, std::this_thread::get_id());
}

} // namespace
