// What is particular to the poll backend: its interest set holds exactly the fds that have
// queued operations, slots are moved when an fd leaves it, and an fd closed behind its back
// (POLLNVAL) completes its waiters instead of being reported forever. The conformance suite
// (backend_*_test.cpp) checks what every backend does; this file checks how poll does it.

#include "backend/backend.hpp"
#include "backend/poll/poll_backend.hpp"
#include "backend_test_support.hpp"
#include "support/socket_helpers.hpp"
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <string_view>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::detail::poll_backend;
using corio::test::drive;
using corio::test::io_kind;
using corio::test::set_buffer;
using corio::test::settle;
using corio::test::start;
using corio::test::test_op;

void write_all(int fd, std::string_view s) {
    ASSERT_EQ(::write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size()));
}

TEST(PollBackend, MakeBackendCreatesItByName) {
    const std::unique_ptr<corio::detail::backend> b = corio::detail::make_backend("poll");
    ASSERT_NE(dynamic_cast<poll_backend*>(b.get()), nullptr);
    EXPECT_STREQ(b->name(), "poll");
}

TEST(PollBackend, TheInterestSetHoldsOnlyTheFdsWithQueuedOperations) {
    poll_backend b;
    EXPECT_EQ(b.watched_fd_count(), 0u);
    auto s = corio::test::make_socket_pair();
    auto t = corio::test::make_socket_pair();
    char buf[2][8];
    test_op first(io_kind::recv, s.first.get());
    test_op second(io_kind::recv, t.first.get());
    set_buffer(first, buf[0], sizeof buf[0]);
    set_buffer(second, buf[1], sizeof buf[1]);
    ASSERT_FALSE(start(b, first));
    EXPECT_EQ(b.watched_fd_count(), 1u);
    ASSERT_FALSE(start(b, second));
    EXPECT_EQ(b.watched_fd_count(), 2u);

    // A second operation on an fd already watched takes no slot of its own.
    test_op poll(io_kind::poll_readable, s.first.get());
    ASSERT_FALSE(start(b, poll));
    EXPECT_EQ(b.watched_fd_count(), 2u);
    EXPECT_TRUE(b.cancel(poll));
    EXPECT_EQ(b.watched_fd_count(), 2u) << "the recv still waits on it";

    write_all(s.second.get(), "x");
    ASSERT_TRUE(drive(b, [&] { return first.done; }));
    EXPECT_EQ(b.watched_fd_count(), 1u) << "a finished operation's fd left the set";
    EXPECT_TRUE(b.cancel(second));
    EXPECT_EQ(b.watched_fd_count(), 0u) << "a withdrawn operation's fd left the set";
}

TEST(PollBackend, ACallCompletedAtOnceTakesNoSlot) {
    poll_backend b;
    auto s = corio::test::make_socket_pair();
    write_all(s.second.get(), "ready");
    char buf[8];
    test_op op(io_kind::recv, s.first.get());
    set_buffer(op, buf, sizeof buf);
    EXPECT_TRUE(b.submit(op));
    EXPECT_EQ(op.m_result, 5);
    EXPECT_EQ(b.watched_fd_count(), 0u);
}

TEST(PollBackend, AnFdLeavingTheMiddleOfTheSetLeavesTheOthersWatched) {
    // The last slot fills the hole: the fd it belonged to must still be watched, in its new
    // slot, and a later removal must find it there.
    poll_backend b;
    std::vector<corio::test::fd_pair> pipes;
    std::vector<std::unique_ptr<test_op>> polls;
    for (int i = 0; i < 5; ++i) {
        pipes.push_back(corio::test::make_pipe());
        polls.push_back(
            std::make_unique<test_op>(io_kind::poll_readable, pipes.back().first.get()));
        ASSERT_FALSE(start(b, *polls.back()));
    }
    ASSERT_EQ(b.watched_fd_count(), 5u);
    EXPECT_TRUE(b.cancel(*polls[1]));
    EXPECT_EQ(b.watched_fd_count(), 4u);
    write_all(pipes[4].second.get(), "x"); // the fd whose slot moved
    ASSERT_TRUE(drive(b, [&] { return polls[4]->done; }));
    EXPECT_EQ(b.watched_fd_count(), 3u);
    EXPECT_TRUE(b.cancel(*polls[0]));
    EXPECT_TRUE(b.cancel(*polls[3]));
    EXPECT_EQ(b.watched_fd_count(), 1u);
    write_all(pipes[2].second.get(), "x");
    ASSERT_TRUE(drive(b, [&] { return polls[2]->done; }));
    EXPECT_EQ(b.watched_fd_count(), 0u);
    for (int i : {0, 1, 3})
        EXPECT_FALSE(polls[static_cast<std::size_t>(i)]->done) << i;
}

TEST(PollBackend, AWritableSocketWithOnlyAReaderQueuedDoesNotEndTheWait) {
    // Level-triggered: asking for POLLOUT on an fd with no writer would end every wait.
    poll_backend b;
    auto s = corio::test::make_socket_pair();
    char buf[8];
    test_op op(io_kind::recv, s.first.get());
    set_buffer(op, buf, sizeof buf);
    ASSERT_FALSE(start(b, op));
    const auto start_time = std::chrono::steady_clock::now();
    b.wait(30ms);
    EXPECT_GE(std::chrono::steady_clock::now() - start_time, 30ms) << "the wait spun on POLLOUT";
    EXPECT_FALSE(op.done);
    EXPECT_TRUE(b.cancel(op));
}

TEST(PollBackend, ACallIsTriedAtOnceEvenWhileAPollWaitsInItsDirection) {
    // Polls consume nothing, so a call need not wait behind them.
    poll_backend b;
    auto s = corio::test::make_socket_pair();
    test_op poll(io_kind::poll_readable, s.first.get());
    ASSERT_FALSE(start(b, poll));
    write_all(s.second.get(), "abc");
    char buf[8];
    test_op recv(io_kind::recv, s.first.get());
    set_buffer(recv, buf, sizeof buf);
    EXPECT_TRUE(b.submit(recv));
    EXPECT_EQ(recv.m_result, 3);
    EXPECT_FALSE(poll.done) << "polls never complete inside submit()";
    EXPECT_TRUE(b.cancel(poll));
}

TEST(PollBackend, AReusedFdNumberAfterForgetFdIsANewFileWithNoSlotLeft) {
    poll_backend b;
    int number = -1;
    {
        auto p = corio::test::make_pipe();
        number = p.first.get();
        test_op op(io_kind::poll_readable, p.first.get());
        ASSERT_FALSE(start(b, op));
        ASSERT_TRUE(b.cancel(op));
        b.forget_fd(number);
        EXPECT_EQ(b.watched_fd_count(), 0u);
    }
    auto q = corio::test::make_pipe();
    ASSERT_EQ(q.first.get(), number) << "the kernel did not reuse the fd number";
    char buf[8];
    test_op read(io_kind::read, q.first.get());
    set_buffer(read, buf, sizeof buf);
    ASSERT_FALSE(start(b, read));
    EXPECT_EQ(b.watched_fd_count(), 1u);
    write_all(q.second.get(), "new");
    ASSERT_TRUE(drive(b, [&] { return read.done; }));
    EXPECT_EQ(read.m_result, 3);
    EXPECT_EQ(b.watched_fd_count(), 0u);
}

TEST(PollBackend, AnFdClosedWithOperationsQueuedCompletesThemWithAnErrorRatherThanSpinning) {
    // Closing an fd without forget_fd() breaks the backend's contract, but must not hang or
    // spin the loop: poll(2) reports POLLNVAL, the polls complete with it and the calls with
    // their own EBADF, and the fd leaves the set.
    poll_backend b;
    auto s = corio::test::make_socket_pair();
    auto other = corio::test::make_pipe();
    const int fd = s.first.get();
    char buf[8];
    test_op recv(io_kind::recv, fd);
    set_buffer(recv, buf, sizeof buf);
    test_op poll(io_kind::poll_readable, fd);
    test_op bystander(io_kind::poll_readable, other.first.get());
    ASSERT_FALSE(start(b, recv));
    ASSERT_FALSE(start(b, poll));
    ASSERT_FALSE(start(b, bystander));
    ASSERT_EQ(b.watched_fd_count(), 2u);
    s.first.reset(); // closed behind the backend's back
    ASSERT_TRUE(drive(b, [&] { return recv.done && poll.done; }));
    EXPECT_EQ(recv.m_result, -EBADF);
    EXPECT_TRUE(poll.m_result & POLLNVAL) << poll.m_result;
    EXPECT_TRUE(poll.m_result & POLLERR) << poll.m_result;
    EXPECT_EQ(recv.completions, 1);
    EXPECT_EQ(poll.completions, 1);
    EXPECT_EQ(b.watched_fd_count(), 1u) << "the closed fd left the set";
    b.forget_fd(fd);
    const auto start_time = std::chrono::steady_clock::now();
    b.wait(30ms);
    EXPECT_GE(std::chrono::steady_clock::now() - start_time, 30ms) << "the closed fd spun";
    EXPECT_FALSE(bystander.done);
    write_all(other.second.get(), "x");
    ASSERT_TRUE(drive(b, [&] { return bystander.done; }));
    EXPECT_FALSE(b.has_pending());
}

TEST(PollBackend, ManyFdsComeAndGoWithoutLosingAnOperation) {
    // Grows the set past its first capacity and shrinks it in an order that moves slots about.
    poll_backend b;
    constexpr int count = 40;
    std::vector<corio::test::fd_pair> pairs;
    std::vector<std::unique_ptr<test_op>> ops;
    char buf[count][4];
    for (int i = 0; i < count; ++i) {
        pairs.push_back(corio::test::make_socket_pair());
        ops.push_back(std::make_unique<test_op>(io_kind::recv, pairs.back().first.get()));
        set_buffer(*ops.back(), buf[i], sizeof buf[i]);
        ASSERT_FALSE(start(b, *ops.back()));
    }
    EXPECT_EQ(b.watched_fd_count(), static_cast<std::size_t>(count));
    // Every third one is withdrawn, the others receive one byte, in a scrambled order.
    int completed = 0;
    for (int k = 0; k < count; ++k) {
        const int i = (k * 7) % count;
        if (i % 3 == 0) {
            EXPECT_TRUE(b.cancel(*ops[static_cast<std::size_t>(i)]));
            continue;
        }
        write_all(pairs[static_cast<std::size_t>(i)].second.get(), "z");
        ASSERT_TRUE(drive(b, [&] { return ops[static_cast<std::size_t>(i)]->done; })) << i;
        EXPECT_EQ(ops[static_cast<std::size_t>(i)]->m_result, 1);
        ++completed;
    }
    EXPECT_EQ(completed, count - (count + 2) / 3);
    EXPECT_EQ(b.watched_fd_count(), 0u);
    EXPECT_FALSE(b.has_pending());
    for (int i = 0; i < count; i += 3)
        EXPECT_FALSE(ops[static_cast<std::size_t>(i)]->done) << i;
}

} // namespace
