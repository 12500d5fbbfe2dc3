#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/net/connect_error.hpp"
#include "corio/net/dns_error.hpp"
#include "corio/net/open_tcp_connection.hpp"
#include "corio/net/socket.hpp"
#include "corio/net/tcp_listener.hpp"
#include "corio/runtime/event_loop.hpp"

#include "net/net_helpers.hpp"
#include "support/loop_helpers.hpp"
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::scheduler;
using corio::task;
using corio::net::connect_error;
using corio::net::endpoint;
using corio::net::happy_eyeballs_options;
using corio::net::interleave_addresses;
using corio::net::ip_address;
using corio::net::open_tcp_connection;
using corio::net::tcp_listener;
using corio::net::tcp_stream;
using corio::test::bytes_of;
using corio::test::loopback_v4;
using corio::test::open_fd_count;
using corio::test::run_virtual;

endpoint ep(const char* text) {
    return endpoint::parse(text);
}

/// A port on 127.0.0.1 nobody listens on.
std::uint16_t refused_port() {
    auto l = tcp_listener::bind(loopback_v4());
    return l.local_endpoint().port();
}

/// A listener whose accept queue is full, so that a connect to it stays pending.
struct full_listener {
    tcp_listener listener;
    std::vector<corio::net::socket> queued;
    explicit full_listener(ip_address a) {
        listener = tcp_listener::bind(endpoint(a, 0), {.backlog = 0});
        const corio::net::socket_address to(listener.local_endpoint());
        for (int i = 0; i < 4; ++i) {
            auto s = corio::net::socket::open(AF_INET, SOCK_STREAM);
            (void)::connect(s.native_handle(), to.data(), to.size());
            queued.push_back(std::move(s));
        }
    }
};

TEST(OpenTcpConnection, InterleavesFamiliesStartingWithTheResolversFirst) {
    const std::vector<endpoint> in{ep("[::1]:1"), ep("[::2]:1"), ep("[::3]:1"), ep("10.0.0.1:1"),
                                   ep("10.0.0.2:1")};
    EXPECT_EQ(interleave_addresses(in, 1),
              (std::vector<endpoint>{ep("[::1]:1"), ep("10.0.0.1:1"), ep("[::2]:1"),
                                     ep("10.0.0.2:1"), ep("[::3]:1")}));
    EXPECT_EQ(interleave_addresses(in, 2),
              (std::vector<endpoint>{ep("[::1]:1"), ep("[::2]:1"), ep("10.0.0.1:1"), ep("[::3]:1"),
                                     ep("10.0.0.2:1")}));
    EXPECT_EQ(interleave_addresses(in, 0), in);
    const std::vector<endpoint> v4_first{ep("10.0.0.1:1"), ep("[::1]:1"), ep("10.0.0.2:1")};
    EXPECT_EQ(interleave_addresses(v4_first, 1),
              (std::vector<endpoint>{ep("10.0.0.1:1"), ep("[::1]:1"), ep("10.0.0.2:1")}));
}

TEST(OpenTcpConnection, WhenEveryAttemptFailsOneErrorListsThemAllInOrder) {
    const std::uint16_t p1 = refused_port();
    const std::uint16_t p2 = refused_port();
    const std::vector<endpoint> addrs{endpoint(ip_address::v4_loopback(), p1),
                                      endpoint(ip_address::v6_loopback(), p2),
                                      endpoint(ip_address::parse("127.0.0.2"), p2)};
    auto r =
        run_virtual([](std::vector<endpoint> addrs)
                        -> task<std::pair<std::vector<corio::net::connect_attempt>, std::string>> {
            try {
                happy_eyeballs_options o;
                o.interleave = 0;
                (void)co_await open_tcp_connection(addrs, o);
            } catch (const connect_error& e) {
                EXPECT_EQ(e.code(), std::errc::connection_refused);
                co_return std::pair(e.attempts(), std::string(e.what()));
            }
            co_return std::pair(std::vector<corio::net::connect_attempt>{}, std::string());
        }(addrs));
    ASSERT_EQ(r.first.size(), 3u) << r.second;
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(r.first[i].target, addrs[i]);
        EXPECT_EQ(r.first[i].error, std::errc::connection_refused);
    }
    const std::string refused = std::generic_category().message(ECONNREFUSED);
    EXPECT_EQ(r.second, "connect to " + addrs[0].to_string() +
                            " and 2 other addresses: all 3 attempts failed: " +
                            addrs[0].to_string() + ": " + refused + "; " + addrs[1].to_string() +
                            ": " + refused + "; " + addrs[2].to_string() + ": " + refused);
}

TEST(OpenTcpConnection, ASilentAddressIsRacedAfterTheAttemptDelay) {
    // The first address never answers (full accept queue); the second, on another loopback
    // address, works. On the virtual clock the second attempt starts exactly one delay later.
    const std::size_t fds_before = open_fd_count();
    struct result {
        scheduler::duration took{};
        endpoint peer;
        endpoint good;
    };
    auto r = run_virtual([]() -> task<result> {
        full_listener silent(ip_address::v4_loopback());
        auto good = tcp_listener::bind(endpoint(ip_address::parse("127.0.0.2"), 0));
        auto acceptor = corio::create_task(
            [](tcp_listener& l) -> task<tcp_stream> { co_return co_await l.accept(); }(good));
        const auto start = scheduler::current()->time();
        std::vector<endpoint> addrs{silent.listener.local_endpoint(), good.local_endpoint()};
        happy_eyeballs_options o;
        o.connect_attempt_delay = 300ms;
        tcp_stream s = co_await open_tcp_connection(std::move(addrs), o);
        result out;
        out.took = scheduler::current()->time() - start;
        out.peer = s.peer_endpoint();
        out.good = good.local_endpoint();
        tcp_stream server = co_await std::move(acceptor);
        co_await s.send_all(bytes_of("won"));
        co_return out;
    }());
    EXPECT_EQ(r.peer, r.good);
    EXPECT_EQ(r.took, 300ms);
    EXPECT_EQ(open_fd_count(), fds_before); // the losing attempt's socket was closed
}

TEST(OpenTcpConnection, AFailedAttemptStartsTheNextOneAtOnce) {
    // The real clock and a long delay: a correct implementation does not wait for it.
    const std::uint16_t dead = refused_port();
    corio::event_loop loop;
    const auto start = std::chrono::steady_clock::now();
    auto peer = loop.run_until_complete([](std::uint16_t dead) -> task<endpoint> {
        auto good = tcp_listener::bind(endpoint(ip_address::parse("127.0.0.2"), 0));
        auto acceptor = corio::create_task(
            [](tcp_listener& l) -> task<tcp_stream> { co_return co_await l.accept(); }(good));
        std::vector<endpoint> addrs{endpoint(ip_address::v4_loopback(), dead),
                                    good.local_endpoint()};
        happy_eyeballs_options o;
        o.connect_attempt_delay = 30s;
        tcp_stream s = co_await open_tcp_connection(std::move(addrs), o);
        (void)co_await std::move(acceptor);
        co_return s.peer_endpoint();
    }(dead));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
    EXPECT_EQ(peer.address().to_string(), "127.0.0.2");
}

TEST(OpenTcpConnection, WithoutADelayAttemptsRunOneAtATime) {
    const std::uint16_t dead = refused_port();
    auto peer = run_virtual([](std::uint16_t dead) -> task<endpoint> {
        auto good = tcp_listener::bind(loopback_v4());
        auto acceptor = corio::create_task(
            [](tcp_listener& l) -> task<tcp_stream> { co_return co_await l.accept(); }(good));
        std::vector<endpoint> addrs{endpoint(ip_address::v4_loopback(), dead),
                                    good.local_endpoint()};
        happy_eyeballs_options o;
        o.connect_attempt_delay = std::nullopt;
        tcp_stream s = co_await open_tcp_connection(std::move(addrs), o);
        (void)co_await std::move(acceptor);
        co_return s.peer_endpoint();
    }(dead));
    EXPECT_NE(peer.port(), dead);
}

TEST(OpenTcpConnection, CancellingItCancelsAndClosesEveryAttempt) {
    const std::size_t fds_before = open_fd_count();
    auto cancelled = run_virtual([]() -> task<bool> {
        full_listener a(ip_address::v4_loopback());
        full_listener b(ip_address::parse("127.0.0.2"));
        std::vector<endpoint> addrs{a.listener.local_endpoint(), b.listener.local_endpoint()};
        happy_eyeballs_options o;
        o.connect_attempt_delay = 100ms;
        auto h = corio::create_task(open_tcp_connection(std::move(addrs), o));
        co_await corio::sleep(250ms); // both attempts are pending by now
        EXPECT_FALSE(h.done());
        h.cancel();
        try {
            (void)co_await h;
        } catch (const corio::cancelled_error&) {
            co_return true;
        }
        co_return false;
    }());
    EXPECT_TRUE(cancelled);
    EXPECT_EQ(open_fd_count(), fds_before);
}

TEST(OpenTcpConnection, EveryAttemptIsBoundToTheLocalAddress) {
    auto r =
        run_virtual([]() -> task<std::pair<endpoint, std::vector<corio::net::connect_attempt>>> {
            auto good = tcp_listener::bind(loopback_v4());
            auto acceptor = corio::create_task(
                [](tcp_listener& l) -> task<tcp_stream> { co_return co_await l.accept(); }(good));
            happy_eyeballs_options o;
            o.local_address = endpoint(ip_address::parse("127.0.0.3"), 0);
            std::vector<endpoint> one{good.local_endpoint()};
            tcp_stream s = co_await open_tcp_connection(std::move(one), o);
            tcp_stream server = co_await std::move(acceptor);
            // An attempt to an address of the other family cannot use it.
            std::vector<corio::net::connect_attempt> attempts;
            try {
                std::vector<endpoint> v6{endpoint(ip_address::v6_loopback(), 1)};
                (void)co_await open_tcp_connection(std::move(v6), o);
            } catch (const connect_error& e) {
                attempts = e.attempts();
            }
            co_return std::pair(server.peer_endpoint(), attempts);
        }());
    EXPECT_EQ(r.first.address().to_string(), "127.0.0.3");
    ASSERT_EQ(r.second.size(), 1u);
    EXPECT_EQ(r.second[0].error, std::errc::address_family_not_supported);
}

TEST(OpenTcpConnection, AnEmptyAddressListIsAnError) {
    EXPECT_THROW(run_virtual(open_tcp_connection(std::vector<endpoint>{})), std::invalid_argument);
}

TEST(OpenTcpConnection, ALiteralHostConnectsWithoutAThread) {
    auto ok = run_virtual([]() -> task<bool> {
        auto good = tcp_listener::bind(loopback_v4());
        auto acceptor = corio::create_task(
            [](tcp_listener& l) -> task<tcp_stream> { co_return co_await l.accept(); }(good));
        tcp_stream s = co_await open_tcp_connection("127.0.0.1", good.local_endpoint().port());
        (void)co_await std::move(acceptor);
        co_return s.peer_endpoint() == good.local_endpoint();
    }());
    EXPECT_TRUE(ok);
}

TEST(OpenTcpConnectionThread, LocalhostIsResolvedAndConnected) {
    auto ok = run_virtual([]() -> task<bool> {
        auto good = tcp_listener::bind(loopback_v4());
        auto acceptor = corio::create_task(
            [](tcp_listener& l) -> task<tcp_stream> { co_return co_await l.accept(); }(good));
        happy_eyeballs_options o;
        o.family = AF_INET;
        tcp_stream s = co_await open_tcp_connection("localhost", good.local_endpoint().port(), o);
        (void)co_await std::move(acceptor);
        co_return s.peer_endpoint() == good.local_endpoint();
    }());
    EXPECT_TRUE(ok);
}

TEST(OpenTcpConnection, AnUnresolvableHostIsADnsError) {
    EXPECT_THROW(run_virtual(open_tcp_connection("nowhere.invalid", 80)), corio::net::dns_error);
}

} // namespace
