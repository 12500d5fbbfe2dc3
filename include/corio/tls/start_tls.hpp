#pragma once

#include "corio/core/task.hpp"
#include "corio/io/streams.hpp"
#include "corio/tls/context.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace corio::tls {

/// How start_tls upgrades a connection (asyncio's start_tls arguments).
struct start_tls_options {
    /// The server's name, for a client: sent as SNI (not for an IP address) and, when the
    /// context verifies and checks hostnames, matched against the certificate (DNS names, or
    /// IP addresses for an IP). Required then; ignored by a server.
    std::optional<std::string> server_hostname{};
    /// A client's ALPN protocols for this connection, replacing the context's.
    std::optional<std::vector<std::string>> alpn{};
    /// The handshake's deadline (asyncio's ssl_handshake_timeout, 60 s); zero or less: none.
    std::chrono::milliseconds handshake_timeout = std::chrono::seconds(60);
};

/// Upgrades a connection to TLS in place (asyncio's StreamWriter.start_tls / loop.start_tls):
/// runs the handshake over `s`'s transport (a TCP or Unix socket, a TLS stream, any
/// transport) as a client or a server according to `ctx`, and returns the same reader and
/// writer, which from then on read and write plaintext through TLS. Any other copies of those
/// handles are upgraded too; do not use them during the handshake.
///
/// Typical use is STARTTLS: a plaintext exchange, then `co_await start_tls(...)`. Bytes must
/// not be left in the streams' buffers: a protocol that upgrades reads exactly up to the
/// upgrade point (readline, readexactly) and the writer's last write must have gone out.
///
/// Cancellation: the connection is closed (the peer sees it end mid-handshake); nothing leaks.
/// Errors: tls_error when the handshake fails ("corio::tls: certificate verify failed:
/// hostname mismatch [...]"), or the peer closes during it; corio::timeout_error
/// ("corio::tls: handshake timed out after 60 s") past handshake_timeout; std::system_error
/// from the connection. The connection is closed after any of these.
/// std::logic_error (the streams untouched) when bytes are still buffered in the reader or
/// writer, a read is waiting, or the stream ended or is closing; std::invalid_argument for
/// empty streams, an empty context, or a verifying client without server_hostname.
///
/// Example:
/// @code
/// co_await s.writer.write("STARTTLS\r\n");
/// std::string ok = co_await s.reader.readline();
/// corio::tls::start_tls_options o;
/// o.server_hostname = "mail.example.com";
/// s = co_await corio::tls::start_tls(std::move(s), corio::tls::context::client(), o);
/// @endcode
[[nodiscard]] task<streams> start_tls(streams s, context ctx, start_tls_options options = {});

} // namespace corio::tls
