#pragma once
// The HTTP/1.1 server: corio::start_server's connections speaking HTTP to a router.

#include "corio/core/task.hpp"
#include "corio/http/parser.hpp"
#include "corio/http/router.hpp"
#include "corio/net/endpoint.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace corio::http {

namespace detail {
class server_impl;
}

/// How http::start_server listens and serves.
struct server_options {
    /// A request head (from its first byte, or from the accept for a new connection) must
    /// arrive whole within this time; otherwise the server answers 408 and closes (slowloris).
    std::chrono::milliseconds header_timeout = std::chrono::seconds(10);
    /// An idle keep-alive connection (no byte of a next request) closes after this time.
    /// 5 s, as Node.js and uvicorn (nginx: 75 s, aiohttp: 75 s).
    std::chrono::milliseconds keep_alive_timeout = std::chrono::seconds(5);
    /// While a request body is read, each read must bring bytes within this time (nginx's
    /// client_body_timeout); otherwise 408 and close.
    std::chrono::milliseconds body_timeout = std::chrono::seconds(30);
    /// Head and body limits; going past one answers 431 or 413.
    parse_limits limits{};
    /// The most connections served at once per thread (0: no limit). Connections past it are
    /// accepted and closed at once.
    std::size_t max_connections = 0;
    /// The number of threads, each with its own event loop and SO_REUSEPORT listener; the
    /// calling loop is one of them. Handlers then run concurrently on several threads.
    std::size_t threads = 1;
    /// The Server header's value; empty sends none.
    std::string server_header = "corio";
    /// listen(2)'s backlog.
    int backlog = 1024;
    /// SO_REUSEPORT on the listeners (always on when threads > 1).
    bool reuse_port = false;
};

/// A running HTTP server (made by http::start_server): its listeners, connections and, with
/// server_options::threads > 1, its other threads.
///
/// Connections: keep-alive (HTTP/1.1 by default, HTTP/1.0 with Connection: keep-alive) and
/// pipelining: requests on one connection are handled one after the other, in order, and the
/// responses to the requests that came in one read go out in one write. A request body (by
/// Content-Length or chunked, with Expect: 100-continue answered before it is read) is read
/// whole before the handler runs.
///
/// Errors on a connection: a request the parser refuses gets the parser's status (400, 413,
/// 431, 501, 505) with a text body naming the problem and Connection: close, and that
/// connection closes; the others are not affected. A handler exception gets 500 (the exception
/// goes to the loop's exception handler) and the connection goes on with its next request.
///
/// Ownership: move-only; destroying a server that was not shut down closes its listeners and
/// aborts its connections. Loop thread only (the thread that called start_server).
class server {
  public:
    server() noexcept;
    explicit server(std::unique_ptr<detail::server_impl> impl) noexcept;
    server(server&&) noexcept;
    server& operator=(server&&) noexcept;
    ~server();

    [[nodiscard]] explicit operator bool() const noexcept { return m_impl != nullptr; }

    /// The endpoints the server listens on (with the port the kernel chose for port 0).
    [[nodiscard]] std::vector<net::endpoint> endpoints() const;
    /// The port of the first endpoint.
    [[nodiscard]] std::uint16_t port() const;

    /// Serves until shutdown() or until the awaiting task is cancelled (asyncio's
    /// serve_forever). Cancellation: shuts the server down with no grace (aborting the
    /// connections), then throws cancelled_error.
    [[nodiscard]] task<void> serve_forever();

    /// Graceful shutdown: stops accepting at once, closes idle keep-alive connections at once,
    /// lets requests in progress finish (their responses say Connection: close) for up to
    /// `grace`, then aborts what is left (cancelling those handlers) and waits for every
    /// connection to be gone, on every thread. Idempotent.
    /// Cancellation: the grace period ends at once (the rest is aborted), then cancelled_error.
    [[nodiscard]] task<void> shutdown(std::chrono::milliseconds grace = std::chrono::seconds(10));

    /// The connections open now (on this thread's loop).
    [[nodiscard]] std::size_t connection_count() const noexcept;
    /// The requests answered so far (on this thread's loop).
    [[nodiscard]] std::uint64_t requests_served() const noexcept;

  private:
    std::unique_ptr<detail::server_impl> m_impl;
};

/// Listens on `host`:`port` and serves HTTP/1.1 with `routes` (aiohttp's web.run_app, split
/// as asyncio's start_server + serve_forever). `host` "" listens on every interface; port 0 lets
/// the kernel choose (see server::port()).
///
/// Example:
/// @code
/// http::router r;
/// r.get("/", [](http::request&) -> task<http::response> {
///     co_return http::response::text(200, "Hello, World!");
/// });
/// http::server srv = co_await http::start_server(std::move(r), "127.0.0.1", 8080);
/// co_await srv.serve_forever();
/// @endcode
///
/// The routes are moved (router&&) or copied (const router&) into the server; the host and the
/// options are copied before the call returns, so the task may be awaited later. (Overloads
/// rather than default arguments: g++ 12 destroys twice a defaulted class-type argument built
/// inside a co_await expression; see DESIGN.md.)
///
/// Cancellation: nothing is left listening. Errors: as corio::start_server (std::system_error
/// from bind, net::dns_error); std::invalid_argument for threads == 0; std::logic_error outside
/// a running loop.
[[nodiscard]] task<server> start_server(router&& routes, std::string_view host, std::uint16_t port);
[[nodiscard]] task<server> start_server(router&& routes, std::string_view host, std::uint16_t port,
                                        const server_options& options);
[[nodiscard]] task<server> start_server(const router& routes, std::string_view host,
                                        std::uint16_t port);
[[nodiscard]] task<server> start_server(const router& routes, std::string_view host,
                                        std::uint16_t port, const server_options& options);

} // namespace corio::http
