#include "corio/core/create_task.hpp"
#include "corio/net/sock.hpp"
#include "corio/net/tcp_listener.hpp"
#include "corio/runtime/event_loop.hpp"

#include "net/net_helpers.hpp"
#include "support/loop_helpers.hpp"
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <string>
#include <system_error>
#include <vector>

namespace {

using corio::task;
using corio::net::socket_address;
using corio::test::bytes_of;
using corio::test::loopback_v4;
using corio::test::open_fd_count;
using corio::test::run_virtual;
using corio::test::text_of;

/// A raw non-blocking TCP socket the test owns.
int raw_tcp_socket() {
    return ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

TEST(Sock, RawFdCallsConnectAcceptSendAndReceive) {
    const std::size_t before = open_fd_count();
    auto r = run_virtual([]() -> task<std::string> {
        auto l = corio::net::tcp_listener::bind(loopback_v4());
        const int lfd = l.native_handle();
        const int cfd = raw_tcp_socket();
        const socket_address to(l.local_endpoint());
        auto connecting = corio::create_task([](int fd, socket_address to) -> task<void> {
            co_await corio::net::sock_connect(fd, to);
        }(cfd, to));
        auto [conn, peer] = co_await corio::net::sock_accept(lfd);
        co_await connecting;
        EXPECT_TRUE(peer.is_ip());
        co_await corio::net::sock_sendall(cfd, bytes_of("raw bytes"));
        std::array<std::byte, 4> small;
        const std::size_t n = co_await corio::net::sock_recv_into(conn.native_handle(), small);
        std::vector<std::byte> rest = co_await corio::net::sock_recv(conn.native_handle(), 64);
        ::close(cfd); // the caller's fd: the loop no longer refers to it
        std::vector<std::byte> eof = co_await corio::net::sock_recv(conn.native_handle(), 64);
        EXPECT_TRUE(eof.empty());
        co_return text_of(std::span(small).first(n)) + text_of(rest);
    }());
    EXPECT_EQ(r, "raw bytes");
    EXPECT_EQ(open_fd_count(), before);
}

TEST(Sock, ARawFdMayBeClosedAndItsNumberReusedBetweenCalls) {
    // The loop registers a raw fd only while a call waits on it: a new socket that gets the
    // same number works from scratch.
    auto ok = run_virtual([]() -> task<bool> {
        auto l = corio::net::tcp_listener::bind(loopback_v4());
        for (int i = 0; i < 3; ++i) {
            const int fd = raw_tcp_socket();
            const socket_address to(l.local_endpoint());
            co_await corio::net::sock_connect(fd, to);
            auto accepted = co_await corio::net::sock_accept(l.native_handle());
            // A recv that has to wait registers the fd.
            auto h = corio::create_task([](int fd) -> task<std::vector<std::byte>> {
                co_return co_await corio::net::sock_recv(fd, 16);
            }(fd));
            co_await corio::test::settle();
            co_await corio::net::sock_sendall(accepted.conn.native_handle(), bytes_of("n"));
            auto got = co_await std::move(h);
            if (text_of(got) != "n")
                co_return false;
            ::close(fd);
        }
        co_return true;
    }());
    EXPECT_TRUE(ok);
}

TEST(Sock, RawDatagramCallsCarryTheSenderAddress) {
    auto r = run_virtual([]() -> task<std::string> {
        const int a = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        const int b = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        const socket_address any(loopback_v4());
        ::bind(a, any.data(), any.size());
        ::bind(b, any.data(), any.size());
        socket_address a_addr;
        socklen_t len = socket_address::capacity();
        ::getsockname(a, a_addr.data(), &len);
        a_addr.resize(len);
        const std::size_t n = co_await corio::net::sock_sendto(b, bytes_of("dg"), a_addr);
        EXPECT_EQ(n, 2u);
        std::array<std::byte, 16> buf;
        auto d = co_await corio::net::sock_recvfrom_into(a, buf);
        socket_address b_addr;
        len = socket_address::capacity();
        ::getsockname(b, b_addr.data(), &len);
        b_addr.resize(len);
        EXPECT_EQ(d.from.to_endpoint(), b_addr.to_endpoint());
        ::close(a);
        ::close(b);
        co_return text_of(std::span(buf).first(d.size));
    }());
    EXPECT_EQ(r, "dg");
}

TEST(Sock, SendfileSendsAWholeFileToARawSocket) {
    char path[] = "/tmp/corio_sock_sendfile_XXXXXX";
    const int file = ::mkstemp(path);
    ASSERT_GE(file, 0);
    ::unlink(path);
    std::string content(1 << 20, 'q');
    content[12345] = 'Z';
    ASSERT_EQ(::write(file, content.data(), content.size()), ssize_t(content.size()));
    auto r = run_virtual([](int file) -> task<std::pair<std::size_t, std::string>> {
        auto p = co_await corio::test::make_tcp_pair();
        auto reader = corio::create_task([](corio::net::tcp_stream& s) -> task<std::string> {
            std::string out;
            std::array<std::byte, 1 << 16> buf;
            while (const std::size_t n = co_await s.recv(buf))
                out += text_of(std::span(buf).first(n));
            co_return out;
        }(p.server));
        const std::size_t n = co_await corio::net::sock_sendfile(p.client.native_handle(), file);
        p.client.close();
        std::string got = co_await std::move(reader);
        co_return std::pair(n, std::move(got));
    }(file));
    ::close(file);
    EXPECT_EQ(r.first, content.size());
    EXPECT_EQ(r.second, content);
}

TEST(Sock, WaitingForReadabilityReportsPollBits) {
    auto events = run_virtual([]() -> task<int> {
        auto p = co_await corio::test::make_tcp_pair();
        co_await p.client.send_all(bytes_of("!"));
        co_return co_await corio::net::wait_readable(p.server.native_handle());
    }());
    EXPECT_TRUE(events & 0x1 /* POLLIN */);
}

TEST(Sock, ErrorsNameTheCallAndTheAddress) {
    auto what = run_virtual([]() -> task<std::string> {
        std::uint16_t port = 0;
        {
            auto l = corio::net::tcp_listener::bind(loopback_v4());
            port = l.local_endpoint().port();
        }
        const int fd = raw_tcp_socket();
        const socket_address to(loopback_v4(port));
        std::string out;
        try {
            co_await corio::net::sock_connect(fd, to);
        } catch (const std::system_error& e) {
            out = e.what();
        }
        ::close(fd);
        co_return out;
    }());
    EXPECT_NE(what.find("connect to 127.0.0.1:"), std::string::npos) << what;
    EXPECT_NE(what.find("Connection refused"), std::string::npos) << what;
}

} // namespace
