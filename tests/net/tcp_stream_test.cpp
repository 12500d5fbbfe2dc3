#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/net/tcp_listener.hpp"
#include "corio/net/tcp_stream.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/sleep.hpp"

#include "net/net_helpers.hpp"
#include "support/loop_helpers.hpp"
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::cancelled_error;
using corio::task;
using corio::net::endpoint;
using corio::net::tcp_listener;
using corio::net::tcp_stream;
using corio::test::bytes_of;
using corio::test::loopback_v4;
using corio::test::make_tcp_pair;
using corio::test::run_virtual;
using corio::test::settle;
using corio::test::text_of;

task<std::string> recv_text(tcp_stream& s, std::size_t max) {
    std::vector<std::byte> buf(max);
    const std::size_t n = co_await s.recv(buf);
    co_return text_of(std::span(buf).first(n));
}

/// Everything until end of stream.
task<std::string> recv_all(tcp_stream& s) {
    std::string out;
    std::array<std::byte, 4096> buf;
    for (;;) {
        const std::size_t n = co_await s.recv(buf);
        if (n == 0)
            co_return out;
        out += text_of(std::span(buf).first(n));
    }
}

TEST(TcpStream, ConnectedStreamsExchangeBytesBothWays) {
    struct result {
        std::string at_server, at_client;
        endpoint client_peer, server_peer, client_local, server_local;
    };
    auto r = run_virtual([]() -> task<result> {
        auto p = co_await make_tcp_pair();
        co_await p.client.send_all(bytes_of("ping"));
        result out;
        out.at_server = co_await recv_text(p.server, 64);
        co_await p.server.send_all(bytes_of("pong!"));
        out.at_client = co_await recv_text(p.client, 64);
        out.client_peer = p.client.peer_endpoint();
        out.server_peer = p.server.peer_endpoint();
        out.client_local = p.client.local_endpoint();
        out.server_local = p.server.local_endpoint();
        co_return out;
    }());
    EXPECT_EQ(r.at_server, "ping");
    EXPECT_EQ(r.at_client, "pong!");
    EXPECT_EQ(r.client_peer, r.server_local);
    EXPECT_EQ(r.server_peer, r.client_local);
    EXPECT_TRUE(r.client_local.address().is_loopback());
}

TEST(TcpStream, RecvReturnsZeroAtEndOfStream) {
    auto got = run_virtual([]() -> task<std::size_t> {
        auto p = co_await make_tcp_pair();
        p.client.close();
        std::array<std::byte, 16> buf;
        co_return co_await p.server.recv(buf);
    }());
    EXPECT_EQ(got, 0u);
}

TEST(TcpStream, HalfCloseLetsThePeerReadEndOfStreamAndStillReply) {
    auto reply = run_virtual([]() -> task<std::string> {
        auto p = co_await make_tcp_pair();
        co_await p.client.send_all(bytes_of("request"));
        p.client.shutdown_send();
        const std::string req = co_await recv_all(p.server); // ends: the client half-closed
        co_await p.server.send_all(bytes_of("reply to " + req));
        p.server.close();
        co_return co_await recv_all(p.client);
    }());
    EXPECT_EQ(reply, "reply to request");
}

TEST(TcpStream, ALargeTransferMadeOfShortSendsArrivesIntact) {
    constexpr std::size_t total = 4 << 20;
    struct result {
        std::size_t received = 0;
        std::size_t short_sends = 0;
        bool intact = true;
    };
    auto r = run_virtual([]() -> task<result> {
        auto p = co_await make_tcp_pair();
        p.client.set_option(SOL_SOCKET, SO_SNDBUF, 8192);
        result out;
        auto reader = corio::create_task([](tcp_stream& s, result& out) -> task<void> {
            std::array<std::byte, 1000> buf;
            for (;;) {
                const std::size_t n = co_await s.recv(buf);
                if (n == 0)
                    co_return;
                for (std::size_t i = 0; i < n; ++i)
                    out.intact &= buf[i] == std::byte((out.received + i) % 251);
                out.received += n;
            }
        }(p.server, out));
        std::vector<std::byte> data(total);
        for (std::size_t i = 0; i < total; ++i)
            data[i] = std::byte(i % 251);
        std::size_t sent = 0;
        while (sent < total) {
            const std::size_t asked = total - sent;
            const std::size_t n = co_await p.client.send(std::span(data).subspan(sent));
            if (n < asked)
                ++out.short_sends;
            sent += n;
        }
        p.client.shutdown_send();
        co_await reader;
        co_return out;
    }());
    EXPECT_EQ(r.received, total);
    EXPECT_TRUE(r.intact);
    EXPECT_GT(r.short_sends, 0u);
}

TEST(TcpStream, SendAllSendsEverythingAndReportsTheCount) {
    constexpr std::size_t total = 4 << 20;
    auto r = run_virtual([]() -> task<std::pair<std::size_t, std::size_t>> {
        auto p = co_await make_tcp_pair();
        p.client.set_option(SOL_SOCKET, SO_SNDBUF, 8192);
        auto reader = corio::create_task(recv_all(p.server));
        std::vector<std::byte> data(total, std::byte{'x'});
        std::size_t sent = 0;
        co_await p.client.send_all(data, &sent);
        p.client.close();
        const std::string got = co_await reader;
        co_return std::pair(sent, got.size());
    }());
    EXPECT_EQ(r.first, total);
    EXPECT_EQ(r.second, total);
}

TEST(TcpStream, AResetByThePeerFailsRecvWithConnectionResetNamingThePeer) {
    auto r = run_virtual([]() -> task<std::pair<std::error_code, std::string>> {
        auto p = co_await make_tcp_pair();
        const endpoint server = p.server.local_endpoint();
        p.server.abort();
        try {
            std::array<std::byte, 16> buf;
            (void)co_await p.client.recv(buf);
        } catch (const std::system_error& e) {
            EXPECT_NE(std::string(e.what()).find("recv from " + server.to_string()),
                      std::string::npos)
                << e.what();
            // The peer is still known after the reset, when getpeername would fail.
            EXPECT_EQ(p.client.peer_endpoint(), server);
            co_return std::pair(e.code(), std::string(e.what()));
        }
        co_return std::pair(std::error_code(), std::string());
    }());
    EXPECT_EQ(r.first, std::errc::connection_reset) << r.second;
}

TEST(TcpStream, SendingToAClosedPeerFailsWithBrokenPipeOrResetAndNoSigpipe) {
    // The default disposition kills the process: this test would die if SIGPIPE fired.
    struct sigaction old {};
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &dfl, &old);
    auto code = run_virtual([]() -> task<std::error_code> {
        auto p = co_await make_tcp_pair();
        p.server.close();
        co_await settle();
        const std::string chunk(1024, 'z');
        try {
            for (int i = 0; i < 1000; ++i) {
                co_await p.client.send_all(bytes_of(chunk));
                co_await settle(1);
            }
        } catch (const std::system_error& e) {
            co_return e.code();
        }
        co_return std::error_code();
    }());
    sigaction(SIGPIPE, &old, nullptr);
    EXPECT_TRUE(code == std::errc::broken_pipe || code == std::errc::connection_reset)
        << code.message();
}

TEST(TcpStream, ARefusedConnectionNamesTheEndpointInTheError) {
    // A port nobody listens on: bind a listener to learn a free port, then close it.
    std::uint16_t port = 0;
    {
        auto l = tcp_listener::bind(loopback_v4());
        port = l.local_endpoint().port();
    }
    auto r = run_virtual([](std::uint16_t port) -> task<std::pair<std::error_code, std::string>> {
        try {
            (void)co_await tcp_stream::connect(loopback_v4(port));
        } catch (const std::system_error& e) {
            co_return std::pair(e.code(), std::string(e.what()));
        }
        co_return std::pair(std::error_code(), std::string());
    }(port));
    EXPECT_EQ(r.first, std::errc::connection_refused);
    EXPECT_EQ(r.second, "connect to 127.0.0.1:" + std::to_string(port) + ": " +
                            std::generic_category().message(ECONNREFUSED));
}

TEST(TcpStream, ConnectBindsToTheLocalEndpointWhenGiven) {
    auto r = run_virtual([]() -> task<std::pair<endpoint, endpoint>> {
        auto l = tcp_listener::bind(loopback_v4());
        auto local = endpoint(corio::net::ip_address::parse("127.0.0.2"), 0);
        auto connecting = corio::create_task(tcp_stream::connect(l.local_endpoint(), local));
        tcp_stream s = co_await l.accept();
        tcp_stream c = co_await std::move(connecting);
        co_return std::pair(c.local_endpoint(), s.peer_endpoint());
    }());
    EXPECT_EQ(r.first.address().to_string(), "127.0.0.2");
    EXPECT_EQ(r.first, r.second);
}

TEST(TcpStream, OptionsCanBeSetAndReadBack) {
    run_virtual([]() -> task<void> {
        auto p = co_await make_tcp_pair();
        p.client.set_nodelay(true);
        EXPECT_TRUE(p.client.nodelay());
        p.client.set_nodelay(false);
        EXPECT_FALSE(p.client.nodelay());
        p.client.set_keepalive(true);
        EXPECT_EQ(p.client.get_option<int>(SOL_SOCKET, SO_KEEPALIVE), 1);
        p.client.set_keepalive(30s, 5s, 3);
        EXPECT_EQ(p.client.get_option<int>(IPPROTO_TCP, TCP_KEEPCNT), 3);
        p.client.set_linger(2s);
        EXPECT_EQ(p.client.get_option<linger>(SOL_SOCKET, SO_LINGER).l_linger, 2);
        p.client.set_linger(std::nullopt);
        EXPECT_EQ(p.client.get_option<linger>(SOL_SOCKET, SO_LINGER).l_onoff, 0);
    }());
}

TEST(TcpStream, SetOptionErrorsNameTheOption) {
    tcp_stream s; // not open: every option fails with EBADF
    try {
        s.set_nodelay(true);
        FAIL();
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::bad_file_descriptor);
        EXPECT_NE(std::string(e.what()).find("setsockopt(TCP_NODELAY)"), std::string::npos);
    }
}

TEST(TcpStream, SendfileSendsARangeOfAFile) {
    char path[] = "/tmp/corio_sendfile_XXXXXX";
    const int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::unlink(path);
    std::string content;
    for (int i = 0; i < 300000; ++i)
        content += static_cast<char>('a' + i % 26);
    ASSERT_EQ(::write(fd, content.data(), content.size()), ssize_t(content.size()));
    auto r = run_virtual([](int fd) -> task<std::pair<std::size_t, std::string>> {
        auto p = co_await make_tcp_pair();
        p.client.set_option(SOL_SOCKET, SO_SNDBUF, 8192);
        auto reader = corio::create_task(recv_all(p.server));
        std::size_t progress = 0;
        const std::size_t n = co_await p.client.sendfile(fd, 10, 250000, &progress);
        EXPECT_EQ(progress, n);
        p.client.close();
        std::string got = co_await reader;
        co_return std::pair(n, std::move(got));
    }(fd));
    ::close(fd);
    EXPECT_EQ(r.first, 250000u);
    EXPECT_EQ(r.second, content.substr(10, 250000));
}

TEST(TcpStream, CallsOnAClosedStreamFailWithBadFileDescriptor) {
    auto code = run_virtual([]() -> task<std::error_code> {
        tcp_stream s;
        try {
            std::array<std::byte, 4> buf;
            (void)co_await s.recv(buf);
        } catch (const std::system_error& e) {
            co_return e.code();
        }
        co_return std::error_code();
    }());
    EXPECT_EQ(code, std::errc::bad_file_descriptor);
}

} // namespace
