#include "corio/net/udp_socket.hpp"
#include "corio/runtime/event_loop.hpp"

#include "net/net_helpers.hpp"
#include "support/loop_helpers.hpp"
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <string>
#include <system_error>

namespace {

using corio::task;
using corio::net::endpoint;
using corio::net::ip_address;
using corio::net::udp_socket;
using corio::test::bytes_of;
using corio::test::loopback_v4;
using corio::test::run_virtual;
using corio::test::text_of;

TEST(UdpSocket, DatagramsGoToAndComeFromAnyAddress) {
    struct result {
        std::string text;
        endpoint from;
        endpoint sender;
        std::size_t sent = 0;
    };
    auto r = run_virtual([]() -> task<result> {
        auto a = udp_socket::bind(loopback_v4());
        auto b = udp_socket::bind(loopback_v4());
        result out;
        out.sent = co_await b.send_to(bytes_of("hello"), a.local_endpoint());
        std::array<std::byte, 64> buf;
        auto d = co_await a.recv_from(buf);
        out.text = text_of(std::span(buf).first(d.size));
        out.from = d.from;
        out.sender = b.local_endpoint();
        // Reply to the sender's address.
        (void)co_await a.send_to(bytes_of("hi back"), d.from);
        auto e = co_await b.recv_from(buf);
        EXPECT_EQ(text_of(std::span(buf).first(e.size)), "hi back");
        EXPECT_EQ(e.from, a.local_endpoint());
        co_return out;
    }());
    EXPECT_EQ(r.text, "hello");
    EXPECT_EQ(r.sent, 5u);
    EXPECT_EQ(r.from, r.sender);
}

TEST(UdpSocket, ADatagramLongerThanTheBufferIsReportedTruncated) {
    auto r = run_virtual([]() -> task<std::pair<std::size_t, bool>> {
        auto a = udp_socket::bind(loopback_v4());
        auto b = udp_socket::open(AF_INET);
        (void)co_await b.send_to(bytes_of("0123456789"), a.local_endpoint());
        std::array<std::byte, 4> buf;
        auto d = co_await a.recv_from(buf);
        co_return std::pair(d.size, d.truncated);
    }());
    EXPECT_EQ(r.first, 4u);
    EXPECT_TRUE(r.second);
}

TEST(UdpSocket, ConnectedModeSendsAndReceivesWithThePeerOnly) {
    auto r = run_virtual([]() -> task<std::string> {
        auto server = udp_socket::bind(loopback_v4());
        auto client = udp_socket::open_connected(server.local_endpoint());
        EXPECT_EQ(client.peer_endpoint(), server.local_endpoint());
        auto stranger = udp_socket::bind(loopback_v4());
        (void)co_await client.send(bytes_of("ping"));
        std::array<std::byte, 64> buf;
        auto d = co_await server.recv_from(buf);
        // A stranger's datagram is dropped by the kernel; the peer's reply arrives.
        (void)co_await stranger.send_to(bytes_of("noise"), client.local_endpoint());
        (void)co_await server.send_to(bytes_of("pong"), d.from);
        const std::size_t n = co_await client.recv(buf);
        co_return text_of(std::span(buf).first(n));
    }());
    EXPECT_EQ(r, "pong");
}

TEST(UdpSocket, ConnectedModeReportsARefusedPeerAsConnectionRefused) {
    // Nobody listens on the port: the ICMP port-unreachable fails the next call.
    std::uint16_t port = 0;
    {
        auto s = udp_socket::bind(loopback_v4());
        port = s.local_endpoint().port();
    }
    auto code = run_virtual([](std::uint16_t port) -> task<std::error_code> {
        auto c = udp_socket::open_connected(loopback_v4(port));
        try {
            (void)co_await c.send(bytes_of("anyone?"));
            std::array<std::byte, 16> buf;
            (void)co_await c.recv(buf);
        } catch (const std::system_error& e) {
            co_return e.code();
        }
        co_return std::error_code();
    }(port));
    EXPECT_EQ(code, std::errc::connection_refused);
}

TEST(UdpSocket, Ipv6DatagramsWork) {
    auto r = run_virtual([]() -> task<std::string> {
        auto a = udp_socket::bind(endpoint(ip_address::v6_loopback(), 0));
        auto b = udp_socket::bind(endpoint(ip_address::v6_loopback(), 0));
        (void)co_await b.send_to(bytes_of("six"), a.local_endpoint());
        std::array<std::byte, 16> buf;
        auto d = co_await a.recv_from(buf);
        EXPECT_TRUE(d.from.is_v6());
        co_return text_of(std::span(buf).first(d.size));
    }());
    EXPECT_EQ(r, "six");
}

TEST(UdpSocket, BroadcastAndMulticastOptionsCanBeSet) {
    auto s = udp_socket::bind(loopback_v4(), {.broadcast = true});
    EXPECT_EQ(s.get_option<int>(SOL_SOCKET, SO_BROADCAST), 1);
    s.set_broadcast(false);
    EXPECT_EQ(s.get_option<int>(SOL_SOCKET, SO_BROADCAST), 0);
    s.set_multicast_loop(false);
    EXPECT_EQ(s.get_option<int>(IPPROTO_IP, IP_MULTICAST_LOOP), 0);
    s.set_multicast_ttl(3);
    EXPECT_EQ(s.get_option<int>(IPPROTO_IP, IP_MULTICAST_TTL), 3);
    EXPECT_THROW(s.join_group(ip_address::parse("10.0.0.1")), std::invalid_argument);
}

TEST(UdpSocket, SendToAnAddressOfTheWrongFamilyNamesIt) {
    auto what = run_virtual([]() -> task<std::string> {
        auto s = udp_socket::bind(loopback_v4());
        try {
            (void)co_await s.send_to(bytes_of("x"), endpoint(ip_address::v6_loopback(), 9));
        } catch (const std::system_error& e) {
            co_return e.what();
        }
        co_return "";
    }());
    EXPECT_NE(what.find("sendto [::1]:9"), std::string::npos) << what;
}

} // namespace
