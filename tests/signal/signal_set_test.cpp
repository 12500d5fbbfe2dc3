// signal_set: awaiting signals, none lost between waits, cancellation and closing.

#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/signal/signal_handler.hpp"
#include "corio/signal/signal_set.hpp"
#include "corio/time/sleep.hpp"

#include "signal/signal_helpers.hpp"
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <stdexcept>
#include <utility>
#include <vector>

namespace {

using corio::signal_set;
using corio::task;
using corio::test::run_real;
using namespace std::chrono_literals;

class SignalSet : public corio::test::SignalTest {};

TEST_F(SignalSet, WaitReturnsTheSignalThatArrived) {
    const int sig = run_real([]() -> task<int> {
        signal_set sigs{SIGUSR1, SIGUSR2};
        auto sender = corio::create_task([]() -> task<void> {
            co_await corio::sleep(5ms);
            ::raise(SIGUSR2);
        }());
        const int got = co_await sigs.wait();
        co_await sender;
        co_return got;
    }());
    EXPECT_EQ(sig, SIGUSR2);
}

TEST_F(SignalSet, ASignalThatArrivesWhileNobodyWaitsIsKeptForTheNextWait) {
    auto got = run_real([]() -> task<std::vector<int>> {
        signal_set sigs{SIGUSR1, SIGHUP};
        ::raise(SIGHUP);
        ::raise(SIGUSR1);
        co_await corio::sleep(5ms); // delivered to the set; nobody waits yet
        std::vector<int> got;
        got.push_back(co_await sigs.wait());
        got.push_back(co_await sigs.wait());
        co_return got;
    }());
    EXPECT_EQ(got, (std::vector<int>{SIGHUP, SIGUSR1})); // lowest number first
}

TEST_F(SignalSet, ACancelledWaitLosesNoSignal) {
    const int sig = run_real([]() -> task<int> {
        signal_set sigs{SIGUSR1};
        auto waiter = corio::create_task(
            [](signal_set& s) -> task<int> { co_return co_await s.wait(); }(sigs));
        co_await corio::sleep(5ms);
        EXPECT_FALSE(waiter.done());
        waiter.cancel();
        bool cancelled = false;
        try {
            (void)co_await waiter;
        } catch (const corio::cancelled_error&) {
            cancelled = true;
        }
        EXPECT_TRUE(cancelled);
        ::raise(SIGUSR1);
        co_return co_await sigs.wait();
    }());
    EXPECT_EQ(sig, SIGUSR1);
}

TEST_F(SignalSet, ASignalGrantedToAWaiterCancelledBeforeItRanGoesBackToTheSet) {
    auto r = run_real([]() -> task<std::pair<bool, int>> {
        signal_set sigs{SIGUSR1};
        auto waiter = corio::create_task(
            [](signal_set& s) -> task<int> { co_return co_await s.wait(); }(sigs));
        co_await corio::sleep(5ms);
        // The loop hands the signal to the set's waiter first (waking it), then runs this
        // handler, which cancels the waiter before it resumes: the signal must go back.
        bool handled = false;
        corio::add_signal_handler(SIGUSR1, [&] {
            handled = true;
            waiter.cancel();
        });
        ::raise(SIGUSR1);
        bool cancelled = false;
        try {
            (void)co_await waiter;
        } catch (const corio::cancelled_error&) {
            cancelled = true;
        }
        EXPECT_TRUE(handled);
        corio::remove_signal_handler(SIGUSR1);
        const int again = co_await sigs.wait(); // at once: the signal was given back
        co_return std::pair<bool, int>{cancelled, again};
    }());
    EXPECT_TRUE(r.first);
    EXPECT_EQ(r.second, SIGUSR1);
}

TEST_F(SignalSet, TwoWaitersEachGetOneArrival) {
    auto got = run_real([]() -> task<std::vector<int>> {
        signal_set sigs{SIGUSR1, SIGUSR2};
        auto w = [](signal_set& s) -> task<int> { co_return co_await s.wait(); };
        auto a = corio::create_task(w(sigs));
        auto b = corio::create_task(w(sigs));
        co_await corio::sleep(5ms);
        ::raise(SIGUSR1);
        ::raise(SIGUSR2);
        std::vector<int> got;
        got.push_back(co_await a);
        got.push_back(co_await b);
        co_return got;
    }());
    EXPECT_EQ(got, (std::vector<int>{SIGUSR1, SIGUSR2}));
}

TEST_F(SignalSet, ClosingWakesTheWaiterWithALogicError) {
    run_real([]() -> task<void> {
        signal_set sigs{SIGUSR1};
        auto waiter = corio::create_task(
            [](signal_set& s) -> task<int> { co_return co_await s.wait(); }(sigs));
        co_await corio::sleep(5ms);
        sigs.close();
        EXPECT_THROW((void)co_await waiter, std::logic_error);
        EXPECT_THROW((void)co_await sigs.wait(), std::logic_error);
    }());
}

TEST_F(SignalSet, ASetAndAHandlerOfTheSameSignalBothHearIt) {
    run_real([]() -> task<void> {
        bool handled = false;
        corio::add_signal_handler(SIGUSR1, [&] { handled = true; });
        {
            signal_set sigs{SIGUSR1};
            ::raise(SIGUSR1);
            EXPECT_EQ(co_await sigs.wait(), SIGUSR1);
            EXPECT_TRUE(handled);
        }
        // The set is gone; the handler still listens.
        struct sigaction sa {};
        ::sigaction(SIGUSR1, nullptr, &sa);
        EXPECT_NE(sa.sa_handler, SIG_DFL);
        corio::remove_signal_handler(SIGUSR1);
    }());
}

TEST_F(SignalSet, ASetOutlivingItsLoopIsHarmless) {
    std::unique_ptr<signal_set> s;
    {
        corio::event_loop loop;
        s = std::make_unique<signal_set>(loop, std::initializer_list<int>{SIGUSR2});
    }
    s.reset();
}

TEST_F(SignalSet, AnEmptyOrInvalidSetIsRefused) {
    run_real([]() -> task<void> {
        EXPECT_THROW(signal_set({}), std::invalid_argument);
        EXPECT_THROW(signal_set({SIGKILL}), std::invalid_argument);
        co_return;
    }());
}

} // namespace
