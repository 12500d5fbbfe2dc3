// tls::start_server: failed handshakes do not stop the server, a silent client is timed out,
// close_clients() closes with close_notify, and the server counts TLS connections.

#include "corio/core/timeout_error.hpp"
#include "corio/io/open_connection.hpp"
#include "corio/time/sleep.hpp"
#include "corio/tls/server.hpp"
#include "corio/tls/tls_error.hpp"

#include "support/loop_helpers.hpp"
#include "tls/tls_helpers.hpp"
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <string>
#include <vector>

namespace {

using namespace corio::test::tls_test_names;
using namespace std::chrono_literals;

std::string message_of(std::exception_ptr e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    }
}

TEST(TlsServer, AFailedHandshakeDoesNotStopTheServer) {
    std::vector<std::string> failures;
    const std::size_t fds = corio::test::open_fd_count();
    auto got = run_virtual([&]() -> task<std::string> {
        tls::server_options o;
        o.on_handshake_error = [&](std::exception_ptr e) { failures.push_back(message_of(e)); };
        server srv = co_await tls::start_server(corio::test::echo_lines, "127.0.0.1", 0,
                                                server_context(), o);
        // A client that does not trust the server's CA: it aborts the handshake.
        try {
            streams bad = co_await connect_tls(port_of(srv), tls::context::client());
        } catch (const tls::tls_error&) {
        }
        for (int i = 0; i < 100 && failures.empty(); ++i)
            co_await corio::sleep(10ms);
        // The next client is served.
        streams s = co_await connect_tls(port_of(srv));
        co_await s.writer.write("still serving\n");
        std::string line = co_await s.reader.readline();
        EXPECT_EQ(srv.client_count(), 1u);
        s.writer.close();
        co_await s.writer.wait_closed();
        srv.close();
        co_await srv.wait_closed();
        co_return line;
    }());
    EXPECT_EQ(got, "still serving\n");
    ASSERT_EQ(failures.size(), 1u);
    EXPECT_NE(failures[0].find("corio::tls: "), std::string::npos) << failures[0];
    EXPECT_NE(failures[0].find("unknown ca"), std::string::npos) << failures[0];
    EXPECT_EQ(corio::test::open_fd_count(), fds);
}

TEST(TlsServer, TimesOutAClientThatNeverShakesHands) {
    std::vector<std::string> failures;
    auto got = run_virtual([&]() -> task<std::string> {
        tls::server_options o;
        o.handshake_timeout = 10s;
        o.on_handshake_error = [&](std::exception_ptr e) { failures.push_back(message_of(e)); };
        server srv = co_await tls::start_server(corio::test::echo_lines, "127.0.0.1", 0,
                                                server_context(), o);
        // A plain TCP client that says nothing: the server gives up after 10 s.
        streams s = co_await corio::open_connection("127.0.0.1", port_of(srv));
        const auto start = corio::scheduler::current()->time();
        std::string rest = co_await s.reader.read();
        EXPECT_EQ(corio::scheduler::current()->time() - start, std::chrono::seconds(10));
        srv.close();
        co_await srv.wait_closed();
        co_return rest;
    }());
    EXPECT_EQ(got, ""); // closed without a word
    ASSERT_EQ(failures.size(), 1u);
    EXPECT_EQ(failures[0], "corio::tls: handshake timed out after 10 s");
}

TEST(TlsServer, CloseClientsSendsCloseNotify) {
    auto got = run_virtual([]() -> task<std::vector<std::string>> {
        server srv =
            co_await tls::start_server(corio::test::echo_lines, "127.0.0.1", 0, server_context());
        streams a = co_await connect_tls(port_of(srv));
        streams b = co_await connect_tls(port_of(srv));
        co_await a.writer.write("a\n");
        co_await b.writer.write("b\n");
        std::vector<std::string> out;
        out.push_back(co_await a.reader.readline());
        out.push_back(co_await b.reader.readline());
        EXPECT_EQ(srv.client_count(), 2u);
        srv.close();
        srv.close_clients();
        out.push_back(co_await a.reader.read()); // "" (close_notify), not a truncation error
        out.push_back(co_await b.reader.read());
        co_await srv.wait_closed();
        co_return out;
    }());
    EXPECT_EQ(got, (std::vector<std::string>{"a\n", "b\n", "", ""}));
}

TEST(TlsServer, RefusesAClientContext) {
    run_virtual([]() -> task<void> {
        task<server> starting =
            tls::start_server(corio::test::echo_lines, "127.0.0.1", 0, client_context());
        EXPECT_THROW((void)co_await starting, std::invalid_argument);
    }());
}

} // namespace
