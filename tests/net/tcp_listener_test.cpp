#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/net/socket.hpp"
#include "corio/net/tcp_listener.hpp"
#include "corio/net/tcp_stream.hpp"
#include "corio/runtime/event_loop.hpp"

#include "net/net_helpers.hpp"
#include "support/loop_helpers.hpp"
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <exception>
#include <string>
#include <system_error>
#include <vector>

namespace {

using corio::cancelled_error;
using corio::task;
using corio::net::endpoint;
using corio::net::ip_address;
using corio::net::tcp_listener;
using corio::net::tcp_stream;
using corio::test::bytes_of;
using corio::test::loopback_v4;
using corio::test::open_fd_count;
using corio::test::run_virtual;
using corio::test::settle;

TEST(TcpListener, BindingToPortZeroPicksAFreePort) {
    auto l = tcp_listener::bind(loopback_v4());
    EXPECT_NE(l.local_endpoint().port(), 0);
    EXPECT_EQ(l.local_endpoint().address(), ip_address::v4_loopback());
}

TEST(TcpListener, BindingAPortInUseNamesTheAddress) {
    auto a = tcp_listener::bind(loopback_v4());
    const endpoint ep = a.local_endpoint();
    try {
        (void)tcp_listener::bind(ep, {.reuse_address = false});
        FAIL();
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::address_in_use);
        EXPECT_NE(std::string(e.what()).find("bind to " + ep.to_string()), std::string::npos)
            << e.what();
    }
}

TEST(TcpListener, ReusePortLetsTwoListenersShareAPort) {
    auto a = tcp_listener::bind(loopback_v4(), {.reuse_port = true});
    auto b = tcp_listener::bind(a.local_endpoint(), {.reuse_port = true});
    EXPECT_EQ(a.local_endpoint(), b.local_endpoint());
}

TEST(TcpListener, AnIpv6ListenerAcceptsOverIpv6Loopback) {
    auto peer = run_virtual([]() -> task<endpoint> {
        auto l = tcp_listener::bind(endpoint(ip_address::v6_loopback(), 0), {.v6_only = true});
        auto c = corio::create_task(tcp_stream::connect(l.local_endpoint()));
        tcp_stream s = co_await l.accept();
        (void)co_await std::move(c);
        co_return s.peer_endpoint();
    }());
    EXPECT_TRUE(peer.is_v6());
    EXPECT_TRUE(peer.address().is_loopback());
}

TEST(TcpListener, AcceptedStreamsKnowTheirPeer) {
    auto r = run_virtual([]() -> task<std::pair<endpoint, endpoint>> {
        auto l = tcp_listener::bind(loopback_v4());
        auto c = corio::create_task(tcp_stream::connect(l.local_endpoint()));
        tcp_stream s = co_await l.accept();
        tcp_stream client = co_await std::move(c);
        co_return std::pair(s.peer_endpoint(), client.local_endpoint());
    }());
    EXPECT_EQ(r.first, r.second);
}

// The lowest free fd number: the kernel gives out the lowest one, so a RLIMIT_NOFILE of this
// value leaves no fd to open.
int lowest_free_fd() {
    const int fd = ::dup(0);
    ::close(fd);
    return fd;
}

TEST(TcpListener, AcceptOutOfDescriptorsFailsWithEmfileAndTheConnectionWaitsForTheNextAccept) {
    struct result {
        std::error_code code;
        std::string what;
        bool exhaustion = false;
        std::string echoed;
    };
    auto r = run_virtual([]() -> task<result> {
        auto l = tcp_listener::bind(loopback_v4());
        auto c = corio::create_task(tcp_stream::connect(l.local_endpoint()));
        co_await settle();
        tcp_stream client = co_await std::move(c);
        result out;
        rlimit old{};
        ::getrlimit(RLIMIT_NOFILE, &old);
        rlimit low = old;
        low.rlim_cur = static_cast<rlim_t>(lowest_free_fd()); // no fd number left
        ::setrlimit(RLIMIT_NOFILE, &low);
        std::exception_ptr failure;
        try {
            (void)co_await l.accept();
        } catch (...) {
            failure = std::current_exception();
        }
        // Restore the limit before touching the exception: UBSan's vptr check probes memory
        // through a pipe, and with no fd left it reports every object as invalid.
        ::setrlimit(RLIMIT_NOFILE, &old);
        try {
            if (failure)
                std::rethrow_exception(failure);
        } catch (const std::system_error& e) {
            out.code = e.code();
            out.what = e.what();
            out.exhaustion = corio::net::is_accept_exhaustion(e.code());
        }
        // The listener survived, and the connection waited in the queue.
        tcp_stream s = co_await l.accept();
        co_await client.send_all(bytes_of("still here"));
        std::array<std::byte, 32> buf;
        const std::size_t n = co_await s.recv(buf);
        out.echoed = corio::test::text_of(std::span(buf).first(n));
        co_return out;
    }());
    EXPECT_EQ(r.code, std::errc::too_many_files_open) << r.what;
    EXPECT_TRUE(r.exhaustion);
    EXPECT_NE(r.what.find("accept on 127.0.0.1:"), std::string::npos) << r.what;
    EXPECT_NE(r.what.find("Too many open files"), std::string::npos) << r.what;
    EXPECT_EQ(r.echoed, "still here");
}

TEST(TcpListener, ClassifiesAcceptErrors) {
    using std::errc;
    for (errc e : {errc::too_many_files_open, errc::too_many_files_open_in_system,
                   errc::no_buffer_space, errc::not_enough_memory})
        EXPECT_TRUE(corio::net::is_accept_exhaustion(std::make_error_code(e)));
    for (errc e : {errc::connection_aborted, errc::protocol_error})
        EXPECT_TRUE(corio::net::is_accept_transient(std::make_error_code(e)));
    EXPECT_FALSE(corio::net::is_accept_exhaustion(std::make_error_code(errc::connection_aborted)));
    EXPECT_FALSE(corio::net::is_accept_transient(std::make_error_code(errc::bad_file_descriptor)));
}

TEST(TcpListener, ConnectingAcceptingAndClosingLeaksNoDescriptor) {
    const std::size_t before = open_fd_count();
    run_virtual([]() -> task<void> {
        auto l = tcp_listener::bind(loopback_v4());
        for (int i = 0; i < 20; ++i) {
            auto c = corio::create_task(tcp_stream::connect(l.local_endpoint()));
            tcp_stream s = co_await l.accept();
            tcp_stream client = co_await std::move(c);
            if (i % 2)
                client.abort();
        }
        // A failed connect closes its socket too.
        const endpoint gone = l.local_endpoint();
        l.close();
        try {
            (void)co_await tcp_stream::connect(gone);
        } catch (const std::system_error&) {
        }
    }());
    EXPECT_EQ(open_fd_count(), before);
}

TEST(TcpListener, AConnectionAcceptedForATaskThatNeverResumesIsClosed) {
    // The loop closes while the accepting task is woken but not yet resumed: the accepted fd
    // must go with the frame.
    const std::size_t before = open_fd_count();
    {
        corio::event_loop loop(corio::test::virtual_clock());
        loop.set_exception_handler([](corio::scheduler&, const corio::exception_context&) {});
        auto l = tcp_listener::bind(loopback_v4());
        auto client = corio::net::socket::open(AF_INET, SOCK_STREAM);
        auto h =
            loop.create_task([](tcp_listener& l) -> task<void> { (void)co_await l.accept(); }(l));
        loop.run_until_complete([](corio::net::socket& c, endpoint to) -> task<void> {
            co_await corio::sleep(std::chrono::seconds(0)); // the acceptor parks
            const corio::net::socket_address a(to);
            co_await c.connect(a);
            // Give the backend one poll to complete the accept, then stop before the
            // acceptor runs.
        }(client, l.local_endpoint()));
        loop.close();
    }
    EXPECT_EQ(open_fd_count(), before);
}

} // namespace
