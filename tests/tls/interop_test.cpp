// Interoperability with other TLS implementations: a corio client against `openssl s_server`
// (echo, a TLS 1.3 key update, a TLS 1.2 renegotiation), `openssl s_client` against a corio
// server, and `curl` fetching from a corio server. Real clock (the peers are processes), with
// a generous hang guard; skipped only when the openssl or curl binary is missing.

#include "corio/core/create_task.hpp"
#include "corio/process/process.hpp"
#include "corio/runtime/event_loop.hpp"
#include "corio/time/timeout.hpp"
#include "corio/tls/open_connection.hpp"
#include "corio/tls/server.hpp"
#include "corio/tls/session_info.hpp"

#include "tls/tls_helpers.hpp"
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using namespace corio::test::tls_test_names;

/// True if `name` is an executable in PATH.
bool have_program(const char* name) {
    const char* path = std::getenv("PATH");
    std::string_view rest = path ? path : "/usr/bin:/bin";
    while (!rest.empty()) {
        const std::size_t colon = rest.find(':');
        const std::string dir(rest.substr(0, colon));
        rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
        const std::string file = (dir.empty() ? "." : dir) + "/" + name;
        if (::access(file.c_str(), X_OK) == 0)
            return true;
    }
    return false;
}

#define REQUIRE_PROGRAM(name)                                                                      \
    do {                                                                                           \
        if (!have_program(name))                                                                   \
            GTEST_SKIP() << "the " name " binary is not installed (run.sh installs it)";           \
    } while (false)

/// Runs `body` on a loop with the real clock, under a hang guard of 90 s.
template <typename T>
T run_real(task<T> body) {
    corio::event_loop loop;
    auto guarded = [](task<T> b) -> task<T> {
        task<T> limited = corio::timeout(std::chrono::seconds(90), std::move(b));
        co_return co_await limited;
    };
    return loop.run_until_complete(guarded(std::move(body)));
}

/// An `openssl s_server` child serving the test certificate for one connection.
struct s_server {
    corio::process p;
    std::uint16_t port = 0;
    std::string out; ///< its stdout so far
};

/// Reads the child's stdout until it contains `needle` (from `from` on); false at its end.
task<bool> wait_for_output(s_server& s, std::string needle, std::size_t from = 0) {
    while (s.out.find(needle, from) == std::string::npos) {
        std::string more = co_await s.p.std_out().read(4096);
        if (more.empty())
            co_return false;
        s.out += more;
    }
    co_return true;
}

task<s_server> start_s_server(std::vector<std::string> extra) {
    std::vector<std::string> args{"s_server",
                                  "-accept",
                                  "127.0.0.1:0",
                                  "-cert",
                                  pki().server_cert_file,
                                  "-key",
                                  pki().server_key_file,
                                  "-naccept",
                                  "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    corio::subprocess_options o;
    o.std_in = corio::stdio::pipe;
    o.std_out = corio::stdio::pipe;
    o.std_err = corio::stdio::devnull;
    s_server s{corio::create_subprocess_exec("openssl", std::move(args), std::move(o)), 0, {}};
    // "ACCEPT 127.0.0.1:PORT" once it listens.
    const bool ok = co_await wait_for_output(s, "ACCEPT");
    EXPECT_TRUE(ok) << s.out;
    const std::size_t at = s.out.find("ACCEPT");
    const std::size_t eol = s.out.find('\n', at);
    if (ok && eol != std::string::npos) {
        const std::string line = s.out.substr(at, eol - at);
        s.port = static_cast<std::uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
    } else {
        co_await wait_for_output(s, "\n", at);
    }
    co_return s;
}

task<void> stop(s_server& s) {
    s.p.kill();
    (void)co_await s.p.wait();
}

task<streams> connect_to(const s_server& s) {
    tls::client_options o;
    o.server_hostname = "localhost";
    task<streams> t = tls::open_connection("127.0.0.1", s.port, client_context(), o);
    co_return co_await t;
}

TEST(TlsInterop, CorioClientTalksToOpensslSServer) {
    REQUIRE_PROGRAM("openssl");
    auto got = run_real([]() -> task<std::vector<std::string>> {
        task<s_server> starting = start_s_server({"-rev"});
        s_server srv = co_await starting;
        std::vector<std::string> out;
        streams c = co_await connect_to(srv);
        const tls::session_info info = tls::get_session_info(c);
        out.push_back(info.version);
        co_await c.writer.write("hello corio\n");
        out.push_back(co_await c.reader.readline());
        const std::string big = corio::test::pattern(5000, 9);
        std::string line;
        for (char ch : big)
            line += static_cast<char>('a' + static_cast<unsigned char>(ch) % 26);
        co_await c.writer.write(line + "\n");
        std::string back = co_await c.reader.readline();
        std::reverse(line.begin(), line.end());
        out.push_back(back == line + "\n" ? "reversed" : "not reversed: " + back);
        c.writer.close();
        co_await c.writer.wait_closed();
        co_await stop(srv);
        co_return out;
    }());
    EXPECT_EQ(got, (std::vector<std::string>{"TLSv1.3", "oiroc olleh\n", "reversed"}));
}

TEST(TlsInterop, CorioClientAnswersAKeyUpdateFromOpensslSServer) {
    REQUIRE_PROGRAM("openssl");
    auto got = run_real([]() -> task<std::vector<std::string>> {
        task<s_server> starting = start_s_server({"-tls1_3"});
        s_server srv = co_await starting;
        std::vector<std::string> out;
        streams c = co_await connect_to(srv);
        co_await c.writer.write("ping\n");
        EXPECT_TRUE(co_await wait_for_output(srv, "ping\n")) << srv.out;
        // "K": a key update that asks for ours back; the next line is sent under the new keys.
        // s_server reads its terminal before its connection in a round, so once it has printed
        // a line we sent after the "K", the "K" was a command of its own (not merged with the
        // next line).
        co_await srv.p.std_in().write("K\n");
        co_await c.writer.write("sync\n");
        EXPECT_TRUE(co_await wait_for_output(srv, "sync\n")) << srv.out;
        co_await srv.p.std_in().write("from s_server\n");
        std::string line = co_await c.reader.readline();
        out.push_back(std::move(line));
        // Our answer went out with the read: s_server reads our next line under new keys too.
        co_await c.writer.write("after the key update\n");
        const bool seen = co_await wait_for_output(srv, "after the key update\n");
        out.push_back(seen ? "seen" : srv.out);
        c.writer.close();
        co_await c.writer.wait_closed();
        co_await stop(srv);
        co_return out;
    }());
    EXPECT_EQ(got, (std::vector<std::string>{"from s_server\n", "seen"}));
}

TEST(TlsInterop, CorioClientFollowsARenegotiationFromOpensslSServer) {
    REQUIRE_PROGRAM("openssl");
    auto got = run_real([]() -> task<std::vector<std::string>> {
        task<s_server> starting = start_s_server({"-tls1_2"});
        s_server srv = co_await starting;
        std::vector<std::string> out;
        streams c = co_await connect_to(srv);
        out.push_back(tls::get_session_info(c).version);
        co_await c.writer.write("ping\n");
        EXPECT_TRUE(co_await wait_for_output(srv, "ping\n")) << srv.out;
        // A read is waiting when s_server renegotiates: it answers the HelloRequest.
        auto reading = [](stream_reader r) -> task<std::string> {
            co_return co_await r.readline();
        };
        auto line = corio::create_task(reading(c.reader));
        co_await srv.p.std_in().write("r\n");
        // Written while the renegotiation may be in progress (a write that needs a read).
        co_await c.writer.write("sync\n");
        EXPECT_TRUE(co_await wait_for_output(srv, "sync\n")) << srv.out;
        co_await srv.p.std_in().write("after renegotiation\n");
        std::string after = co_await line;
        out.push_back(std::move(after));
        co_await c.writer.write("client after renegotiation\n");
        const bool seen = co_await wait_for_output(srv, "client after renegotiation\n");
        out.push_back(seen ? "seen" : srv.out);
        c.writer.close();
        co_await c.writer.wait_closed();
        co_await stop(srv);
        co_return out;
    }());
    EXPECT_EQ(got, (std::vector<std::string>{"TLSv1.2", "after renegotiation\n", "seen"}));
}

TEST(TlsInterop, OpensslSClientTalksToACorioServer) {
    REQUIRE_PROGRAM("openssl");
    tls::session_info seen;
    auto got = run_real([&]() -> task<corio::communicate_result> {
        tls::context ctx = server_context();
        ctx.set_alpn({"http/1.1"});
        auto handler = [&](stream_reader r, stream_writer w) -> task<void> {
            seen = tls::get_session_info(w);
            std::string line = co_await r.readline();
            for (char& ch : line)
                ch = static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
            co_await w.write("you said: " + line);
            w.close(); // close_notify: s_client ends
            co_await w.wait_closed();
        };
        server srv = co_await tls::start_server(handler, "127.0.0.1", 0, ctx);
        corio::subprocess_options o;
        o.std_in = corio::stdio::pipe;
        o.std_out = corio::stdio::pipe;
        o.std_err = corio::stdio::pipe;
        corio::process p = corio::create_subprocess_exec(
            "openssl",
            {"s_client", "-connect", "127.0.0.1:" + std::to_string(port_of(srv)), "-servername",
             "localhost", "-CAfile", pki().ca_file, "-verify_return_error", "-verify_hostname",
             "localhost", "-alpn", "http/1.1", "-quiet"},
            std::move(o));
        auto talking = p.communicate("hello from s_client\n");
        corio::communicate_result r = co_await talking;
        srv.close();
        co_await srv.wait_closed();
        co_return r;
    }());
    EXPECT_EQ(got.std_out, "you said: HELLO FROM S_CLIENT\n") << got.std_err;
    EXPECT_EQ(got.returncode, 0) << got.std_err;
    EXPECT_EQ(seen.server_name, "localhost");
    EXPECT_EQ(seen.alpn, "http/1.1");
}

TEST(TlsInterop, CurlFetchesFromACorioServer) {
    REQUIRE_PROGRAM("curl");
    std::string request;
    auto got = run_real([&]() -> task<corio::communicate_result> {
        tls::context ctx = server_context();
        ctx.set_alpn({"http/1.1"});
        auto handler = [&](stream_reader r, stream_writer w) -> task<void> {
            request = co_await r.readuntil("\r\n\r\n");
            co_await w.write("HTTP/1.1 200 OK\r\n"
                             "Content-Type: text/plain\r\n"
                             "Content-Length: 13\r\n"
                             "Connection: close\r\n"
                             "\r\n"
                             "hello, curl!\n");
            w.close();
            co_await w.wait_closed();
        };
        server srv = co_await tls::start_server(handler, "127.0.0.1", 0, ctx);
        const std::string port = std::to_string(port_of(srv));
        corio::subprocess_options o;
        o.std_out = corio::stdio::pipe;
        o.std_err = corio::stdio::pipe;
        corio::process p = corio::create_subprocess_exec(
            "curl",
            {"-sS", "--http1.1", "--max-time", "60", "--cacert", pki().ca_file, "--resolve",
             "localhost:" + port + ":127.0.0.1", "https://localhost:" + port + "/hello"},
            std::move(o));
        auto running = p.communicate();
        corio::communicate_result r = co_await running;
        srv.close();
        co_await srv.wait_closed();
        co_return r;
    }());
    EXPECT_EQ(got.std_out, "hello, curl!\n") << got.std_err;
    EXPECT_EQ(got.returncode, 0) << got.std_err;
    EXPECT_EQ(request.rfind("GET /hello HTTP/1.1\r\n", 0), 0u) << request;
}

} // namespace
