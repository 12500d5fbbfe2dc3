// event_loop::add_reader / add_writer (asyncio's callback-style readiness API).

#include "corio/core/task.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"

#include "support/loop_helpers.hpp"
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::event_loop;
using corio::task;

struct socket_pair {
    int a = -1, b = -1;
    socket_pair() {
        int fds[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
        a = fds[0];
        b = fds[1];
    }
    ~socket_pair() {
        ::close(a);
        ::close(b);
    }
};

TEST(AddReader, TheCallbackRunsOncePerReadinessUntilRemoved) {
    socket_pair p;
    event_loop loop(corio::test::virtual_clock());
    std::string got;
    int calls = 0;
    loop.add_reader(p.b, [&] {
        ++calls;
        char buf[16];
        const ssize_t n = ::read(p.b, buf, sizeof buf);
        if (n > 0)
            got.append(buf, static_cast<std::size_t>(n));
        if (got == "abc") {
            EXPECT_TRUE(loop.remove_reader(p.b));
        }
    });
    loop.run_until_complete([](int a) -> task<void> {
        for (const char* s : {"a", "b", "c"}) {
            EXPECT_EQ(::write(a, s, 1), 1);
            for (int i = 0; i < 3; ++i)
                co_await corio::sleep(1ms);
        }
        EXPECT_EQ(::write(a, "d", 1), 1); // after the removal: nobody reads it
        for (int i = 0; i < 3; ++i)
            co_await corio::sleep(1ms);
    }(p.a));
    EXPECT_EQ(got, "abc");
    EXPECT_EQ(calls, 3);
    EXPECT_FALSE(loop.remove_reader(p.b));
}

TEST(AddReader, ALevelStaysReportedWhileTheDataIsNotRead) {
    socket_pair p;
    // The real clock: a callback that never reads keeps the loop busy, and the virtual clock
    // only moves when the loop is idle.
    event_loop loop;
    int calls = 0;
    ASSERT_EQ(::write(p.a, "x", 1), 1);
    loop.add_reader(p.b, [&] { ++calls; }); // never reads
    loop.run_until_complete([]() -> task<void> {
        for (int i = 0; i < 5; ++i)
            co_await corio::sleep(1ms);
    }());
    EXPECT_GE(calls, 3);
    EXPECT_TRUE(loop.remove_reader(p.b));
}

TEST(AddReader, AddingAgainReplacesTheCallback) {
    socket_pair p;
    event_loop loop(corio::test::virtual_clock());
    std::vector<int> log;
    loop.add_reader(p.b, [&] { log.push_back(1); });
    loop.add_reader(p.b, [&] {
        log.push_back(2);
        loop.remove_reader(p.b);
    });
    ASSERT_EQ(::write(p.a, "x", 1), 1);
    loop.run_until_complete([]() -> task<void> {
        for (int i = 0; i < 4; ++i)
            co_await corio::sleep(1ms);
    }());
    EXPECT_EQ(log, std::vector<int>{2});
}

TEST(AddReader, AWriterIsCalledWhileTheSocketHasRoom) {
    socket_pair p;
    event_loop loop(corio::test::virtual_clock());
    int calls = 0;
    loop.add_writer(p.a, [&] {
        if (++calls == 2)
            loop.remove_writer(p.a);
    });
    loop.run_until_complete([]() -> task<void> {
        for (int i = 0; i < 5; ++i)
            co_await corio::sleep(1ms);
    }());
    EXPECT_EQ(calls, 2);
}

TEST(AddReader, AReaderAndAWriterOnOneFdAreIndependent) {
    socket_pair p;
    event_loop loop(corio::test::virtual_clock());
    int reads = 0, writes = 0;
    loop.add_writer(p.b, [&] {
        ++writes;
        loop.remove_writer(p.b);
    });
    loop.add_reader(p.b, [&] {
        ++reads;
        char c;
        (void)::read(p.b, &c, 1);
        loop.remove_reader(p.b);
    });
    ASSERT_EQ(::write(p.a, "r", 1), 1);
    loop.run_until_complete([]() -> task<void> {
        for (int i = 0; i < 4; ++i)
            co_await corio::sleep(1ms);
    }());
    EXPECT_EQ(reads, 1);
    EXPECT_EQ(writes, 1);
}

TEST(AddReader, AnExceptionFromTheCallbackGoesToTheHandlerAndTheWatchGoesOn) {
    socket_pair p;
    event_loop loop(corio::test::virtual_clock());
    std::vector<std::string> reported;
    loop.set_exception_handler([&](corio::scheduler&, const corio::exception_context& c) {
        try {
            std::rethrow_exception(c.exception);
        } catch (const std::exception& e) {
            reported.push_back(e.what());
        }
    });
    int calls = 0;
    ASSERT_EQ(::write(p.a, "x", 1), 1);
    loop.add_reader(p.b, [&] {
        if (++calls == 1)
            throw std::runtime_error("boom");
        loop.remove_reader(p.b);
    });
    loop.run_until_complete([]() -> task<void> {
        for (int i = 0; i < 4; ++i)
            co_await corio::sleep(1ms);
    }());
    EXPECT_EQ(calls, 2);
    EXPECT_EQ(reported, std::vector<std::string>{"boom"});
}

TEST(AddReader, AnInvalidFdIsRejected) {
    event_loop loop(corio::test::virtual_clock());
    EXPECT_THROW(loop.add_reader(-1, [] {}), std::system_error);
    EXPECT_FALSE(loop.remove_reader(-1));
}

TEST(AddReader, AClosedLoopRefusesNewWatchesAndDropsTheOldOnes) {
    socket_pair p;
    int calls = 0;
    {
        event_loop loop(corio::test::virtual_clock());
        ASSERT_EQ(::write(p.a, "x", 1), 1);
        loop.add_reader(p.b, [&] { ++calls; });
        loop.close();
        EXPECT_THROW(loop.add_reader(p.b, [] {}), std::logic_error);
    }
    EXPECT_EQ(calls, 0);
}

} // namespace
