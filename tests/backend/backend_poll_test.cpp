// The backend conformance suite, part 1: readiness polls, cancellation, forget_fd, waits, the
// waker and fd hygiene. It is value-parameterized over backend names (backend_test_support.hpp).

#include "corio/runtime/event_loop.hpp"

#include "backend/backend.hpp"
#include "backend_test_support.hpp"
#include "support/loop_helpers.hpp"
#include "support/socket_helpers.hpp"
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>

namespace {

using namespace std::chrono_literals;
using corio::test::drive;
using corio::test::io_kind;
using corio::test::start;
using corio::test::test_op;

void write_byte(int fd) {
    const char c = 'x';
    ASSERT_EQ(::write(fd, &c, 1), 1);
}

class BackendPoll : public testing::TestWithParam<const char*> {
  protected:
    void SetUp() override {
        if (!corio::test::backend_available(GetParam()))
            GTEST_SKIP() << GetParam() << " is not available here";
    }
    std::unique_ptr<corio::detail::backend> make() const {
        return corio::detail::make_backend(GetParam());
    }
};

TEST_P(BackendPoll, ReportsTheNameOfItsFamily) {
    EXPECT_EQ(make()->name(), corio::test::backend_family(GetParam()));
}

TEST_P(BackendPoll, PollReadableOnAPipeCompletesAfterAWrite) {
    auto b = make();
    auto p = corio::test::make_pipe();
    test_op op(io_kind::poll_readable, p.first.get());
    EXPECT_FALSE(start(*b, op)) << "nothing was written yet";
    EXPECT_TRUE(b->has_pending());
    b->wait(0ns);
    EXPECT_FALSE(op.done);
    write_byte(p.second.get());
    EXPECT_TRUE(drive(*b, [&] { return op.done; }));
    EXPECT_EQ(op.completions, 1);
    EXPECT_TRUE(op.m_result & POLLIN) << op.m_result;
    EXPECT_FALSE(b->has_pending());
}

TEST_P(BackendPoll, PollReadableCompletesWhenDataIsAlreadyThere) {
    auto b = make();
    auto p = corio::test::make_pipe();
    write_byte(p.second.get());
    test_op op(io_kind::poll_readable, p.first.get());
    start(*b, op);
    EXPECT_TRUE(drive(
        *b, [&] { return op.done; }, 1s));
    EXPECT_TRUE(op.m_result & POLLIN) << op.m_result;
    EXPECT_LE(op.completions, 1);
}

TEST_P(BackendPoll, PollWritableOnAnEmptyPipeCompletesWithoutWaiting) {
    auto b = make();
    auto p = corio::test::make_pipe();
    test_op op(io_kind::poll_writable, p.second.get());
    const auto start_time = std::chrono::steady_clock::now();
    start(*b, op);
    EXPECT_TRUE(drive(*b, [&] { return op.done; }));
    EXPECT_LT(std::chrono::steady_clock::now() - start_time, 1s);
    EXPECT_TRUE(op.m_result & POLLOUT) << op.m_result;
    EXPECT_FALSE(b->has_pending());
}

TEST_P(BackendPoll, APollOnAReadyFdCompletesAtTheNextWaitWhichDoesNotBlock) {
    auto b = make();
    auto p = corio::test::make_pipe();
    test_op op(io_kind::poll_writable, p.second.get());
    EXPECT_FALSE(b->submit(op)) << "polls never complete inside submit()";
    EXPECT_TRUE(b->has_pending());
    const auto start_time = std::chrono::steady_clock::now();
    b->wait(std::nullopt);
    EXPECT_LT(std::chrono::steady_clock::now() - start_time, 5s);
    EXPECT_EQ(op.completions, 1);
    EXPECT_TRUE(op.m_result & POLLOUT) << op.m_result;
    EXPECT_FALSE(b->has_pending());
}

TEST_P(BackendPoll, APollReArmedFromItsCompletionCompletesOncePerWait) {
    // As asyncio's add_reader: a watch on a fd that stays ready runs once per loop iteration.
    auto b = make();
    auto p = corio::test::make_pipe();
    test_op op(io_kind::poll_writable, p.second.get());
    op.then = [&](test_op& self) { EXPECT_FALSE(b->submit(self)); };
    ASSERT_FALSE(b->submit(op));
    for (int i = 1; i <= 3; ++i) {
        b->wait(5s);
        EXPECT_EQ(op.completions, i);
    }
    op.then = nullptr;
    EXPECT_TRUE(b->cancel(op));
    EXPECT_FALSE(b->has_pending());
}

// A poll re-armed from its completion while the queue it was in is being retried must not join
// that queue again: the fd is still ready, so it would complete again and again in one wait.
TEST_P(BackendPoll, PollsReArmedBehindAQueuedCallCompleteOncePerWait) {
    auto b = make();
    auto p = corio::test::make_pipe();
    char buf[1];
    test_op read(io_kind::read, p.first.get());
    read.m_buf = buf;
    read.m_len = sizeof buf;
    ASSERT_FALSE(start(*b, read)) << "the pipe is empty";
    test_op first(io_kind::poll_readable, p.first.get());
    test_op second(io_kind::poll_readable, p.first.get());
    for (test_op* poll : {&first, &second}) {
        poll->then = [&](test_op& self) {
            if (self.completions < 100) { // a guard, so that a spinning backend fails, not hangs
                EXPECT_FALSE(b->submit(self));
            }
        };
        ASSERT_FALSE(start(*b, *poll));
    }
    ASSERT_EQ(::write(p.second.get(), "xy", 2), 2); // one byte is left after the read
    for (int i = 1; i <= 3; ++i) {
        b->wait(5s);
        EXPECT_TRUE(read.done);
        EXPECT_EQ(first.completions, i);
        EXPECT_EQ(second.completions, i);
    }
    first.then = second.then = nullptr;
    if (first.completions < 100) {
        EXPECT_TRUE(b->cancel(first));
    }
    if (second.completions < 100) {
        EXPECT_TRUE(b->cancel(second));
    }
    EXPECT_FALSE(b->has_pending());
}

TEST_P(BackendPoll, APollOnAReadyFdCanBeCancelledBeforeItsCompletion) {
    auto b = make();
    auto p = corio::test::make_pipe();
    test_op first(io_kind::poll_writable, p.second.get());
    test_op second(io_kind::poll_writable, p.second.get());
    test_op third(io_kind::poll_writable, p.second.get());
    ASSERT_FALSE(b->submit(first));
    ASSERT_FALSE(b->submit(second));
    ASSERT_FALSE(b->submit(third));
    EXPECT_TRUE(b->cancel(first));
    bool cancelled = false;
    second.then = [&](test_op&) { cancelled = b->cancel(third); }; // one wait delivers both
    ASSERT_TRUE(drive(*b, [&] { return second.done; }));
    corio::test::settle(*b);
    EXPECT_FALSE(first.done);
    EXPECT_TRUE(cancelled || third.done);
    EXPECT_NE(cancelled, third.done) << "a cancelled poll completed anyway";
    EXPECT_FALSE(b->has_pending());
}

TEST_P(BackendPoll, APollSubmittedAfterItsEventWasReportedToNobodyStillCompletes) {
    // Edge-triggered readiness is reported once: a poll that arrives after the edge went by
    // must still learn that the fd is ready.
    auto b = make();
    auto p = corio::test::make_pipe();
    {
        test_op registers(io_kind::poll_readable, p.first.get());
        ASSERT_FALSE(start(*b, registers));
        ASSERT_TRUE(b->cancel(registers));
    }
    write_byte(p.second.get());
    b->wait(0ns); // reports the edge while nobody waits
    b->wait(0ns);
    test_op op(io_kind::poll_readable, p.first.get());
    start(*b, op);
    EXPECT_TRUE(drive(
        *b, [&] { return op.done; }, 2s));
    EXPECT_TRUE(op.m_result & POLLIN) << op.m_result;
}

TEST_P(BackendPoll, AnOperationCompletesOnlyOnce) {
    auto b = make();
    auto p = corio::test::make_pipe();
    test_op op(io_kind::poll_readable, p.first.get());
    start(*b, op);
    write_byte(p.second.get()); // stays readable: level-triggered readiness must not repeat it
    EXPECT_TRUE(drive(*b, [&] { return op.done; }));
    b->wait(0ns);
    b->wait(0ns);
    EXPECT_EQ(op.completions, 1);
}

TEST_P(BackendPoll, CancelBeforeCompletionReturnsTrueAndTheOperationNeverCompletes) {
    auto b = make();
    auto p = corio::test::make_pipe();
    test_op op(io_kind::poll_readable, p.first.get());
    ASSERT_FALSE(start(*b, op));
    EXPECT_TRUE(b->cancel(op));
    EXPECT_FALSE(b->has_pending());
    write_byte(p.second.get());
    corio::test::settle(*b);
    EXPECT_FALSE(op.done);
    EXPECT_FALSE(b->cancel(op)) << "already withdrawn";
}

TEST_P(BackendPoll, CancelAfterCompletionReturnsFalse) {
    auto b = make();
    auto p = corio::test::make_pipe();
    test_op op(io_kind::poll_writable, p.second.get());
    start(*b, op);
    ASSERT_TRUE(drive(*b, [&] { return op.done; }));
    EXPECT_FALSE(b->cancel(op));
}

TEST_P(BackendPoll, CancellingOneOfTwoReadersLeavesTheOther) {
    auto b = make();
    auto p = corio::test::make_pipe();
    test_op first(io_kind::poll_readable, p.first.get());
    test_op second(io_kind::poll_readable, p.first.get());
    start(*b, first);
    start(*b, second);
    EXPECT_TRUE(b->cancel(first));
    EXPECT_TRUE(b->has_pending());
    write_byte(p.second.get());
    EXPECT_TRUE(drive(*b, [&] { return second.done; }));
    EXPECT_FALSE(first.done);
    EXPECT_EQ(second.completions, 1);
}

TEST_P(BackendPoll, TwoReadersOnTheSameFdBothComplete) {
    auto b = make();
    auto p = corio::test::make_pipe();
    test_op first(io_kind::poll_readable, p.first.get());
    test_op second(io_kind::poll_readable, p.first.get());
    start(*b, first);
    start(*b, second);
    write_byte(p.second.get());
    EXPECT_TRUE(drive(*b, [&] { return first.done && second.done; }));
    EXPECT_FALSE(b->has_pending());
}

TEST_P(BackendPoll, AReaderAndAWriterOnOneSocketCompleteIndependently) {
    auto b = make();
    auto s = corio::test::make_socket_pair();
    test_op reader(io_kind::poll_readable, s.first.get());
    test_op writer(io_kind::poll_writable, s.first.get());
    EXPECT_FALSE(start(*b, reader));
    start(*b, writer);
    EXPECT_TRUE(drive(*b, [&] { return writer.done; }));
    b->wait(0ns);
    EXPECT_FALSE(reader.done);
    write_byte(s.second.get());
    EXPECT_TRUE(drive(*b, [&] { return reader.done; }));
    EXPECT_LE(writer.completions, 1);
    b->forget_fd(s.first.get());
}

TEST_P(BackendPoll, HangUpCompletesAReaderWithPollhup) {
    auto b = make();
    auto p = corio::test::make_pipe();
    test_op op(io_kind::poll_readable, p.first.get());
    start(*b, op);
    p.second.reset();
    EXPECT_TRUE(drive(*b, [&] { return op.done; }));
    EXPECT_TRUE(op.m_result & POLLHUP) << op.m_result;
}

TEST_P(BackendPoll, AReadyFdNobodyWaitsForDoesNotEndEveryWait) {
    auto b = make();
    auto p = corio::test::make_pipe();
    test_op op(io_kind::poll_readable, p.first.get());
    ASSERT_FALSE(start(*b, op)); // registers the fd
    ASSERT_TRUE(b->cancel(op));
    write_byte(p.second.get()); // readable from now on, and nobody reads
    b->wait(0ns);
    b->wait(0ns);
    const auto start_time = std::chrono::steady_clock::now();
    b->wait(30ms);
    EXPECT_GE(std::chrono::steady_clock::now() - start_time, 30ms) << "the wait spun on the fd";
}

TEST_P(BackendPoll, ForgetFdLetsTheFdNumberBeReusedForANewFile) {
    auto b = make();
    int reused = -1;
    {
        auto p = corio::test::make_pipe();
        test_op op(io_kind::poll_readable, p.first.get());
        start(*b, op);
        ASSERT_TRUE(b->cancel(op));
        reused = p.first.get();
        b->forget_fd(p.first.get());
    }
    // The lowest free numbers are handed out again, so the new pipe gets the old numbers.
    auto q = corio::test::make_pipe();
    ASSERT_EQ(q.first.get(), reused) << "the kernel did not reuse the fd number";
    test_op op(io_kind::poll_readable, q.first.get());
    EXPECT_FALSE(start(*b, op));
    b->wait(0ns);
    EXPECT_FALSE(op.done);
    write_byte(q.second.get());
    EXPECT_TRUE(drive(*b, [&] { return op.done; }));
}

TEST_P(BackendPoll, AnEventForAForgottenFdDoesNotCompleteAnOperationOnItsReusedNumber) {
    // Two fds become ready together, so one wait reports both. Whichever completes first
    // forgets and closes the other, and opens a new pipe that reuses its number: the event
    // still queued for the old file must not complete the new file's operation.
    auto b = make();
    corio::test::fd_pair pipes[2] = {corio::test::make_pipe(), corio::test::make_pipe()};
    test_op polls[2] = {test_op(io_kind::poll_readable, pipes[0].first.get()),
                        test_op(io_kind::poll_readable, pipes[1].first.get())};
    std::optional<corio::test::fd_pair> fresh;
    std::optional<test_op> on_fresh;
    bool reused = false;
    for (int i = 0; i < 2; ++i) {
        polls[i].then = [&, other = 1 - i](test_op&) {
            if (fresh)
                return;
            EXPECT_TRUE(b->cancel(polls[other]));
            const int number = pipes[other].first.get();
            b->forget_fd(number);
            pipes[other].first.reset();
            pipes[other].second.reset();
            fresh = corio::test::make_pipe();
            reused = fresh->first.get() == number;
            on_fresh.emplace(io_kind::poll_readable, fresh->first.get());
            EXPECT_FALSE(start(*b, *on_fresh)) << "the new pipe is empty";
        };
        ASSERT_FALSE(start(*b, polls[i]));
    }
    write_byte(pipes[0].second.get());
    write_byte(pipes[1].second.get());
    ASSERT_TRUE(drive(*b, [&] { return fresh.has_value(); }));
    ASSERT_TRUE(reused) << "the kernel did not reuse the fd number";
    corio::test::settle(*b);
    EXPECT_FALSE(on_fresh->done) << "a stale event completed the new file's poll";
    EXPECT_TRUE(b->cancel(*on_fresh));
    b->forget_fd(fresh->first.get());
}

TEST_P(BackendPoll, ForgetFdOfAnUnknownFdIsHarmless) {
    auto b = make();
    b->forget_fd(-1);
    b->forget_fd(100'000);
    auto p = corio::test::make_pipe();
    b->forget_fd(p.first.get()); // never submitted
    EXPECT_FALSE(b->has_pending());
}

TEST_P(BackendPoll, SubmitOnAnInvalidFdThrowsSystemError) {
    auto b = make();
    test_op negative(io_kind::poll_readable, -1);
    EXPECT_THROW(b->submit(negative), std::system_error);
    int closed = -1;
    {
        auto p = corio::test::make_pipe();
        closed = p.first.get();
    }
    test_op stale(io_kind::poll_readable, closed);
    EXPECT_THROW(b->submit(stale), std::system_error);
    EXPECT_FALSE(b->has_pending());
}

TEST_P(BackendPoll, TheWakerWakesAWaitWithoutTimeoutFromAnotherThread) {
    auto b = make();
    std::shared_ptr<corio::detail::waker> w = b->get_waker();
    std::thread other([w] {
        std::this_thread::sleep_for(20ms);
        w->wake();
    });
    const auto start_time = std::chrono::steady_clock::now();
    b->wait(std::nullopt); // returns only because of the wake-up
    const auto took = std::chrono::steady_clock::now() - start_time;
    other.join();
    EXPECT_LT(took, 10s);
    EXPECT_FALSE(b->has_pending());
}

TEST_P(BackendPoll, TheWakerFromAnotherThreadWakesAWaitWithOperationsPending) {
    auto b = make();
    auto p = corio::test::make_pipe();
    test_op op(io_kind::poll_readable, p.first.get());
    ASSERT_FALSE(start(*b, op));
    std::shared_ptr<corio::detail::waker> w = b->get_waker();
    std::thread other([w] {
        std::this_thread::sleep_for(20ms);
        w->wake();
    });
    b->wait(std::nullopt);
    other.join();
    EXPECT_FALSE(op.done) << "a wake-up is not a completion";
    EXPECT_TRUE(b->has_pending());
    EXPECT_TRUE(b->cancel(op));
}

TEST_P(BackendPoll, AWakeBeforeTheWaitIsNotLost) {
    auto b = make();
    b->get_waker()->wake();
    const auto start_time = std::chrono::steady_clock::now();
    b->wait(std::nullopt); // must return at once rather than block forever
    EXPECT_LT(std::chrono::steady_clock::now() - start_time, 10s);
}

TEST_P(BackendPoll, AConsumedWakeDoesNotWakeTheNextWait) {
    auto b = make();
    b->get_waker()->wake();
    b->get_waker()->wake(); // two wakes before one wait still count as one
    b->wait(std::nullopt);
    const auto start_time = std::chrono::steady_clock::now();
    b->wait(20ms);
    EXPECT_GE(std::chrono::steady_clock::now() - start_time, 20ms)
        << "a stale wake-up ended the wait";
}

TEST_P(BackendPoll, WaitWithATimeoutReturnsAfterAtLeastThatTime) {
    auto b = make();
    for (auto timeout : {std::chrono::nanoseconds(30ms), std::chrono::nanoseconds(1500us)}) {
        const auto start_time = std::chrono::steady_clock::now();
        b->wait(timeout);
        EXPECT_GE(std::chrono::steady_clock::now() - start_time, timeout);
    }
}

TEST_P(BackendPoll, AWaitWithATimeoutAndNothingReadyReturnsAfterAboutThatLong) {
    // A timer of the loop is a wait with a timeout while operations are pending: the wait must
    // end at about the deadline (the upper bound is generous: only a wait that ignores its
    // timeout fails it).
    auto b = make();
    auto p = corio::test::make_pipe();
    test_op op(io_kind::poll_readable, p.first.get());
    ASSERT_FALSE(start(*b, op));
    auto start_time = std::chrono::steady_clock::now();
    b->wait(50ms);
    auto took = std::chrono::steady_clock::now() - start_time;
    EXPECT_GE(took, 50ms);
    EXPECT_LT(took, 5s) << "the wait overslept its timeout";
    EXPECT_FALSE(op.done);
    start_time = std::chrono::steady_clock::now();
    b->wait(0ns);
    took = std::chrono::steady_clock::now() - start_time;
    EXPECT_LT(took, 1s) << "a zero timeout blocked";
    EXPECT_FALSE(op.done);
    EXPECT_TRUE(b->cancel(op));
}

TEST_P(BackendPoll, WakesFromAnotherThreadAreNeverLostOverManyRounds) {
    // Each round, the other thread posts a value and wakes the loop once, after the loop has
    // seen the previous one; a wait that sleeps through a wake-up times out instead.
    auto b = make();
    std::shared_ptr<corio::detail::waker> w = b->get_waker();
    constexpr int rounds = 300;
    std::atomic<int> posted{0};
    std::atomic<int> seen{0};
    std::thread other([&] {
        for (int i = 1; i <= rounds; ++i) {
            while (seen.load(std::memory_order_acquire) < i - 1)
                std::this_thread::yield();
            posted.store(i, std::memory_order_release);
            w->wake();
        }
    });
    int slept_through = 0;
    for (int i = 1; i <= rounds; ++i) {
        while (posted.load(std::memory_order_acquire) < i) {
            const auto start_time = std::chrono::steady_clock::now();
            b->wait(2s);
            if (std::chrono::steady_clock::now() - start_time >= 2s)
                ++slept_through;
        }
        seen.store(i, std::memory_order_release);
    }
    other.join();
    EXPECT_EQ(slept_through, 0) << "wake-ups were lost";
}

TEST_P(BackendPoll, CreatingAndDestroyingBackendsAndLoopsLeaksNoFd) {
    const std::size_t before = corio::test::open_fd_count();
    for (int i = 0; i < 100; ++i) {
        auto b = make();
        auto p = corio::test::make_pipe();
        test_op op(io_kind::poll_readable, p.first.get());
        start(*b, op);
        b->cancel(op);
        corio::loop_options options;
        options.backend = GetParam();
        corio::event_loop loop(options);
        auto h = loop.handle(); // outlives the loop: must not keep its fds alive
        loop.close();
    }
    EXPECT_EQ(corio::test::open_fd_count(), before);
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendPoll, corio::test::backend_names(),
                         corio::test::backend_param_name);

} // namespace
