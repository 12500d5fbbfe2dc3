// tls::start_tls: upgrading a plaintext connection (STARTTLS), its refusals, TLS over a Unix
// socket, and TLS inside TLS (a transport layered on a layered transport).

#include "corio/core/create_task.hpp"
#include "corio/io/open_connection.hpp"
#include "corio/io/server.hpp"
#include "corio/tls/server.hpp"
#include "corio/tls/session_info.hpp"
#include "corio/tls/start_tls.hpp"
#include "corio/tls/tls_error.hpp"

#include "support/loop_helpers.hpp"
#include "tls/tls_helpers.hpp"
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace {

using namespace corio::test::tls_test_names;

tls::start_tls_options as_localhost() {
    tls::start_tls_options o;
    o.server_hostname = "localhost";
    return o;
}

/// A STARTTLS server: "STARTTLS\n" -> "GO\n" (+ `extra`), then TLS and an echo.
auto starttls_server(std::string extra = {}) {
    return [extra](stream_reader r, stream_writer w) -> task<void> {
        streams s{std::move(r), std::move(w)};
        if (co_await s.reader.readline() != "STARTTLS\n")
            co_return;
        co_await s.writer.write("GO\n" + extra);
        task<streams> up = tls::start_tls(std::move(s), server_context());
        s = co_await up;
        co_await corio::test::echo_lines(std::move(s.reader), std::move(s.writer));
    };
}

TEST(TlsStartTls, UpgradesAfterAPlaintextExchange) {
    auto got = run_virtual([]() -> task<std::string> {
        auto handler = starttls_server();
        server srv = co_await corio::start_server(handler, "127.0.0.1", 0);
        streams s = co_await corio::open_connection("127.0.0.1", port_of(srv));
        co_await s.writer.write("STARTTLS\n");
        EXPECT_EQ(co_await s.reader.readline(), "GO\n");
        EXPECT_TRUE(s.writer.can_write_eof());
        task<streams> up = tls::start_tls(std::move(s), client_context(), as_localhost());
        s = co_await up;
        EXPECT_FALSE(s.writer.can_write_eof());
        EXPECT_EQ(tls::get_session_info(s).server_name, "localhost");
        co_await s.writer.write("over tls\n");
        std::string line = co_await s.reader.readline();
        s.writer.close();
        co_await s.writer.wait_closed();
        co_await corio::test::shut(srv);
        co_return line;
    }());
    EXPECT_EQ(got, "over tls\n");
}

TEST(TlsStartTls, RefusesWithUnreadBytesAndLeavesTheStreamUsable) {
    auto got = run_virtual([]() -> task<std::string> {
        // The server sends its greeting and more in one go, before any upgrade.
        auto handler = [](stream_reader r, stream_writer w) -> task<void> {
            co_await w.write("GO\nsurplus\n");
            (void)co_await r.read();
        };
        server srv = co_await corio::start_server(handler, "127.0.0.1", 0);
        streams s = co_await corio::open_connection("127.0.0.1", port_of(srv));
        EXPECT_EQ(co_await s.reader.readline(), "GO\n"); // "surplus\n" stays buffered
        std::string what;
        try {
            task<streams> up = tls::start_tls(s, client_context(), as_localhost());
            (void)co_await up;
        } catch (const std::logic_error& e) {
            what = e.what();
        }
        // Untouched: the plaintext stream still reads.
        what += " | " + co_await s.reader.readline();
        co_await corio::test::shut(srv);
        co_return what;
    }());
    EXPECT_EQ(got, "corio: cannot layer a transport (start_tls): bytes are still buffered in the "
                   "reader | surplus\n");
}

TEST(TlsStartTls, WorksOverAUnixSocket) {
    const std::string path = pki().dir + "/tls-unix.sock";
    auto got = run_virtual([&]() -> task<std::string> {
        server srv = co_await tls::start_unix_server(
            corio::test::echo_lines, corio::net::unix_endpoint(path), server_context());
        streams s = co_await corio::open_unix_connection(corio::net::unix_endpoint(path));
        task<streams> up = tls::start_tls(std::move(s), client_context(), as_localhost());
        s = co_await up;
        co_await s.writer.write("over a unix socket\n");
        std::string line = co_await s.reader.readline();
        s.writer.close();
        co_await s.writer.wait_closed();
        srv.close();
        co_await srv.wait_closed();
        co_return line;
    }());
    EXPECT_EQ(got, "over a unix socket\n");
}

TEST(TlsStartTls, NestsTlsInsideTls) {
    tls::session_info inner_server;
    auto got = run_virtual([&]() -> task<std::string> {
        // The outer TLS server upgrades once more on "INNER\n" (a TLS tunnel through TLS).
        auto handler = [&](stream_reader r, stream_writer w) -> task<void> {
            streams s{std::move(r), std::move(w)};
            if (co_await s.reader.readline() != "INNER\n")
                co_return;
            co_await s.writer.write("OK\n");
            task<streams> up = tls::start_tls(std::move(s), server_context());
            s = co_await up;
            inner_server = tls::get_session_info(s);
            co_await corio::test::echo_lines(std::move(s.reader), std::move(s.writer));
        };
        server srv = co_await tls::start_server(handler, "127.0.0.1", 0, server_context());
        streams s = co_await corio::test::connect_tls(port_of(srv));
        co_await s.writer.write("INNER\n");
        EXPECT_EQ(co_await s.reader.readline(), "OK\n");
        tls::start_tls_options o = as_localhost();
        o.alpn = std::vector<std::string>{"inner"};
        task<streams> up = tls::start_tls(std::move(s), client_context(), o);
        s = co_await up;
        const std::string big(50000, 'x'); // under the 64 KiB line limit
        co_await s.writer.write(big + "\n");
        std::string line = co_await s.reader.readline();
        s.writer.close();
        co_await s.writer.wait_closed();
        srv.close();
        co_await srv.wait_closed();
        co_return line.size() == big.size() + 1 ? "echoed" : "wrong size";
    }());
    EXPECT_EQ(got, "echoed");
    EXPECT_EQ(inner_server.version, "TLSv1.3");
}

TEST(TlsStartTls, AVerifyingClientNeedsAServerName) {
    auto got = run_virtual([]() -> task<std::string> {
        server srv = co_await corio::start_server(corio::test::echo_lines, "127.0.0.1", 0);
        streams s = co_await corio::open_connection("127.0.0.1", port_of(srv));
        std::string what;
        try {
            task<streams> up = tls::start_tls(s, client_context());
            (void)co_await up;
        } catch (const std::invalid_argument& e) {
            what = e.what();
        }
        co_await corio::test::shut(srv);
        co_return what;
    }());
    EXPECT_EQ(got, "corio::tls: checking the server's name needs a server_hostname");
}

} // namespace
