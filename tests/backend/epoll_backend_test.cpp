// What is particular to the epoll backend: calls are tried at once when the fd is believed
// ready, and readiness bits spare the calls that could only return EAGAIN. The conformance
// suite (backend_*_test.cpp) checks what every backend does; this file checks how epoll does it.
// Also: make_backend's names and environment variables.

#include "backend/backend.hpp"
#include "backend/epoll/epoll_backend.hpp"
#include "backend_test_support.hpp"
#include "support/scoped_env.hpp"
#include "support/socket_helpers.hpp"
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
#include <string_view>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::detail::epoll_backend;
using corio::detail::epoll_mode;
using corio::test::drive;
using corio::test::io_kind;
using corio::test::set_buffer;
using corio::test::test_op;
using corio::test::unique_fd;

void write_all(int fd, std::string_view s) {
    ASSERT_EQ(::write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size()));
}

class EpollBackend : public testing::TestWithParam<const char*> {
  protected:
    std::unique_ptr<corio::detail::backend> make() const {
        return corio::detail::make_backend(GetParam());
    }
};

TEST_P(EpollBackend, CallsOnAFreshFdAreTriedAtOnce) {
    auto b = make();
    auto s = corio::test::make_socket_pair();
    write_all(s.second.get(), "hello");
    char buf[5];
    test_op recv(io_kind::recv, s.first.get());
    set_buffer(recv, buf, sizeof buf);
    EXPECT_TRUE(b->submit(recv));
    EXPECT_EQ(recv.m_result, 5);
    char msg[] = "hi";
    test_op send(io_kind::send, s.first.get());
    set_buffer(send, msg, 2);
    EXPECT_TRUE(b->submit(send));
    EXPECT_EQ(send.m_result, 2);
    EXPECT_EQ(recv.completions + send.completions, 0) << "inline completions call nobody";
    EXPECT_FALSE(b->has_pending());
}

TEST_P(EpollBackend, AShortReadMakesTheNextRecvWaitWithoutTryingTheCall) {
    auto b = make();
    auto s = corio::test::make_socket_pair();
    write_all(s.second.get(), "12345");
    char buf[100];
    test_op first(io_kind::recv, s.first.get());
    set_buffer(first, buf, sizeof buf);
    ASSERT_TRUE(b->submit(first));
    ASSERT_EQ(first.m_result, 5) << "a short read: the stream is drained";
    write_all(s.second.get(), "678");
    // Data is there, but the backend believes the socket empty and does not call recv: the
    // operation waits for the readiness event, which does come.
    test_op second(io_kind::recv, s.first.get());
    set_buffer(second, buf, sizeof buf);
    EXPECT_FALSE(b->submit(second));
    ASSERT_TRUE(drive(*b, [&] { return second.completions == 1; }));
    EXPECT_EQ(second.m_result, 3);
}

TEST_P(EpollBackend, AFullReadKeepsTryingAtOnceUntilTheCallWouldBlock) {
    auto b = make();
    auto s = corio::test::make_socket_pair();
    write_all(s.second.get(), "0123456789");
    char buf[5];
    for (int i = 0; i < 2; ++i) {
        test_op op(io_kind::recv, s.first.get());
        set_buffer(op, buf, sizeof buf);
        EXPECT_TRUE(b->submit(op)) << i;
        EXPECT_EQ(op.m_result, 5);
    }
    test_op empty(io_kind::recv, s.first.get());
    set_buffer(empty, buf, sizeof buf);
    EXPECT_FALSE(b->submit(empty));
    EXPECT_TRUE(b->cancel(empty));
}

TEST_P(EpollBackend, AShortDatagramDoesNotStopTheNextRecv) {
    auto b = make();
    const unique_fd a = corio::test::make_bound_socket(SOCK_DGRAM);
    const unique_fd c = corio::test::make_bound_socket(SOCK_DGRAM);
    const sockaddr_in to = corio::test::local_address(c.get());
    for (std::string_view s : {"one", "two"})
        ASSERT_EQ(::sendto(a.get(), s.data(), s.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                           sizeof to),
                  3);
    pollfd p{c.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1);
    char buf[64];
    for (int i = 0; i < 2; ++i) {
        test_op op(io_kind::recv, c.get());
        set_buffer(op, buf, sizeof buf);
        EXPECT_TRUE(b->submit(op)) << "datagram " << i;
        EXPECT_EQ(op.m_result, 3);
    }
}

TEST_P(EpollBackend, AShortPeekDoesNotClearReadiness) {
    auto b = make();
    auto s = corio::test::make_socket_pair();
    write_all(s.second.get(), "abc");
    char buf[64];
    test_op peek(io_kind::recv, s.first.get());
    set_buffer(peek, buf, sizeof buf, MSG_PEEK);
    ASSERT_TRUE(b->submit(peek));
    EXPECT_EQ(peek.m_result, 3);
    test_op read(io_kind::recv, s.first.get());
    set_buffer(read, buf, sizeof buf);
    EXPECT_TRUE(b->submit(read)) << "the peeked data is still there";
    EXPECT_EQ(read.m_result, 3);
}

TEST_P(EpollBackend, AShortSendMakesTheNextSendWaitForTheEvent) {
    auto b = make();
    auto s = corio::test::make_socket_pair();
    corio::test::set_buffer_sizes(s.first.get(), 4096);
    std::vector<char> data(1 << 20, 'd');
    test_op first(io_kind::send, s.first.get());
    set_buffer(first, data.data(), data.size());
    ASSERT_TRUE(b->submit(first));
    ASSERT_GT(first.m_result, 0);
    ASSERT_LT(first.m_result, static_cast<std::int64_t>(data.size())) << "a short send";
    corio::test::drain(s.second.get()); // there is room again, unknown to the backend
    test_op second(io_kind::send, s.first.get());
    set_buffer(second, data.data(), 100);
    EXPECT_FALSE(b->submit(second)) << "the backend believes the socket full";
    ASSERT_TRUE(drive(*b, [&] { return second.completions == 1; }));
    EXPECT_EQ(second.m_result, 100);
}

TEST_P(EpollBackend, APollOnAFdKnownNotReadyWaitsForTheEventWithoutASyscall) {
    auto b = make();
    auto s = corio::test::make_socket_pair();
    write_all(s.second.get(), "12345");
    char buf[100];
    test_op recv(io_kind::recv, s.first.get());
    set_buffer(recv, buf, sizeof buf);
    ASSERT_TRUE(b->submit(recv)); // a short read: believed drained
    write_all(s.second.get(), "6");
    test_op poll(io_kind::poll_readable, s.first.get());
    EXPECT_FALSE(b->submit(poll));
    ASSERT_TRUE(drive(*b, [&] { return poll.completions == 1; }));
    EXPECT_TRUE(poll.m_result & POLLIN);
}

TEST_P(EpollBackend, ConnectToAListenerWaitsForTheHandshakeThenCompletes) {
    auto b = make();
    const unique_fd listener = corio::test::make_tcp_listener();
    sockaddr_in to = corio::test::local_address(listener.get());
    socklen_t to_len = sizeof to;
    const unique_fd client = corio::test::make_inet_socket(SOCK_STREAM);
    test_op op(io_kind::connect, client.get());
    op.m_addr = reinterpret_cast<sockaddr*>(&to);
    op.m_addrlen = &to_len;
    if (!b->submit(op)) { // a non-blocking TCP connect is in progress until the handshake
        ASSERT_TRUE(drive(*b, [&] { return op.completions == 1; }));
    }
    EXPECT_EQ(op.m_result, 0);
    b->forget_fd(client.get());
}

TEST_P(EpollBackend, TheModeIsTheOneTheNameAsksFor) {
    auto b = make();
    auto* e = dynamic_cast<epoll_backend*>(b.get());
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->mode(),
              std::string_view(GetParam()) == "epoll-lt" ? epoll_mode::level : epoll_mode::edge);
    EXPECT_STREQ(e->name(), "epoll");
}

INSTANTIATE_TEST_SUITE_P(Modes, EpollBackend, testing::Values("epoll-et", "epoll-lt"),
                         corio::test::backend_param_name);

using corio::test::scoped_env;

epoll_mode mode_of(const std::unique_ptr<corio::detail::backend>& b) {
    return dynamic_cast<const epoll_backend&>(*b).mode();
}

TEST(MakeBackend, AnUnknownNameThrowsInvalidArgumentNamingIt) {
    try {
        (void)corio::detail::make_backend("carrier-pigeon");
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("carrier-pigeon"), std::string::npos) << e.what();
    }
}

TEST(MakeBackend, AnEmptyNameFallsBackToTheDefaultWhenCorioBackendIsUnset) {
    {
        const scoped_env unset("CORIO_BACKEND", nullptr);
        EXPECT_STREQ(corio::detail::make_backend("")->name(), "epoll");
    }
    {
        const scoped_env env("CORIO_BACKEND", "epoll-lt");
        EXPECT_EQ(mode_of(corio::detail::make_backend("")), epoll_mode::level);
    }
    const scoped_env env("CORIO_BACKEND", "carrier-pigeon");
    EXPECT_THROW((void)corio::detail::make_backend(""), std::invalid_argument);
}

TEST(MakeBackend, PlainEpollIsEdgeTriggeredUnlessCorioEpollModeSaysLt) {
    {
        const scoped_env unset("CORIO_EPOLL_MODE", nullptr);
        EXPECT_EQ(mode_of(corio::detail::make_backend("epoll")), epoll_mode::edge);
    }
    {
        const scoped_env env("CORIO_EPOLL_MODE", "lt");
        EXPECT_EQ(mode_of(corio::detail::make_backend("epoll")), epoll_mode::level);
        EXPECT_EQ(mode_of(corio::detail::make_backend("epoll-et")), epoll_mode::edge)
            << "a suffixed name fixes the mode";
    }
    {
        const scoped_env env("CORIO_EPOLL_MODE", "et");
        EXPECT_EQ(mode_of(corio::detail::make_backend("epoll")), epoll_mode::edge);
        EXPECT_EQ(mode_of(corio::detail::make_backend("epoll-lt")), epoll_mode::level);
    }
    const scoped_env env("CORIO_EPOLL_MODE", "sideways");
    EXPECT_THROW((void)corio::detail::make_backend("epoll"), std::invalid_argument);
}

} // namespace
