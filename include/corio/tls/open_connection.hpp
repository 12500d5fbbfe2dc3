#pragma once

#include "corio/core/task.hpp"
#include "corio/io/open_connection.hpp"
#include "corio/io/streams.hpp"
#include "corio/tls/context.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace corio::tls {

/// How tls::open_connection connects.
struct client_options {
    /// The name sent as SNI and checked against the certificate; unset: `host`.
    std::optional<std::string> server_hostname{};
    /// The ALPN protocols offered on this connection (e.g. {"http/1.1"}), replacing the
    /// context's list; unset: the context's.
    std::optional<std::vector<std::string>> alpn{};
    /// The handshake's deadline (asyncio's ssl_handshake_timeout, 60 s); zero or less: none.
    std::chrono::milliseconds handshake_timeout = std::chrono::seconds(60);
    /// Buffering and Happy Eyeballs, as corio::open_connection.
    connection_options connection{};
};

/// Connects to `host`:`port` over TCP (as corio::open_connection: resolution off the loop,
/// Happy Eyeballs), runs the TLS client handshake, and returns a reader and writer that speak
/// plaintext (asyncio's open_connection(host, port, ssl=ctx)). SNI is the host name (or
/// options.server_hostname; none for an IP address), and with ctx's default settings the
/// server's certificate is verified against the trusted CAs and its name against that name.
///
/// Closing: writer.close() sends close_notify first. Reading the peer's close_notify reads as
/// the end of the stream (""); the connection ending without it throws tls_error
/// ("corio::tls: unexpected EOF (truncation) ..."). can_write_eof() is false (as asyncio).
///
/// Cancellation: the connection attempts, or the handshake, are abandoned and every socket is
/// closed. Errors: net::dns_error; net::connect_error; tls_error when the handshake fails;
/// corio::timeout_error past handshake_timeout; std::invalid_argument for an empty or server
/// context.
///
/// Example:
/// @code
/// corio::tls::context ctx = corio::tls::context::client();
/// corio::tls::client_options o;
/// o.alpn = std::vector<std::string>{"http/1.1"};
/// auto [reader, writer] = co_await corio::tls::open_connection("example.com", 443, ctx, o);
/// co_await writer.write("GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n");
/// std::string response = co_await reader.read();
/// @endcode
[[nodiscard]] task<streams> open_connection(std::string host, std::uint16_t port, context ctx,
                                            client_options options = {});

} // namespace corio::tls
