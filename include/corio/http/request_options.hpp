#pragma once
#include "corio/http/headers.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace corio::http {

/// The settings of one request (the keyword arguments of aiohttp's session.request and httpx's
/// client.request).
///
/// g++ 12: name a request_options in a local before `co_await`ing the call that takes it (see
/// DESIGN.md's pitfall about temporaries inside co_await).
struct request_options {
    /// Headers of this request. They replace the client's default headers and the generated
    /// Host, User-Agent, Accept-Encoding and Connection of the same name. Content-Length and
    /// Transfer-Encoding are generated and may not be given (std::invalid_argument), nor may a
    /// value hold CR, LF or NUL.
    http::headers headers;
    /// The request body, sent with Content-Length. POST, PUT and PATCH send "Content-Length: 0"
    /// when it is empty.
    std::string body;
    /// Sets Content-Type (unless `headers` has one) when not empty.
    std::string content_type;
    /// The total time of the request (see client_options::timeout); unset: the client's; zero:
    /// no limit.
    std::optional<std::chrono::nanoseconds> timeout;
    /// The connection time limit; unset: the client's; zero: none.
    std::optional<std::chrono::nanoseconds> connect_timeout;
    /// Follow 301, 302, 303, 307 and 308 responses that carry a Location header.
    bool follow_redirects = true;
    /// The most redirects followed; one more is a redirect_error.
    int max_redirects = 10;
    /// The largest body request() reads (and read_all() keeps); larger is a parse_error (413).
    std::uint64_t max_body = 64ull * 1024 * 1024;
};

} // namespace corio::http
