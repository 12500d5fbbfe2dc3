// tls::open_connection against a corio TLS server: data both ways, ALPN, SNI, verification
// failures, close_notify and truncation, the handshake timeout, cancellation, fd leaks.

#include "corio/core/cancelled_error.hpp"
#include "corio/core/create_task.hpp"
#include "corio/core/gather.hpp"
#include "corio/core/timeout_error.hpp"
#include "corio/io/open_connection.hpp"
#include "corio/io/server.hpp"
#include "corio/net/socket.hpp"
#include "corio/time/sleep.hpp"
#include "corio/tls/open_connection.hpp"
#include "corio/tls/server.hpp"
#include "corio/tls/session_info.hpp"
#include "corio/tls/tls_error.hpp"

#include "support/loop_helpers.hpp"
#include "tls/tls_helpers.hpp"
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace corio::test::tls_test_names;
using namespace std::chrono_literals;

/// Connects to a server with `server_cert` and returns the error the client gets ("" if none).
std::string client_error(const corio::test::pem_pair& server_cert,
                         tls::context client = client_context(), long* verify = nullptr) {
    return run_virtual([&]() -> task<std::string> {
        server srv = co_await tls::start_server(corio::test::echo_lines, "127.0.0.1", 0,
                                                server_context(server_cert));
        std::string error;
        try {
            streams s = co_await connect_tls(port_of(srv), client);
        } catch (const tls::tls_error& e) {
            if (verify)
                *verify = e.verify_result();
            error = e.what();
        }
        co_await corio::test::shut(srv);
        co_return error;
    }());
}

TEST(TlsOpenConnection, RoundTripsEightMegabytesBothWays) {
    constexpr std::size_t size = 8 * 1024 * 1024;
    const std::string up = corio::test::pattern(size, 1);
    const std::string down = corio::test::pattern(size, 2);
    std::uint64_t server_got = 0;
    auto client_got = run_virtual([&]() -> task<std::uint64_t> {
        auto handler = [&](stream_reader r, stream_writer w) -> task<void> {
            auto sending = [](stream_writer w, const std::string& data) -> task<void> {
                co_await w.write(data);
                co_await w.drain();
            };
            auto receiving = [](stream_reader r, std::size_t n) -> task<std::string> {
                co_return co_await r.readexactly(n);
            };
            task<void> a = sending(w, down);
            task<std::string> b = receiving(r, size);
            auto both = corio::gather(std::move(a), std::move(b));
            auto [none, got] = co_await both;
            (void)none;
            server_got = corio::test::checksum(got);
            w.close();
            co_await w.wait_closed();
        };
        server srv = co_await tls::start_server(handler, "127.0.0.1", 0, server_context());
        streams s = co_await connect_tls(port_of(srv));
        auto sending = [](stream_writer w, const std::string& data) -> task<void> {
            co_await w.write(data);
        };
        auto receiving = [](stream_reader r) -> task<std::string> { co_return co_await r.read(); };
        task<void> a = sending(s.writer, up);
        task<std::string> b = receiving(s.reader);
        auto both = corio::gather(std::move(a), std::move(b));
        auto [none, got] = co_await both;
        (void)none;
        co_return corio::test::checksum(got) + (got.size() == size ? 0 : 1);
    }());
    EXPECT_EQ(client_got, corio::test::checksum(down));
    EXPECT_EQ(server_got, corio::test::checksum(up));
}

TEST(TlsOpenConnection, NegotiatesAlpnAndReportsTheSession) {
    tls::session_info server_side;
    auto client_side = run_virtual([&]() -> task<tls::session_info> {
        tls::context sctx = server_context();
        sctx.set_alpn({"h2", "http/1.1"});
        auto handler = [&](stream_reader r, stream_writer w) -> task<void> {
            server_side = tls::get_session_info(w);
            co_await corio::test::echo_lines(std::move(r), std::move(w));
        };
        server srv = co_await tls::start_server(handler, "127.0.0.1", 0, sctx);
        tls::client_options o;
        o.alpn = std::vector<std::string>{"http/1.1"};
        streams s = co_await connect_tls(port_of(srv), client_context(), o);
        co_await s.writer.write("ping\n");
        EXPECT_EQ(co_await s.reader.readline(), "ping\n");
        co_await corio::test::shut(srv);
        co_return tls::get_session_info(s);
    }());
    EXPECT_EQ(client_side.alpn, "http/1.1");
    EXPECT_EQ(server_side.alpn, "http/1.1");
    EXPECT_EQ(client_side.version, "TLSv1.3");
    EXPECT_FALSE(client_side.cipher.empty());
    EXPECT_EQ(client_side.cipher, server_side.cipher);
    EXPECT_NE(client_side.peer_subject.find("CN=localhost"), std::string::npos)
        << client_side.peer_subject;
    EXPECT_TRUE(client_side.peer_verified);
    EXPECT_EQ(server_side.peer_subject, ""); // no client certificate
}

TEST(TlsOpenConnection, SendsTheHostNameAsSni) {
    std::string seen;
    run_virtual([&]() -> task<void> {
        auto handler = [&](stream_reader r, stream_writer w) -> task<void> {
            seen = tls::get_session_info(w).server_name;
            co_await corio::test::echo_lines(std::move(r), std::move(w));
        };
        server srv = co_await tls::start_server(handler, "127.0.0.1", 0, server_context());
        streams s = co_await connect_tls(port_of(srv));
        co_await s.writer.write("x\n");
        EXPECT_EQ(co_await s.reader.readline(), "x\n");
        co_await corio::test::shut(srv);
    }());
    EXPECT_EQ(seen, "localhost");
}

TEST(TlsOpenConnection, AnIpAddressIsVerifiedWithoutSni) {
    std::string seen = "unset";
    auto info = run_virtual([&]() -> task<tls::session_info> {
        auto handler = [&](stream_reader r, stream_writer w) -> task<void> {
            seen = tls::get_session_info(w).server_name;
            co_await corio::test::echo_lines(std::move(r), std::move(w));
        };
        server srv = co_await tls::start_server(handler, "127.0.0.1", 0, server_context());
        streams s = co_await tls::open_connection("127.0.0.1", port_of(srv), client_context());
        co_await s.writer.write("x\n");
        EXPECT_EQ(co_await s.reader.readline(), "x\n");
        co_await corio::test::shut(srv);
        co_return tls::get_session_info(s);
    }());
    EXPECT_EQ(seen, "");
    EXPECT_TRUE(info.peer_verified);
}

TEST(TlsOpenConnection, RejectsAServerSignedByAnUntrustedCa) {
    long verify = 0;
    const std::string e = client_error(pki().untrusted, client_context(), &verify);
    EXPECT_EQ(e.rfind("corio::tls: certificate verify failed: unable to get local issuer "
                      "certificate",
                      0),
              0u)
        << e;
    EXPECT_NE(verify, 0);
}

TEST(TlsOpenConnection, RejectsAWrongHostName) {
    const std::string e = client_error(pki().wrong_name);
    EXPECT_NE(e.find("certificate verify failed: hostname mismatch"), std::string::npos) << e;
}

TEST(TlsOpenConnection, RejectsAnExpiredCertificate) {
    const std::string e = client_error(pki().expired);
    EXPECT_NE(e.find("certificate verify failed: certificate has expired"), std::string::npos) << e;
}

TEST(TlsOpenConnection, RejectsTheTestCaWithOnlyTheSystemStore) {
    const std::string e = client_error(pki().server, tls::context::client());
    EXPECT_NE(e.find("certificate verify failed"), std::string::npos) << e;
}

TEST(TlsOpenConnection, SkipsVerificationOnlyWhenAsked) {
    tls::context lax = tls::context::client();
    lax.set_verify(false);
    EXPECT_FALSE(lax.verify());
    EXPECT_EQ(client_error(pki().untrusted, lax), "");
    EXPECT_EQ(client_error(pki().wrong_name, lax), "");
    EXPECT_NE(client_error(pki().untrusted), "");
}

TEST(TlsOpenConnection, ReadsCloseNotifyAsTheEndOfTheStream) {
    auto got = run_virtual([]() -> task<std::vector<std::string>> {
        auto handler = [](stream_reader, stream_writer w) -> task<void> {
            co_await w.write("bye");
            w.close(); // close_notify, then the TCP close
            co_await w.wait_closed();
        };
        server srv = co_await tls::start_server(handler, "127.0.0.1", 0, server_context());
        streams s = co_await connect_tls(port_of(srv));
        std::vector<std::string> out;
        out.push_back(co_await s.reader.read());
        out.push_back(co_await s.reader.read());
        co_return out;
    }());
    EXPECT_EQ(got, (std::vector<std::string>{"bye", ""}));
}

TEST(TlsOpenConnection, ATcpEndWithoutCloseNotifyIsATruncationError) {
    auto got = run_virtual([]() -> task<std::string> {
        auto handler = [](stream_reader r, stream_writer w) -> task<void> {
            co_await w.write("partial");
            // A FIN under TLS, without close_notify: what a truncation attack looks like.
            w.socket()->shutdown(corio::net::shutdown_how::send);
            (void)co_await r.read(); // until the client goes
        };
        server srv = co_await tls::start_server(handler, "127.0.0.1", 0, server_context());
        streams s = co_await connect_tls(port_of(srv));
        std::string out = co_await s.reader.read(7);
        try {
            (void)co_await s.reader.read(100);
            out += " no error";
        } catch (const tls::tls_error& e) {
            out += std::string(" | ") + e.what();
        }
        co_await corio::test::shut(srv);
        co_return out;
    }());
    EXPECT_EQ(got.rfind("partial | corio::tls: unexpected EOF (truncation)", 0), 0u) << got;
}

TEST(TlsOpenConnection, TimesOutTheHandshakeWithAPeerThatNeverSpeaks) {
    const std::size_t fds = corio::test::open_fd_count();
    auto got = run_virtual([]() -> task<std::string> {
        // A plain TCP server that never answers the ClientHello.
        auto silent = [](stream_reader r, stream_writer) -> task<void> { (void)co_await r.read(); };
        server srv = co_await corio::start_server(silent, "127.0.0.1", 0);
        tls::client_options o;
        o.handshake_timeout = 5s;
        const auto start = corio::scheduler::current()->time();
        std::string what;
        try {
            streams s = co_await connect_tls(port_of(srv), client_context(), o);
        } catch (const corio::timeout_error& e) {
            what = e.what();
        }
        EXPECT_EQ(corio::scheduler::current()->time() - start, std::chrono::seconds(5));
        srv.close();
        srv.close_clients();
        co_await srv.wait_closed();
        co_return what;
    }());
    EXPECT_EQ(got, "corio::tls: handshake timed out after 5 s");
    EXPECT_EQ(corio::test::open_fd_count(), fds);
}

TEST(TlsOpenConnection, ACancelledHandshakeClosesTheConnection) {
    const std::size_t fds = corio::test::open_fd_count();
    bool peer_saw_end = false;
    run_virtual([&]() -> task<void> {
        auto silent = [&](stream_reader r, stream_writer) -> task<void> {
            (void)co_await r.read(); // the ClientHello, then the end
            peer_saw_end = true;
        };
        server srv = co_await corio::start_server(silent, "127.0.0.1", 0);
        auto h = corio::create_task(connect_tls(port_of(srv)));
        co_await corio::sleep(1s);
        h.cancel();
        EXPECT_THROW((void)co_await h, corio::cancelled_error);
        srv.close();
        co_await srv.wait_closed(); // the handler ends once the client's end is seen
    }());
    EXPECT_TRUE(peer_saw_end);
    EXPECT_EQ(corio::test::open_fd_count(), fds);
}

TEST(TlsOpenConnection, LeaksNoFileDescriptors) {
    const std::size_t fds = corio::test::open_fd_count();
    run_virtual([]() -> task<void> {
        server srv =
            co_await tls::start_server(corio::test::echo_lines, "127.0.0.1", 0, server_context());
        for (int i = 0; i < 5; ++i) {
            streams s = co_await connect_tls(port_of(srv));
            co_await s.writer.write("x\n");
            EXPECT_EQ(co_await s.reader.readline(), "x\n");
            s.writer.close();
            co_await s.writer.wait_closed();
        }
        for (int i = 0; i < 3; ++i) {
            try {
                streams s = co_await connect_tls(port_of(srv), tls::context::client());
            } catch (const tls::tls_error&) {
            }
        }
        srv.close();
        co_await srv.wait_closed();
    }());
    EXPECT_EQ(corio::test::open_fd_count(), fds);
}

TEST(TlsOpenConnection, WorksOverTls12) {
    auto info = run_virtual([]() -> task<tls::session_info> {
        server srv =
            co_await tls::start_server(corio::test::echo_lines, "127.0.0.1", 0, server_context());
        tls::context c = client_context();
        c.set_max_version(tls::version::tls1_2);
        streams s = co_await connect_tls(port_of(srv), c);
        const std::string big = corio::test::pattern(60000, 3); // under the 64 KiB line limit
        std::string line;
        for (char ch : big)
            line += ch == '\n' ? ' ' : ch;
        line += '\n';
        co_await s.writer.write(line);
        const std::string echoed = co_await s.reader.readline();
        EXPECT_TRUE(echoed == line) << echoed.size();
        co_await corio::test::shut(srv);
        co_return tls::get_session_info(s);
    }());
    EXPECT_EQ(info.version, "TLSv1.2");
}

TEST(TlsOpenConnection, SessionInfoRefusesAPlainStream) {
    run_virtual([]() -> task<void> {
        server srv = co_await corio::start_server(corio::test::echo_lines, "127.0.0.1", 0);
        streams s = co_await corio::open_connection("127.0.0.1", port_of(srv));
        EXPECT_THROW((void)tls::get_session_info(s), std::invalid_argument);
        EXPECT_TRUE(s.writer.can_write_eof());
        co_await corio::test::shut(srv);
    }());
}

TEST(TlsOpenConnection, CannotHalfClose) {
    run_virtual([]() -> task<void> {
        server srv =
            co_await tls::start_server(corio::test::echo_lines, "127.0.0.1", 0, server_context());
        streams s = co_await connect_tls(port_of(srv));
        EXPECT_FALSE(s.writer.can_write_eof());
        EXPECT_THROW(s.writer.write_eof(), std::logic_error);
        co_await corio::test::shut(srv);
    }());
}

} // namespace
