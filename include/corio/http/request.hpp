#pragma once
// The request an HTTP server handler receives (aiohttp's web.Request, without the body stream).

#include "corio/http/headers.hpp"
#include "corio/http/parser.hpp"
#include "corio/net/endpoint.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corio::http {

class router;
namespace detail {
struct request_access;
}

/// An HTTP request as a server handler sees it: method, target (split into path and query),
/// version, headers, the whole body, the peer's endpoint, and the router's path parameters.
///
/// Lifetime: the server owns the request and passes it by reference to the handler. Every
/// string_view it returns stays valid until the handler's task has finished (the server keeps
/// the bytes the request was parsed from until then); copy what must live longer. The request is
/// neither copyable nor movable.
///
/// Cost: the server parses the head into views of the bytes it received; headers() builds the
/// owned http::headers only when it is first called, so a handler that uses header() (a view)
/// costs no allocation.
///
/// Example:
/// @code
/// router.get("/users/{id}", [](http::request& req) -> task<http::response> {
///     co_return http::response::text(200, "user " + std::string(req.param("id")));
/// });
/// @endcode
class request {
  public:
    /// An empty GET / request (for the server, which fills it with each request it parses).
    request() = default;
    /// A request built from parts (for tests and for calling handlers directly): the strings are
    /// copied. `target` is the request target, e.g. "/search?q=corio".
    request(std::string_view method, std::string_view target, http::headers headers = {},
            std::string body = {});
    request(const request&) = delete;
    request& operator=(const request&) = delete;

    /// The method, e.g. "GET" (case-sensitive, as sent).
    [[nodiscard]] std::string_view method() const noexcept { return m_head.method; }
    /// The request target as sent, e.g. "/search?q=corio".
    [[nodiscard]] std::string_view target() const noexcept { return m_head.target; }
    /// The target up to '?', e.g. "/search" (not percent-decoded).
    [[nodiscard]] std::string_view path() const noexcept { return m_path; }
    /// The target after '?', e.g. "q=corio", or empty (not percent-decoded).
    [[nodiscard]] std::string_view query() const noexcept { return m_query; }
    /// The minor version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    [[nodiscard]] int version_minor() const noexcept { return m_head.version_minor; }
    /// True if the connection stays open after the response (the version and Connection).
    [[nodiscard]] bool keep_alive() const noexcept { return m_head.keep_alive; }

    /// The first value of header `name` (case-insensitive), or empty. A view: no allocation.
    [[nodiscard]] std::string_view header(std::string_view name) const noexcept {
        return m_head.header(name);
    }
    /// Every header, in order, as an owned list (built on the first call).
    /// Errors: std::bad_alloc.
    [[nodiscard]] const http::headers& headers() const;
    /// The header fields as parsed (views, in order).
    [[nodiscard]] const std::vector<header_view>& header_views() const noexcept {
        return m_head.headers;
    }

    /// The body (decoded when it came chunked), empty when there was none.
    [[nodiscard]] const std::string& body() const noexcept { return m_body; }
    /// Moves the body out of the request.
    [[nodiscard]] std::string take_body() noexcept { return std::move(m_body); }

    /// The path parameter `name` of the route that matched ("/users/{id}" -> param("id")), or
    /// the rest of the path for a trailing "/*" (param("*")); empty if there is none. Not
    /// percent-decoded.
    [[nodiscard]] std::string_view param(std::string_view name) const noexcept;
    /// Every path parameter of the matched route, in pattern order.
    [[nodiscard]] const std::vector<std::pair<std::string_view, std::string_view>>&
    params() const noexcept {
        return m_params;
    }

    /// The client's endpoint (address and port); unspecified for a request built from parts.
    [[nodiscard]] const net::endpoint& peer() const noexcept { return m_peer; }

  private:
    friend struct detail::request_access;
    friend class router;

    void clear_params() noexcept { m_params.clear(); }
    void emplace_param(std::string_view name, std::string_view value) {
        m_params.emplace_back(name, value);
    }

    /// Splits the target into path and query.
    void split_target() noexcept;
    /// Drops everything from the previous request, keeping the capacity of the vectors.
    void reset() noexcept;

    request_head m_head;
    std::string_view m_path;
    std::string_view m_query;
    std::vector<std::pair<std::string_view, std::string_view>> m_params;
    std::string m_body;
    net::endpoint m_peer;
    // The owned header list, valid while m_headers_ready.
    mutable http::headers m_headers;
    mutable bool m_headers_ready = false;
    // The bytes the views point into, for a request built from parts.
    std::string m_owned;
};

} // namespace corio::http
