#pragma once
// Routes requests to handlers by method and path (aiohttp's web.RouteTableDef / UrlDispatcher).

#include "corio/core/task.hpp"
#include "corio/http/request.hpp"
#include "corio/http/response.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio::http {

/// What handles a request: a callable taking the request and returning task<response>.
using handler = std::function<task<response>(request&)>;

/// Maps (method, path) to handlers.
///
/// Patterns: segments separated by '/'; a segment "{name}" matches any one non-empty segment
/// and is read with request::param("name"); a last segment "*" matches the rest of the path
/// (possibly empty, read with param("*")), so "/static/*" serves "/static/a/b.css". Otherwise a
/// segment matches exactly (case-sensitive, not percent-decoded). Routes are tried in the order
/// they were added; the first whose method and pattern match wins.
///
/// No match: a path that no route matches gets 404; a path that matches only routes of other
/// methods gets 405 with an Allow header listing them. HEAD is answered by the GET route of the
/// path when there is no HEAD route (the server sends no body). OPTIONS gets no special
/// treatment.
///
/// Thread-safety: build it first, then share it: a server with several threads calls
/// the handlers concurrently, so they must be safe to call from several threads.
///
/// Example:
/// @code
/// http::router r;
/// r.get("/", [](http::request&) -> task<http::response> {
///     co_return http::response::text(200, "Hello, World!");
/// });
/// r.post("/users/{id}/avatar", upload_avatar);
/// @endcode
class router {
  public:
    /// The outcome of match().
    struct match_result {
        /// The handler, or null for 404/405.
        const handler* target = nullptr;
        /// 200 when target is set, else 404 or 405.
        int status = 404;
        /// For 405: the methods the path accepts, e.g. "GET, HEAD, POST".
        std::string allow;
    };

    /// Adds a route. `method` is an exact method ("GET", "PATCH", ...) or "*" for any.
    /// Errors: std::invalid_argument for a pattern that does not start with '/', an empty
    /// "{}" or a "*" that is not the last segment; std::bad_alloc.
    router& route(std::string_view method, std::string_view pattern, handler h);

    template <typename F>
    router& get(std::string_view pattern, F&& f) {
        return route("GET", pattern, handler(std::forward<F>(f)));
    }
    template <typename F>
    router& post(std::string_view pattern, F&& f) {
        return route("POST", pattern, handler(std::forward<F>(f)));
    }
    template <typename F>
    router& put(std::string_view pattern, F&& f) {
        return route("PUT", pattern, handler(std::forward<F>(f)));
    }
    template <typename F>
    router& patch(std::string_view pattern, F&& f) {
        return route("PATCH", pattern, handler(std::forward<F>(f)));
    }
    /// DELETE (delete is a keyword).
    template <typename F>
    router& del(std::string_view pattern, F&& f) {
        return route("DELETE", pattern, handler(std::forward<F>(f)));
    }

    /// Finds the route for `req` and stores its path parameters in the request. Allocates
    /// nothing for a match once the request's parameter list has grown.
    [[nodiscard]] match_result match(request& req) const;

    /// Runs the matching handler, or answers 404/405 (a text/plain response naming the
    /// problem). Errors: whatever the handler throws.
    [[nodiscard]] task<response> dispatch(request& req) const;

    /// The number of routes.
    [[nodiscard]] std::size_t size() const noexcept { return m_routes.size(); }

  private:
    struct segment {
        enum kind_t : unsigned char { literal, param, rest } kind = literal;
        std::string text; // the literal, or the parameter's name
    };
    struct route_entry {
        std::string method;
        std::vector<segment> segments;
        handler fn;
    };
    static bool match_path(const route_entry& r, std::string_view path, request* req);

    std::vector<route_entry> m_routes;
};

} // namespace corio::http
