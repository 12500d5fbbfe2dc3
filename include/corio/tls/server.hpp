#pragma once

#include "corio/core/task.hpp"
#include "corio/io/server.hpp"
#include "corio/tls/context.hpp"

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>

namespace corio::tls {

/// How tls::start_server listens and shakes hands.
struct server_options {
    /// Listening, accepting and buffering, as corio::start_server.
    corio::server_options server{};
    /// Each connection's handshake deadline (asyncio's ssl_handshake_timeout, 60 s); zero or
    /// less: none.
    std::chrono::milliseconds handshake_timeout = std::chrono::seconds(60);
    /// Told about each failed handshake (a client that does not trust the certificate, a port
    /// scanner, a timeout), if set; those connections are closed and the server goes on.
    /// Called on the loop thread; must not throw.
    std::function<void(std::exception_ptr)> on_handshake_error{};
};

/// Listens on `host`:`port` (as corio::start_server) and, for every connection, runs the TLS
/// server handshake with `ctx` (a server context) and then `handler` with a reader and writer
/// that speak plaintext (asyncio's start_server(..., ssl=ctx)). The returned server is corio's
/// own: client_count(), close_clients() (which sends close_notify), wait_closed()... count the
/// TLS connections.
///
/// A connection whose handshake fails or times out is closed and reported only to
/// options.on_handshake_error: the server goes on accepting. get_session_info(writer) tells the
/// handler the SNI name the client asked for, the ALPN protocol and the client certificate's
/// subject.
///
/// Cancellation: nothing is left listening (as corio::start_server). Cancelling a handler
/// (corio::run ending) during its handshake closes that connection.
/// Errors: as corio::start_server; std::invalid_argument for an empty handler or a context
/// that is not a server context.
///
/// Example:
/// @code
/// auto ctx = corio::tls::context::server("chain.pem", "key.pem");
/// auto handler = [](corio::stream_reader r, corio::stream_writer w) -> corio::task<> {
///     while (auto line = co_await r.next_line())
///         co_await w.write(*line);
/// };
/// corio::server srv = co_await corio::tls::start_server(handler, "0.0.0.0", 8443, ctx);
/// co_await srv.serve_forever();
/// @endcode
[[nodiscard]] task<server> start_server(connection_handler handler, std::string host,
                                        std::uint16_t port, context ctx,
                                        server_options options = {});

/// start_server on the Unix socket at `path` (as corio::start_unix_server).
[[nodiscard]] task<server> start_unix_server(connection_handler handler, net::unix_endpoint path,
                                             context ctx, server_options options = {});

} // namespace corio::tls
