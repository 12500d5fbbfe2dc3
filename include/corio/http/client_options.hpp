#pragma once
#include "corio/http/headers.hpp"
#include "corio/http/parser.hpp"
#include "corio/tls/context.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace corio::http {

/// How an http::client connects, pools and limits (aiohttp's ClientSession/TCPConnector and
/// httpx's Limits arguments). The per-request settings in request_options override the defaults
/// given here.
struct client_options {
    /// The most connections open at once to one (scheme, host, port), in use or idle; further
    /// requests to it wait, in FIFO order, for one to become free (httpx's default 10).
    std::size_t max_connections_per_host = 10;
    /// An idle pooled connection is closed after this long unused (aiohttp's 15 s).
    std::chrono::nanoseconds idle_timeout = std::chrono::seconds(15);
    /// The default total time a request may take: connecting, sending, redirects and receiving
    /// the head, and for request() (not stream()) the body too; a streamed body's reads must
    /// end by the same deadline. Zero: no limit. (aiohttp's default total, 5 minutes.)
    std::chrono::nanoseconds timeout = std::chrono::minutes(5);
    /// The default limit on establishing one connection (DNS, TCP and the TLS handshake). Zero: no
    /// limit other than `timeout`.
    std::chrono::nanoseconds connect_timeout = std::chrono::seconds(30);
    /// Sent with every request unless the request sets the same header.
    http::headers headers;
    /// The User-Agent header sent unless a request sets its own ("" sends none).
    std::string user_agent = "corio/0.1";
    /// The limits applied to response heads (max_head_bytes, max_header_count); the body limit
    /// is request_options::max_body.
    parse_limits limits{};
    /// The size of each connection's receive buffer (at least 4 KiB): a streamed body arrives
    /// in pieces of at most this.
    std::size_t buffer_size = 64 * 1024;
    /// The TLS settings of https requests. Empty (the default): tls::context::client(), which
    /// verifies the server against the system CA store and checks its host name; it is made at
    /// the first https request. ALPN "http/1.1" is offered whatever the context says.
    tls::context tls{};
};

} // namespace corio::http
