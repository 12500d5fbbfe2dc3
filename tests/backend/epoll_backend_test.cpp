// The backend conformance suite: every backend must pass it. It is value-parameterized over
// backend names; add a name to the instantiation below when a backend is added.

#include "corio/runtime/event_loop.hpp"

#include "backend/backend.hpp"
#include "support/loop_helpers.hpp"
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::detail::io_kind;
using corio::detail::io_operation;

/// A pipe whose ends close themselves.
struct test_pipe {
    int read_end = -1;
    int write_end = -1;
    test_pipe() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
            throw std::runtime_error("pipe2 failed");
        read_end = fds[0];
        write_end = fds[1];
    }
    test_pipe(const test_pipe&) = delete;
    test_pipe& operator=(const test_pipe&) = delete;
    ~test_pipe() {
        close_read();
        close_write();
    }
    void close_read() {
        if (read_end >= 0)
            ::close(std::exchange(read_end, -1));
    }
    void close_write() {
        if (write_end >= 0)
            ::close(std::exchange(write_end, -1));
    }
    void write_byte() const {
        const char c = 'x';
        ASSERT_EQ(::write(write_end, &c, 1), 1);
    }
};

/// An operation that counts its completions.
struct test_op : io_operation {
    int completions = 0;
    test_op(io_kind kind, int fd) {
        m_kind = kind;
        m_fd = fd;
        m_complete = [](io_operation* op) noexcept { ++static_cast<test_op*>(op)->completions; };
    }
};

class BackendConformance : public testing::TestWithParam<const char*> {
  protected:
    std::unique_ptr<corio::detail::backend> make() const {
        return corio::detail::make_backend(GetParam());
    }
};

TEST_P(BackendConformance, ReportsItsName) {
    EXPECT_STREQ(make()->name(), GetParam());
}

TEST_P(BackendConformance, PollReadableOnAPipeCompletesAfterAWrite) {
    auto b = make();
    test_pipe p;
    test_op op(io_kind::poll_readable, p.read_end);
    b->submit(op);
    EXPECT_TRUE(b->has_pending());
    b->wait(0ns);
    EXPECT_EQ(op.completions, 0) << "nothing was written yet";
    p.write_byte();
    b->wait(5s);
    EXPECT_EQ(op.completions, 1);
    EXPECT_TRUE(op.m_result & POLLIN) << op.m_result;
    EXPECT_FALSE(b->has_pending());
}

TEST_P(BackendConformance, PollWritableOnAnEmptyPipeCompletesAtOnce) {
    auto b = make();
    test_pipe p;
    test_op op(io_kind::poll_writable, p.write_end);
    b->submit(op);
    EXPECT_EQ(op.completions, 0) << "completions are delivered by wait(), never by submit()";
    const auto start = std::chrono::steady_clock::now();
    b->wait(5s);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
    EXPECT_EQ(op.completions, 1);
    EXPECT_TRUE(op.m_result & POLLOUT) << op.m_result;
    EXPECT_FALSE(b->has_pending());
}

TEST_P(BackendConformance, AnOperationCompletesOnlyOnce) {
    auto b = make();
    test_pipe p;
    test_op op(io_kind::poll_readable, p.read_end);
    b->submit(op);
    p.write_byte(); // stays readable: level-triggered readiness must not complete it again
    b->wait(5s);
    b->wait(0ns);
    b->wait(0ns);
    EXPECT_EQ(op.completions, 1);
}

TEST_P(BackendConformance, CancelBeforeCompletionReturnsTrueAndTheOperationNeverCompletes) {
    auto b = make();
    test_pipe p;
    test_op op(io_kind::poll_readable, p.read_end);
    b->submit(op);
    EXPECT_TRUE(b->cancel(op));
    EXPECT_FALSE(b->has_pending());
    p.write_byte();
    b->wait(0ns);
    b->wait(10ms);
    EXPECT_EQ(op.completions, 0);
    EXPECT_FALSE(b->cancel(op)) << "already withdrawn";
}

TEST_P(BackendConformance, CancelAfterCompletionReturnsFalse) {
    auto b = make();
    test_pipe p;
    test_op op(io_kind::poll_writable, p.write_end);
    b->submit(op);
    b->wait(5s);
    ASSERT_EQ(op.completions, 1);
    EXPECT_FALSE(b->cancel(op));
}

TEST_P(BackendConformance, CancellingOneOfTwoReadersLeavesTheOther) {
    auto b = make();
    test_pipe p;
    test_op first(io_kind::poll_readable, p.read_end);
    test_op second(io_kind::poll_readable, p.read_end);
    b->submit(first);
    b->submit(second);
    EXPECT_TRUE(b->cancel(first));
    EXPECT_TRUE(b->has_pending());
    p.write_byte();
    b->wait(5s);
    EXPECT_EQ(first.completions, 0);
    EXPECT_EQ(second.completions, 1);
}

TEST_P(BackendConformance, TwoReadersOnTheSameFdBothComplete) {
    auto b = make();
    test_pipe p;
    test_op first(io_kind::poll_readable, p.read_end);
    test_op second(io_kind::poll_readable, p.read_end);
    b->submit(first);
    b->submit(second);
    p.write_byte();
    b->wait(5s);
    EXPECT_EQ(first.completions, 1);
    EXPECT_EQ(second.completions, 1);
    EXPECT_FALSE(b->has_pending());
}

TEST_P(BackendConformance, AReaderAndAWriterOnOneSocketCompleteIndependently) {
    auto b = make();
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    test_op reader(io_kind::poll_readable, sv[0]);
    test_op writer(io_kind::poll_writable, sv[0]);
    b->submit(reader);
    b->submit(writer);
    b->wait(5s);
    EXPECT_EQ(writer.completions, 1);
    EXPECT_EQ(reader.completions, 0);
    const char c = 'y';
    ASSERT_EQ(::write(sv[1], &c, 1), 1);
    b->wait(5s);
    EXPECT_EQ(reader.completions, 1);
    EXPECT_EQ(writer.completions, 1);
    b->forget_fd(sv[0]);
    ::close(sv[0]);
    ::close(sv[1]);
}

TEST_P(BackendConformance, HangUpCompletesAReaderWithPollhup) {
    auto b = make();
    test_pipe p;
    test_op op(io_kind::poll_readable, p.read_end);
    b->submit(op);
    p.close_write();
    b->wait(5s);
    EXPECT_EQ(op.completions, 1);
    EXPECT_TRUE(op.m_result & POLLHUP) << op.m_result;
}

TEST_P(BackendConformance, ForgetFdLetsTheFdNumberBeReusedForANewFile) {
    auto b = make();
    int reused = -1;
    {
        test_pipe p;
        test_op op(io_kind::poll_readable, p.read_end);
        b->submit(op);
        ASSERT_TRUE(b->cancel(op));
        reused = p.read_end;
        b->forget_fd(p.read_end);
    }
    // The lowest free numbers are handed out again, so the new pipe gets the old numbers.
    test_pipe q;
    ASSERT_EQ(q.read_end, reused) << "the kernel did not reuse the fd number";
    test_op op(io_kind::poll_readable, q.read_end);
    b->submit(op);
    b->wait(0ns);
    EXPECT_EQ(op.completions, 0);
    q.write_byte();
    b->wait(5s);
    EXPECT_EQ(op.completions, 1);
}

TEST_P(BackendConformance, ForgetFdOfAnUnknownFdIsHarmless) {
    auto b = make();
    b->forget_fd(-1);
    b->forget_fd(100'000);
    test_pipe p;
    b->forget_fd(p.read_end); // never submitted
    EXPECT_FALSE(b->has_pending());
}

TEST_P(BackendConformance, SubmitOnAnInvalidFdThrowsSystemError) {
    auto b = make();
    test_op negative(io_kind::poll_readable, -1);
    EXPECT_THROW(b->submit(negative), std::system_error);
    int closed = -1;
    {
        test_pipe p;
        closed = p.read_end;
    }
    test_op stale(io_kind::poll_readable, closed);
    EXPECT_THROW(b->submit(stale), std::system_error);
    EXPECT_FALSE(b->has_pending());
}

TEST_P(BackendConformance, TheWakerWakesAWaitWithoutTimeoutFromAnotherThread) {
    auto b = make();
    std::shared_ptr<corio::detail::waker> w = b->get_waker();
    std::thread other([w] {
        std::this_thread::sleep_for(20ms);
        w->wake();
    });
    const auto start = std::chrono::steady_clock::now();
    b->wait(std::nullopt); // returns only because of the wake-up
    const auto took = std::chrono::steady_clock::now() - start;
    other.join();
    EXPECT_LT(took, 10s);
    EXPECT_FALSE(b->has_pending());
}

TEST_P(BackendConformance, AWakeBeforeTheWaitIsNotLost) {
    auto b = make();
    b->get_waker()->wake();
    b->wait(std::nullopt); // must return at once rather than block forever
    SUCCEED();
}

TEST_P(BackendConformance, AConsumedWakeDoesNotWakeTheNextWait) {
    auto b = make();
    b->get_waker()->wake();
    b->get_waker()->wake(); // two wakes before one wait still count as one
    b->wait(std::nullopt);
    const auto start = std::chrono::steady_clock::now();
    b->wait(20ms);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms) << "a stale wake-up ended the wait";
}

TEST_P(BackendConformance, WaitWithATimeoutReturnsAfterAtLeastThatTime) {
    auto b = make();
    for (auto timeout : {std::chrono::nanoseconds(30ms), std::chrono::nanoseconds(1500us)}) {
        const auto start = std::chrono::steady_clock::now();
        b->wait(timeout);
        EXPECT_GE(std::chrono::steady_clock::now() - start, timeout);
    }
}

TEST_P(BackendConformance, CreatingAndDestroyingBackendsAndLoopsLeaksNoFd) {
    const std::size_t before = corio::test::open_fd_count();
    for (int i = 0; i < 100; ++i) {
        auto b = make();
        test_pipe p;
        test_op op(io_kind::poll_readable, p.read_end);
        b->submit(op);
        b->cancel(op);
        corio::loop_options options;
        options.backend = GetParam();
        corio::event_loop loop(options);
        auto h = loop.handle(); // outlives the loop: must not keep its fds alive
        loop.close();
    }
    EXPECT_EQ(corio::test::open_fd_count(), before);
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendConformance, testing::Values("epoll"),
                         [](const testing::TestParamInfo<const char*>& info) {
                             return std::string(info.param);
                         });

TEST(MakeBackend, AnUnknownNameThrowsInvalidArgumentNamingIt) {
    try {
        (void)corio::detail::make_backend("carrier-pigeon");
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("carrier-pigeon"), std::string::npos) << e.what();
    }
}

TEST(MakeBackend, AnEmptyNameFallsBackToTheDefaultWhenCorioBackendIsUnset) {
    const char* old = std::getenv("CORIO_BACKEND");
    const std::optional<std::string> saved = old ? std::optional<std::string>(old) : std::nullopt;
    ::unsetenv("CORIO_BACKEND");
    EXPECT_STREQ(corio::detail::make_backend("")->name(), "epoll");
    ::setenv("CORIO_BACKEND", "epoll", 1);
    EXPECT_STREQ(corio::detail::make_backend("")->name(), "epoll");
    ::setenv("CORIO_BACKEND", "carrier-pigeon", 1);
    EXPECT_THROW((void)corio::detail::make_backend(""), std::invalid_argument);
    if (saved)
        ::setenv("CORIO_BACKEND", saved->c_str(), 1);
    else
        ::unsetenv("CORIO_BACKEND");
}

} // namespace
