#pragma once

// Helpers shared by the TLS tests: contexts over the test certificates, and small handlers.

#include "corio/core/task.hpp"
#include "corio/io/server.hpp"
#include "corio/io/streams.hpp"
#include "corio/tls/context.hpp"
#include "corio/tls/open_connection.hpp"

#include "support/loop_helpers.hpp"
#include "tls/test_certs.hpp"

#include <cstdint>
#include <string>
#include <utility>

namespace corio::test {

/// A server context with the "localhost" certificate (or `which`).
inline tls::context server_context(const pem_pair& which = pki().server) {
    return tls::context::server_from_pem(which.cert, which.key);
}

/// A client context that trusts the test CA (and not the system's CAs... those too, harmless).
inline tls::context client_context() {
    tls::context c = tls::context::client();
    c.load_verify_pem(pki().ca.cert);
    return c;
}

inline std::uint16_t port_of(const server& s) {
    return s.endpoints().at(0).port();
}

/// Connects to 127.0.0.1:port, verifying the name "localhost" (no DNS lookup: the virtual clock
/// must not jump while a resolver thread works).
inline task<streams> connect_tls(std::uint16_t port, tls::context ctx = client_context(),
                                 tls::client_options o = {}) {
    if (!o.server_hostname)
        o.server_hostname = "localhost";
    task<streams> t = tls::open_connection("127.0.0.1", port, std::move(ctx), std::move(o));
    co_return co_await t;
}

/// Stops `srv` and closes its connections, then waits for its handlers to end, so that a test
/// leaves no task pending.
inline task<void> shut(server& srv) {
    srv.close();
    srv.close_clients();
    co_await srv.wait_closed();
}

/// Echoes lines until the end of the stream, then closes.
inline task<void> echo_lines(stream_reader r, stream_writer w) {
    while (auto line = co_await r.next_line())
        co_await w.write(*line);
    w.close();
    co_await w.wait_closed();
}

/// A simple checksum (FNV-1a, 64 bits).
inline std::uint64_t checksum(std::string_view s) {
    std::uint64_t h = 1469598103934665603ull;
    for (const char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    return h;
}

/// `n` bytes of a deterministic pseudo-random pattern.
inline std::string pattern(std::size_t n, std::uint32_t seed = 1) {
    std::string s(n, '\0');
    std::uint32_t x = seed * 2654435761u + 1;
    for (auto& c : s) {
        x = x * 1664525u + 1013904223u;
        c = static_cast<char>(x >> 24);
    }
    return s;
}

/// The names the TLS test files use unqualified. A test file says
/// `using namespace corio::test::tls_test_names;` instead of repeating this block.
namespace tls_test_names {
using corio::server;
using corio::stream_reader;
using corio::stream_writer;
using corio::streams;
using corio::task;
using corio::test::client_context;
using corio::test::connect_tls;
using corio::test::pki;
using corio::test::port_of;
using corio::test::run_virtual;
using corio::test::server_context;
namespace tls = corio::tls;
} // namespace tls_test_names

} // namespace corio::test
