// Cancelling every socket call while it is pending: the call is withdrawn before the frame that
// owns its buffer goes (ASan checks that the kernel never writes into a freed buffer), and what
// a cancellation loses is exactly what the documentation says.

#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/net/sock.hpp"
#include "corio/net/socket.hpp"
#include "corio/net/tcp_listener.hpp"
#include "corio/net/tcp_stream.hpp"
#include "corio/net/udp_socket.hpp"
#include "corio/net/unix_stream.hpp"
#include "corio/runtime/event_loop.hpp"

#include "net/net_helpers.hpp"
#include "support/cancel_helpers.hpp"
#include "support/loop_helpers.hpp"
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace {

using corio::cancelled_error;
using corio::task;
using corio::net::endpoint;
using corio::net::tcp_listener;
using corio::net::tcp_stream;
using corio::test::bytes_of;
using corio::test::cancel_while_pending;
using corio::test::fill_send_buffer;
using corio::test::loopback_v4;
using corio::test::make_tcp_pair;
using corio::test::open_fd_count;
using corio::test::run_virtual;
using corio::test::settle;
using corio::test::text_of;

task<std::string> recv_text(tcp_stream& s) {
    std::array<std::byte, 256> buf;
    const std::size_t n = co_await s.recv(buf);
    co_return text_of(std::span(buf).first(n));
}

TEST(NetCancellation, ACancelledRecvLosesNothing) {
    auto got = run_virtual([]() -> task<std::string> {
        auto p = co_await make_tcp_pair();
        const bool cancelled = co_await cancel_while_pending([](tcp_stream& s) -> task<void> {
            std::array<std::byte, 256> buf;
            (void)co_await s.recv(buf);
            ADD_FAILURE() << "recv completed";
        }(p.server));
        EXPECT_TRUE(cancelled);
        co_await p.client.send_all(bytes_of("after the cancel"));
        co_await settle(); // an operation left in the backend would read now, into freed memory
        co_return co_await recv_text(p.server);
    }());
    EXPECT_EQ(got, "after the cancel");
}

TEST(NetCancellation, ACancelledSendOnAFullSocketSentNothing) {
    struct result {
        std::size_t before = 0;
        std::size_t received = 0;
    };
    auto r = run_virtual([]() -> task<result> {
        auto p = co_await make_tcp_pair();
        p.client.set_option(SOL_SOCKET, SO_SNDBUF, 4096);
        result out;
        out.before = fill_send_buffer(p.client.native_handle());
        const bool cancelled = co_await cancel_while_pending([](tcp_stream& s) -> task<void> {
            std::vector<std::byte> big(1 << 16, std::byte{'s'});
            (void)co_await s.send(big);
            ADD_FAILURE() << "send completed";
        }(p.client));
        EXPECT_TRUE(cancelled);
        p.client.shutdown_send();
        std::array<std::byte, 4096> buf;
        for (;;) {
            const std::size_t n = co_await p.server.recv(buf);
            if (n == 0)
                break;
            out.received += n;
        }
        co_return out;
    }());
    EXPECT_GT(r.before, 0u);
    EXPECT_EQ(r.received, r.before);
}

TEST(NetCancellation, ACancelledSendAllReportsTheBytesItSent) {
    struct result {
        std::size_t sent = 0;
        std::size_t received = 0;
        bool cancelled = false;
    };
    auto r = run_virtual([]() -> task<result> {
        auto p = co_await make_tcp_pair();
        p.client.set_option(SOL_SOCKET, SO_SNDBUF, 4096);
        result out;
        auto data = std::make_shared<std::vector<std::byte>>(8 << 20, std::byte{'a'});
        auto h = corio::create_task(p.client.send_all(*data, &out.sent));
        co_await settle();
        EXPECT_FALSE(h.done());
        h.cancel();
        try {
            co_await h;
        } catch (const cancelled_error&) {
            out.cancelled = true;
        }
        data.reset(); // the buffer goes with the cancellation
        p.client.shutdown_send();
        std::array<std::byte, 1 << 16> buf;
        for (;;) {
            const std::size_t n = co_await p.server.recv(buf);
            if (n == 0)
                break;
            out.received += n;
        }
        co_return out;
    }());
    EXPECT_TRUE(r.cancelled);
    EXPECT_GT(r.sent, 0u);
    EXPECT_LT(r.sent, std::size_t(8 << 20));
    EXPECT_EQ(r.received, r.sent);
}

TEST(NetCancellation, ACancelledAcceptLeavesTheConnectionForTheNextAccept) {
    auto got = run_virtual([]() -> task<std::string> {
        auto l = tcp_listener::bind(loopback_v4());
        const bool cancelled = co_await cancel_while_pending([](tcp_listener& l) -> task<void> {
            (void)co_await l.accept();
            ADD_FAILURE() << "accept completed";
        }(l));
        EXPECT_TRUE(cancelled);
        auto c = corio::create_task(tcp_stream::connect(l.local_endpoint()));
        tcp_stream s = co_await l.accept();
        tcp_stream client = co_await std::move(c);
        co_await client.send_all(bytes_of("accepted"));
        co_return co_await recv_text(s);
    }());
    EXPECT_EQ(got, "accepted");
}

/// A listener whose accept queue is full: a further connect stays pending (its SYN is dropped).
struct full_listener {
    tcp_listener listener;
    std::vector<corio::net::socket> queued;
};

task<std::unique_ptr<full_listener>> make_full_listener() {
    auto f = std::make_unique<full_listener>();
    f->listener = tcp_listener::bind(loopback_v4(), {.backlog = 0});
    const corio::net::socket_address to(f->listener.local_endpoint());
    // Fill the queue: connections that complete (the queue holds backlog + 1 on Linux).
    for (int i = 0; i < 4; ++i) {
        auto s = corio::net::socket::open(AF_INET, SOCK_STREAM);
        (void)::connect(s.native_handle(), to.data(), to.size());
        f->queued.push_back(std::move(s));
    }
    co_await corio::test::settle();
    co_return f;
}

TEST(NetCancellation, ACancelledConnectIsAbandonedAndItsSocketClosed) {
    const std::size_t fds_before = open_fd_count();
    auto cancelled = run_virtual([]() -> task<bool> {
        auto f = co_await make_full_listener();
        const endpoint to = f->listener.local_endpoint();
        co_return co_await cancel_while_pending([](endpoint to) -> task<void> {
            (void)co_await tcp_stream::connect(to);
            ADD_FAILURE() << "connect completed";
        }(to));
    }());
    EXPECT_TRUE(cancelled);
    EXPECT_EQ(open_fd_count(), fds_before);
}

TEST(NetCancellation, ACancelledRecvFromLosesNoDatagram) {
    auto got = run_virtual([]() -> task<std::string> {
        auto a = corio::net::udp_socket::bind(loopback_v4());
        auto b = corio::net::udp_socket::bind(loopback_v4());
        const bool cancelled =
            co_await cancel_while_pending([](corio::net::udp_socket& s) -> task<void> {
                std::array<std::byte, 64> buf;
                (void)co_await s.recv_from(buf);
                ADD_FAILURE() << "recv_from completed";
            }(a));
        EXPECT_TRUE(cancelled);
        (void)co_await b.send_to(bytes_of("datagram"), a.local_endpoint());
        co_await settle();
        std::array<std::byte, 64> buf;
        auto d = co_await a.recv_from(buf);
        co_return text_of(std::span(buf).first(d.size));
    }());
    EXPECT_EQ(got, "datagram");
}

TEST(NetCancellation, ACancelledUnixStreamRecvLosesNothing) {
    auto got = run_virtual([]() -> task<std::string> {
        auto [a, b] = corio::net::unix_stream::pair();
        const bool cancelled =
            co_await cancel_while_pending([](corio::net::unix_stream& s) -> task<void> {
                std::array<std::byte, 64> buf;
                (void)co_await s.recv(buf);
                ADD_FAILURE() << "recv completed";
            }(b));
        EXPECT_TRUE(cancelled);
        co_await a.send_all(bytes_of("unix"));
        std::array<std::byte, 64> buf;
        const std::size_t n = co_await b.recv(buf);
        co_return text_of(std::span(buf).first(n));
    }());
    EXPECT_EQ(got, "unix");
}

TEST(NetCancellation, ACancelledRecvmsgLosesNothing) {
    auto got = run_virtual([]() -> task<std::string> {
        auto [a, b] = corio::net::unix_stream::pair();
        const bool cancelled =
            co_await cancel_while_pending([](corio::net::unix_stream& s) -> task<void> {
                std::array<std::byte, 64> buf;
                iovec iov{buf.data(), buf.size()};
                msghdr msg{};
                msg.msg_iov = &iov;
                msg.msg_iovlen = 1;
                (void)co_await s.sock().recvmsg(msg);
                ADD_FAILURE() << "recvmsg completed";
            }(b));
        EXPECT_TRUE(cancelled);
        co_await a.send_all(bytes_of("msg"));
        std::array<std::byte, 64> buf;
        iovec iov{buf.data(), buf.size()};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        const std::size_t n = co_await b.sock().recvmsg(msg);
        co_return text_of(std::span(buf).first(n));
    }());
    EXPECT_EQ(got, "msg");
}

TEST(NetCancellation, ACancelledWaitForReadabilityIsWithdrawn) {
    auto ok = run_virtual([]() -> task<bool> {
        auto p = co_await make_tcp_pair();
        const bool cancelled = co_await cancel_while_pending([](tcp_stream& s) -> task<void> {
            (void)co_await s.sock().wait_readable();
            ADD_FAILURE() << "wait completed";
        }(p.server));
        co_await p.client.send_all(bytes_of("x"));
        const int events = co_await p.server.sock().wait_readable();
        co_return cancelled && (events & 1 /* POLLIN */);
    }());
    EXPECT_TRUE(ok);
}

// --- raw-fd calls (sock_*) --------------------------------------------------------------------

TEST(NetCancellation, CancelledSockRecvAndRecvIntoLoseNothing) {
    auto got = run_virtual([]() -> task<std::string> {
        auto p = co_await make_tcp_pair();
        const int fd = p.server.native_handle();
        const bool recv_cancelled = co_await cancel_while_pending([](int fd) -> task<void> {
            (void)co_await corio::net::sock_recv(fd, 128);
            ADD_FAILURE() << "sock_recv completed";
        }(fd));
        EXPECT_TRUE(recv_cancelled);
        const bool recv_into_cancelled = co_await cancel_while_pending([](int fd) -> task<void> {
            std::array<std::byte, 128> buf;
            (void)co_await corio::net::sock_recv_into(fd, buf);
            ADD_FAILURE() << "sock_recv_into completed";
        }(fd));
        EXPECT_TRUE(recv_into_cancelled);
        co_await p.client.send_all(bytes_of("raw"));
        co_await settle();
        auto v = co_await corio::net::sock_recv(fd, 128);
        co_return text_of(v);
    }());
    EXPECT_EQ(got, "raw");
}

TEST(NetCancellation, ACancelledSockSendallReportsTheBytesItSent) {
    auto r = run_virtual([]() -> task<std::pair<std::size_t, std::size_t>> {
        auto p = co_await make_tcp_pair();
        p.client.set_option(SOL_SOCKET, SO_SNDBUF, 4096);
        std::size_t sent = 0;
        auto data = std::make_shared<std::vector<std::byte>>(8 << 20, std::byte{'r'});
        auto h =
            corio::create_task(corio::net::sock_sendall(p.client.native_handle(), *data, &sent));
        co_await settle();
        h.cancel();
        try {
            co_await h;
        } catch (const cancelled_error&) {
        }
        data.reset();
        p.client.shutdown_send();
        std::size_t received = 0;
        std::array<std::byte, 1 << 16> buf;
        while (const std::size_t n = co_await p.server.recv(buf))
            received += n;
        co_return std::pair(sent, received);
    }());
    EXPECT_GT(r.first, 0u);
    EXPECT_EQ(r.first, r.second);
}

TEST(NetCancellation, ACancelledSockAcceptLeavesTheConnectionQueued) {
    auto ok = run_virtual([]() -> task<bool> {
        auto l = tcp_listener::bind(loopback_v4());
        const int fd = l.native_handle();
        const bool cancelled = co_await cancel_while_pending([](int fd) -> task<void> {
            (void)co_await corio::net::sock_accept(fd);
            ADD_FAILURE() << "sock_accept completed";
        }(fd));
        auto c = corio::create_task(tcp_stream::connect(l.local_endpoint()));
        auto [conn, peer] = co_await corio::net::sock_accept(fd);
        tcp_stream client = co_await std::move(c);
        co_return cancelled&& conn.is_open() && peer.to_endpoint() == client.local_endpoint();
    }());
    EXPECT_TRUE(ok);
}

TEST(NetCancellation, ACancelledSockConnectLeavesNoRegistration) {
    auto ok = run_virtual([]() -> task<bool> {
        auto f = co_await make_full_listener();
        auto s = corio::net::socket::open(AF_INET, SOCK_STREAM);
        const corio::net::socket_address to(f->listener.local_endpoint());
        const bool cancelled =
            co_await cancel_while_pending([](int fd, corio::net::socket_address to) -> task<void> {
                co_await corio::net::sock_connect(fd, to);
                ADD_FAILURE() << "sock_connect completed";
            }(s.native_handle(), to));
        // The raw fd was forgotten by the loop: closing it and reusing its number is safe.
        s.close();
        auto p = co_await make_tcp_pair();
        co_await p.client.send_all(bytes_of("ok"));
        co_return cancelled&& co_await recv_text(p.server) == "ok";
    }());
    EXPECT_TRUE(ok);
}

TEST(NetCancellation, CancelledSockRecvfromAndRecvfromIntoLoseNoDatagram) {
    auto got = run_virtual([]() -> task<std::string> {
        auto a = corio::net::udp_socket::bind(loopback_v4());
        auto b = corio::net::udp_socket::bind(loopback_v4());
        const int fd = a.native_handle();
        const bool recvfrom_cancelled = co_await cancel_while_pending([](int fd) -> task<void> {
            (void)co_await corio::net::sock_recvfrom(fd, 64);
            ADD_FAILURE() << "sock_recvfrom completed";
        }(fd));
        EXPECT_TRUE(recvfrom_cancelled);
        const bool recvfrom_into_cancelled =
            co_await cancel_while_pending([](int fd) -> task<void> {
                std::array<std::byte, 64> buf;
                (void)co_await corio::net::sock_recvfrom_into(fd, buf);
                ADD_FAILURE() << "sock_recvfrom_into completed";
            }(fd));
        EXPECT_TRUE(recvfrom_into_cancelled);
        const corio::net::socket_address to(a.local_endpoint());
        (void)co_await corio::net::sock_sendto(b.native_handle(), bytes_of("dgram"), to);
        auto [data, from] = co_await corio::net::sock_recvfrom(fd, 64);
        EXPECT_EQ(from.to_endpoint(), b.local_endpoint());
        co_return text_of(data);
    }());
    EXPECT_EQ(got, "dgram");
}

TEST(NetCancellation, ACancelledSockSendfileReportsTheBytesItSent) {
    char path[] = "/tmp/corio_sendfile_cancel_XXXXXX";
    const int file = ::mkstemp(path);
    ASSERT_GE(file, 0);
    ::unlink(path);
    const std::string content(4 << 20, 'F');
    ASSERT_EQ(::write(file, content.data(), content.size()), ssize_t(content.size()));
    auto r = run_virtual([](int file) -> task<std::pair<std::size_t, std::size_t>> {
        auto p = co_await make_tcp_pair();
        p.client.set_option(SOL_SOCKET, SO_SNDBUF, 4096);
        std::size_t sent = 0;
        auto h = corio::create_task(
            corio::net::sock_sendfile(p.client.native_handle(), file, 0, std::nullopt, &sent));
        co_await settle();
        EXPECT_FALSE(h.done());
        h.cancel();
        try {
            co_await h;
        } catch (const cancelled_error&) {
        }
        p.client.shutdown_send();
        std::size_t received = 0;
        std::array<std::byte, 1 << 16> buf;
        while (const std::size_t n = co_await p.server.recv(buf))
            received += n;
        co_return std::pair(sent, received);
    }(file));
    ::close(file);
    EXPECT_GT(r.first, 0u);
    EXPECT_LT(r.first, std::size_t(4 << 20));
    EXPECT_EQ(r.first, r.second);
}

// --- other ways a pending call ends ------------------------------------------------------------

TEST(NetCancellation, ClosingASocketAbortsItsPendingCallsWithOperationCanceled) {
    auto r = run_virtual([]() -> task<std::pair<std::error_code, std::string>> {
        auto p = co_await make_tcp_pair();
        auto h =
            corio::create_task([](tcp_stream& s) -> task<std::pair<std::error_code, std::string>> {
                try {
                    std::array<std::byte, 16> buf;
                    (void)co_await s.recv(buf);
                } catch (const std::system_error& e) {
                    co_return std::pair(e.code(), std::string(e.what()));
                }
                co_return std::pair(std::error_code(), std::string());
            }(p.server));
        co_await settle();
        p.server.close();
        co_return co_await std::move(h);
    }());
    EXPECT_EQ(r.first, std::errc::operation_canceled);
    EXPECT_NE(r.second.find("closed while the call was pending"), std::string::npos) << r.second;
}

TEST(NetCancellation, ALoopClosingWithACallPendingWithdrawsItBeforeTheFrameGoes) {
    const std::size_t before = open_fd_count();
    {
        corio::event_loop loop(corio::test::virtual_clock());
        loop.set_exception_handler([](corio::scheduler&, const corio::exception_context&) {});
        auto [a, b] = corio::net::unix_stream::pair();
        {
            auto h = loop.create_task([](corio::net::unix_stream& s) -> task<void> {
                std::array<std::byte, 64> buf;
                (void)co_await s.recv(buf);
            }(b));
            loop.run_until_complete(settle());
            EXPECT_FALSE(h.done());
            loop.close(); // abandons the task; its frame goes with the handle, just below
        }
        // The withdrawn call must not read this into the freed frame.
        ASSERT_EQ(::send(a.native_handle(), "late", 4, MSG_NOSIGNAL), 4);
    }
    EXPECT_EQ(open_fd_count(), before);
}

TEST(NetCancellation, ACancellationPendingBeforeTheCallPreventsIt) {
    auto got = run_virtual([]() -> task<std::string> {
        auto p = co_await make_tcp_pair();
        co_await p.client.send_all(bytes_of("kept"));
        co_await settle();
        auto h = corio::create_task([](tcp_stream& s) -> task<void> {
            // Cancelled while queued: the recv below must not consume the data.
            std::array<std::byte, 64> buf;
            (void)co_await s.recv(buf);
            ADD_FAILURE() << "recv ran";
        }(p.server));
        h.cancel();
        try {
            co_await h;
        } catch (const cancelled_error&) {
        }
        co_return co_await recv_text(p.server);
    }());
    EXPECT_EQ(got, "kept");
}

TEST(NetCancellation, ASocketCannotBeUsedFromASecondLoop) {
    auto [a, b] = corio::net::unix_stream::pair();
    corio::event_loop first(corio::test::virtual_clock());
    first.run_until_complete(
        [](corio::net::unix_stream& a) -> task<void> { co_await a.send_all(bytes_of("1")); }(a));
    corio::event_loop second(corio::test::virtual_clock());
    EXPECT_THROW(second.run_until_complete([](corio::net::unix_stream& a) -> task<void> {
        co_await a.send_all(bytes_of("2"));
    }(a)),
                 std::logic_error);
}

} // namespace
