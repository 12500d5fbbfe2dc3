// add_signal_handler / remove_signal_handler: callbacks run on the loop, never in the real
// handler; the previous action comes back; a signal during a busy loop waits for the loop.

#include "corio/core/create_task.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/runtime/run.hpp"
#include "corio/signal/signal_handler.hpp"
#include "corio/time/sleep.hpp"

#include "signal/signal_helpers.hpp"
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

using corio::add_signal_handler;
using corio::remove_signal_handler;
using corio::task;
using corio::test::run_real;
using namespace std::chrono_literals;

/// Yields to the loop until `flag` is set (at most `rounds` times 1 ms).
task<bool> until(const bool& flag, int rounds = 2000) {
    for (int i = 0; i < rounds && !flag; ++i)
        co_await corio::sleep(1ms);
    co_return flag;
}

class SignalHandler : public corio::test::SignalTest {};

TEST_F(SignalHandler, TheCallbackRunsOnTheLoopWhenTheSignalArrives) {
    const int calls = run_real([]() -> task<int> {
        int calls = 0;
        bool seen = false;
        const pid_t loop_thread = static_cast<pid_t>(::syscall(SYS_gettid));
        add_signal_handler(SIGUSR1, [&] {
            ++calls;
            seen = true;
            EXPECT_EQ(static_cast<pid_t>(::syscall(SYS_gettid)), loop_thread);
            EXPECT_NE(corio::event_loop::current(), nullptr) << "not run by the loop";
        });
        ::raise(SIGUSR1);
        EXPECT_EQ(calls, 0) << "the callback ran inside the signal handler";
        EXPECT_TRUE(co_await until(seen));
        EXPECT_TRUE(remove_signal_handler(SIGUSR1));
        EXPECT_FALSE(remove_signal_handler(SIGUSR1));
        co_return calls;
    }());
    EXPECT_EQ(calls, 1);
}

TEST_F(SignalHandler, ASignalDuringABusyLoopRunsTheHandlerOnceTheLoopGetsControl) {
    run_real([]() -> task<void> {
        bool seen = false;
        add_signal_handler(SIGUSR1, [&] { seen = true; });
        // A task spinning on synchronous work: the signal arrives in the middle of it.
        const auto start = std::chrono::steady_clock::now();
        bool raised = false;
        volatile unsigned long spin = 0;
        while (std::chrono::steady_clock::now() - start < 50ms) {
            spin = spin + 1;
            if (!raised && std::chrono::steady_clock::now() - start > 10ms) {
                ::raise(SIGUSR1);
                raised = true;
            }
        }
        EXPECT_TRUE(raised);
        EXPECT_FALSE(seen) << "the callback interrupted the synchronous work";
        EXPECT_TRUE(co_await until(seen));
        remove_signal_handler(SIGUSR1);
    }());
}

TEST_F(SignalHandler, SignalsSentFromAnotherThreadReachTheLoop) {
    const int calls = run_real([]() -> task<int> {
        int calls = 0;
        bool seen = false;
        add_signal_handler(SIGUSR2, [&] {
            ++calls;
            seen = true;
        });
        // Sent to the process: any thread may take it (no mask is needed anywhere).
        std::thread sender([] { ::kill(::getpid(), SIGUSR2); });
        sender.join();
        EXPECT_TRUE(co_await until(seen));
        remove_signal_handler(SIGUSR2);
        co_return calls;
    }());
    EXPECT_EQ(calls, 1);
}

TEST_F(SignalHandler, TheCallbackIsReplacedByASecondAdd) {
    auto which = run_real([]() -> task<std::string> {
        std::string which;
        bool seen = false;
        add_signal_handler(SIGHUP, [&] { which += "first"; });
        add_signal_handler(SIGHUP, [&] {
            which += "second";
            seen = true;
        });
        ::raise(SIGHUP);
        co_await until(seen);
        remove_signal_handler(SIGHUP);
        co_return which;
    }());
    EXPECT_EQ(which, "second");
}

TEST_F(SignalHandler, ThePreviousActionIsBackAfterRemoval) {
    ::signal(SIGUSR2, SIG_IGN);
    run_real([]() -> task<void> {
        add_signal_handler(SIGUSR2, [] {});
        struct sigaction during {};
        ::sigaction(SIGUSR2, nullptr, &during);
        EXPECT_NE(during.sa_handler, SIG_IGN);
        remove_signal_handler(SIGUSR2);
        struct sigaction after {};
        ::sigaction(SIGUSR2, nullptr, &after);
        EXPECT_EQ(after.sa_handler, SIG_IGN);
        co_return;
    }());
    ::signal(SIGUSR2, SIG_DFL);
}

TEST_F(SignalHandler, ClosingTheLoopRemovesItsHandlers) {
    {
        corio::event_loop loop;
        add_signal_handler(loop, SIGUSR1, [] {});
        struct sigaction during {};
        ::sigaction(SIGUSR1, nullptr, &during);
        EXPECT_NE(during.sa_handler, SIG_DFL);
    }
    // SignalTest checks that SIGUSR1 is SIG_DFL again and the eventfd is closed.
}

TEST_F(SignalHandler, AnExceptionFromTheCallbackGoesToTheExceptionHandler) {
    std::string reported;
    {
        corio::event_loop loop;
        loop.set_exception_handler(
            [&](corio::scheduler&, const corio::exception_context& c) { reported = c.message; });
        loop.run_until_complete([]() -> task<void> {
            bool seen = false;
            add_signal_handler(SIGUSR1, [&] {
                seen = true;
                throw std::runtime_error("boom");
            });
            ::raise(SIGUSR1);
            co_await until(seen);
            co_await corio::sleep(1ms);
            remove_signal_handler(SIGUSR1);
        }());
    }
    EXPECT_NE(reported.find("signal handler"), std::string::npos) << reported;
}

TEST_F(SignalHandler, SignalsThatCannotBeHandledAreRefused) {
    run_real([]() -> task<void> {
        for (int sig : {0, -1, 65, SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL})
            EXPECT_THROW(add_signal_handler(sig, [] {}), std::invalid_argument) << sig;
        EXPECT_THROW(add_signal_handler(SIGUSR1, nullptr), std::invalid_argument);
        co_return;
    }());
}

TEST_F(SignalHandler, OutsideALoopItIsALogicError) {
    EXPECT_THROW(add_signal_handler(SIGUSR1, [] {}), std::logic_error);
    EXPECT_FALSE(remove_signal_handler(SIGUSR1));
}

TEST_F(SignalHandler, TwoLoopsOnTwoThreadsBothHearAProcessSignal) {
    std::atomic<int> heard{0};
    auto run_one = [&] {
        corio::event_loop loop;
        loop.run_until_complete([](std::atomic<int>& heard) -> task<void> {
            bool seen = false;
            add_signal_handler(SIGUSR1, [&] { seen = true; });
            heard.fetch_add(1);
            while (heard.load() < 2) // both listen before the signal is sent
                co_await corio::sleep(1ms);
            if (heard.fetch_add(1) == 2)
                ::kill(::getpid(), SIGUSR1);
            co_await until(seen);
            EXPECT_TRUE(seen);
            remove_signal_handler(SIGUSR1);
        }(heard));
    };
    std::thread a(run_one), b(run_one);
    a.join();
    b.join();
    EXPECT_EQ(heard.load(), 4);
}

TEST_F(SignalHandler, RunCancelsMainOnSigtermWhenAsked) {
    ::signal(SIGTERM, SIG_DFL);
    corio::loop_options o;
    o.cancel_main_on_sigterm = true;
    bool cancelled = false;
    EXPECT_THROW(corio::run(
                     [](bool& cancelled) -> task<void> {
                         struct sigaction sa {};
                         ::sigaction(SIGTERM, nullptr, &sa);
                         if (sa.sa_handler == SIG_DFL) {
                             ADD_FAILURE() << "run() did not handle SIGTERM";
                             co_return;
                         }
                         ::raise(SIGTERM);
                         try {
                             co_await corio::sleep(10s);
                         } catch (const corio::cancelled_error&) {
                             cancelled = true;
                             throw;
                         }
                     }(cancelled),
                     o),
                 corio::cancelled_error);
    EXPECT_TRUE(cancelled);
    struct sigaction after {};
    ::sigaction(SIGTERM, nullptr, &after);
    EXPECT_EQ(after.sa_handler, SIG_DFL);
}

TEST_F(SignalHandler, ACorioHandlerOfSigintTakesPrecedenceOverRunAndRunsActionComesBack) {
    struct sigaction saved {};
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(SIGINT, &dfl, &saved);
    const bool handled = corio::run([]() -> task<bool> {
        bool seen = false;
        add_signal_handler(SIGINT, [&] { seen = true; });
        ::raise(SIGINT);
        co_await until(seen); // main is not cancelled: the program's handler decides
        co_return seen;
    }());
    EXPECT_TRUE(handled);
    struct sigaction after {};
    ::sigaction(SIGINT, nullptr, &after);
    EXPECT_EQ(after.sa_handler, SIG_DFL);
    ::sigaction(SIGINT, &saved, nullptr);
}

} // namespace
