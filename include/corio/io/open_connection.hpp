#pragma once

#include "corio/core/task.hpp"
#include "corio/io/stream_options.hpp"
#include "corio/io/streams.hpp"
#include "corio/net/open_tcp_connection.hpp"
#include "corio/net/unix_endpoint.hpp"

#include <cstdint>
#include <string>

namespace corio {

/// How open_connection connects and buffers.
struct connection_options {
    /// The reader's limit and the writer's water marks.
    stream_options streams{};
    /// Happy Eyeballs (RFC 8305): the delay between attempts, address interleaving, the local
    /// address and the family (see net::happy_eyeballs_options).
    net::happy_eyeballs_options happy_eyeballs{};
};

/// Connects to `host`:`port` and returns the connection's reader and writer (asyncio's
/// open_connection). The host is resolved off the loop (numeric hosts at once) and its
/// addresses raced with Happy Eyeballs, as net::open_tcp_connection does; the socket gets
/// TCP_NODELAY.
///
/// Cancellation: every attempt is cancelled and closed; nothing is left open.
/// Errors: net::dns_error when the host does not resolve; net::connect_error listing every
/// attempt when none connects.
///
/// Example:
/// @code
/// auto [reader, writer] = co_await corio::open_connection("example.com", 80);
/// co_await writer.write("HEAD / HTTP/1.0\r\n\r\n");
/// std::string status = co_await reader.readline();
/// @endcode
[[nodiscard]] task<streams> open_connection(std::string host, std::uint16_t port,
                                            connection_options options = {});

/// Connects to the Unix socket at `path` (asyncio's open_unix_connection).
/// Cancellation: the attempt is abandoned and its socket closed.
/// Errors: std::system_error ("connect to /run/app.sock: No such file or directory").
[[nodiscard]] task<streams> open_unix_connection(net::unix_endpoint path,
                                                 stream_options options = {});

} // namespace corio
