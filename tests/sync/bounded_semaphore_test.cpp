#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/sync/bounded_semaphore.hpp"
#include "corio/sync/semaphore.hpp"

#include "support/sync_helpers.hpp"
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::bounded_semaphore;
using corio::cancelled_error;
using corio::semaphore;
using corio::task;
using corio::task_handle;
using corio::test::ended_cancelled;
using corio::test::run_guarded;
using corio::test::take_and_log;
using corio::test::yield;

TEST(BoundedSemaphore, ReleasingBeyondTheInitialValueThrowsLogicErrorAndChangesNothing) {
    bounded_semaphore s(2);
    EXPECT_EQ(s.value(), 2);
    try {
        s.release();
        FAIL() << "no error";
    } catch (const std::logic_error& e) {
        EXPECT_STREQ(e.what(), "corio::bounded_semaphore::release: released too many times");
    }
    EXPECT_EQ(s.value(), 2);
}

TEST(BoundedSemaphore, TheBoundHoldsThroughASemaphoreReference) {
    bounded_semaphore b(1);
    semaphore& s = b;
    EXPECT_THROW(s.release(), std::logic_error);
    EXPECT_EQ(s.value(), 1);
}

TEST(BoundedSemaphore, ANegativeInitialValueThrowsInvalidArgument) {
    EXPECT_THROW(bounded_semaphore(-3), std::invalid_argument);
}

TEST(BoundedSemaphore, AZeroBoundAllowsNoRelease) {
    bounded_semaphore s(0);
    EXPECT_TRUE(s.locked());
    EXPECT_THROW(s.release(), std::logic_error);
}

task<std::string> acquire_release_cycles() {
    bounded_semaphore s(2);
    std::string log;
    co_await s.acquire();
    co_await s.acquire();
    log += static_cast<char>('0' + s.value());
    s.release();
    s.release();
    log += static_cast<char>('0' + s.value());
    try {
        s.release();
    } catch (const std::logic_error&) {
        log += 'x';
    }
    {
        auto a = co_await s;
        auto b = co_await s;
        log += static_cast<char>('0' + s.value());
    } // the guards give back exactly what they took
    log += static_cast<char>('0' + s.value());
    co_return log;
}

TEST(BoundedSemaphore, MatchedAcquiresAndReleasesNeverTripTheBound) {
    EXPECT_EQ(run_guarded(acquire_release_cycles()), "02x02");
}

task<std::string> hand_off_and_cancel() {
    bounded_semaphore s(1);
    std::string log;
    co_await s.acquire();
    auto a = corio::create_task(take_and_log(s, 'a', &log));
    auto b = corio::create_task(take_and_log(s, 'b', &log));
    co_await yield();
    s.release(); // to a, with the value still 0: no bound is involved in a hand-off
    a.cancel();  // a gives the unit on to b without counting it twice
    log += co_await ended_cancelled(a) ? 'A' : '?';
    co_await b;
    log += static_cast<char>('0' + s.value());
    try {
        s.release();
    } catch (const std::logic_error&) {
        log += 'x';
    }
    co_return log;
}

TEST(BoundedSemaphore, AGrantedThenCancelledWaiterPassesItsUnitOnWithinTheBound) {
    EXPECT_EQ(run_guarded(hand_off_and_cancel()), "bA1x");
}

task<std::string> over_release_detected_later() {
    bounded_semaphore s(1);
    std::string log;
    co_await s.acquire();
    auto w = corio::create_task(take_and_log(s, 'w', &log));
    co_await yield();
    s.release(); // a hand-off to w: the value stays 0
    co_await w;  // w took the unit and gave it back: value 1, the bound
    try {
        s.release();
    } catch (const std::logic_error&) {
        log += 'x';
    }
    log += static_cast<char>('0' + s.value());
    co_return log;
}

TEST(BoundedSemaphore, AfterAHandOffTheBoundStillRefusesAnExtraRelease) {
    EXPECT_EQ(run_guarded(over_release_detected_later()), "wx1");
}

} // namespace
