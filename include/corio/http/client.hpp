#pragma once
#include "corio/core/task.hpp"
#include "corio/http/client_options.hpp"
#include "corio/http/client_response.hpp"
#include "corio/http/redirect_error.hpp"
#include "corio/http/request_options.hpp"
#include "corio/http/status_error.hpp"
#include "corio/http/url.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace corio::http {

namespace detail {
class client_state;
}

/// An HTTP/1.1 client with a connection pool (aiohttp's ClientSession, httpx's AsyncClient):
/// create one per application (or per group of requests) and make every request through it, so
/// that connections are reused.
///
/// Pooling: one pool per (scheme, host, port). A connection whose response said keep-alive and
/// whose body was read to its end goes back to the pool; the next request to the same origin
/// takes the most recently used one. At most client_options::max_connections_per_host
/// connections are open per origin (in use or idle); more requests wait, in FIFO order. Idle
/// connections close after client_options::idle_timeout. A pooled connection that the server
/// has closed is noticed before it is reused (a non-blocking read sees the end of the stream)
/// and, for the race where the server closes it while the request is being sent, a GET, HEAD,
/// PUT, DELETE, OPTIONS or TRACE that fails on a reused connection before any byte of the
/// response has arrived is sent once more on a new connection (as urllib3 and httpx do).
///
/// Requests: sends Host, User-Agent "corio/0.1", Accept-Encoding "identity" (no decompression),
/// Connection "keep-alive", Content-Length for a body, then the request's and client's headers.
/// 1xx interim responses are skipped. Bodies: Content-Length, chunked (trailers are read and
/// dropped) and until-close; none for HEAD, 1xx, 204 and 304.
///
/// Redirects (follow_redirects, max_redirects): 301, 302 and 303 are followed with GET and no
/// body (HEAD stays HEAD), 307 and 308 with the same method and body; Authorization is dropped
/// when the redirect leaves the origin (scheme, host or port change). The body of a redirect
/// response is read and dropped (so its connection can be reused) when it is small, else the
/// connection is closed.
///
/// Cancellation (of any request or read): the connection in use is closed at once, never
/// returned to the pool half-read; nothing else is lost. timeout_error comes from the request's
/// total timeout (client_options::timeout, request_options::timeout) and from connect_timeout.
///
/// Errors: std::invalid_argument (a bad URL or header); net::dns_error and net::connect_error
/// (std::system_error) when no connection can be made; std::system_error for I/O errors;
/// timeout_error; parse_error for a malformed or truncated response (status 502) or a body over
/// max_body (413); redirect_error; tls::tls_error when an https server fails verification or the
/// handshake.
///
/// Lifetime: a client belongs to the loop (thread) that first uses it; create and destroy it in
/// that loop's tasks. It must outlive the requests in progress; responses may outlive it.
/// Destroying it (or close()) closes its idle connections.
///
/// Example:
/// @code
/// corio::http::client c;
/// auto r = co_await c.get("http://example.com/");
/// r.raise_for_status();
/// std::cout << r.body();
/// @endcode
class client {
  public:
    explicit client(client_options options = {});
    client(client&&) noexcept;
    client& operator=(client&&) noexcept;
    client(const client&) = delete;
    client& operator=(const client&) = delete;
    /// Closes the idle connections (close()).
    ~client();

    /// Sends a request and reads the whole response, body included (bounded by max_body).
    /// The method is sent as given ("GET", "POST"...). Every argument is copied at the call, so
    /// the task may be awaited later.
    ///
    /// g++ 12: arguments are views and references on purpose (a temporary std::string or
    /// request_options inside a `co_await` expression is destroyed twice, see DESIGN.md): pass
    /// request_options as a named variable, not as `{...}`.
    ///
    /// Cancellation and errors: see the class.
    [[nodiscard]] task<client_response> request(std::string_view method, std::string_view url);
    [[nodiscard]] task<client_response> request(std::string_view method, std::string_view url,
                                                const request_options& options);
    /// Like request(), but returns once the head has arrived, the body unread: read it with
    /// read_some(), read_chunk() or read_all() (httpx's client.stream). The connection stays
    /// taken until the body has been read to its end or the response is destroyed.
    [[nodiscard]] task<client_response> stream(std::string_view method, std::string_view url);
    [[nodiscard]] task<client_response> stream(std::string_view method, std::string_view url,
                                               const request_options& options);
    /// request("GET", url[, options]).
    [[nodiscard]] task<client_response> get(std::string_view url);
    [[nodiscard]] task<client_response> get(std::string_view url, const request_options& options);
    /// request("HEAD", url[, options]).
    [[nodiscard]] task<client_response> head(std::string_view url);
    [[nodiscard]] task<client_response> head(std::string_view url, const request_options& options);
    /// request("POST", url[, options]) with `body` and, if not empty, Content-Type
    /// `content_type` (these replace options.body and options.content_type).
    [[nodiscard]] task<client_response> post(std::string_view url, std::string_view body,
                                             std::string_view content_type = {});
    [[nodiscard]] task<client_response> post(std::string_view url, std::string_view body,
                                             std::string_view content_type,
                                             const request_options& options);

    /// Closes every idle connection now; connections in use close when their response ends.
    /// The client can still be used afterwards (new connections are made).
    void close() noexcept;

    /// The number of connections open to `origin` (as url::origin(): "http://host:port"), in
    /// use or idle.
    [[nodiscard]] std::size_t open_connections(std::string_view origin) const noexcept;
    /// The number of idle pooled connections to `origin`.
    [[nodiscard]] std::size_t idle_connections(std::string_view origin) const noexcept;
    [[nodiscard]] const client_options& options() const noexcept;

  private:
    task<client_response> run(std::string method, std::string url, request_options options,
                              bool stream);
    std::unique_ptr<detail::client_state> m_state;
};

/// One-shot GET (requests.get): a fresh client for this call, closed when it returns, so no
/// connection is reused between calls; use an http::client for that (aiohttp's ClientSession).
/// The body is read. Arguments: as client::request().
/// Cancellation and errors: as client::request().
[[nodiscard]] task<client_response> get(std::string_view url);
[[nodiscard]] task<client_response> get(std::string_view url, const request_options& options);
/// One-shot POST (requests.post); see get().
[[nodiscard]] task<client_response> post(std::string_view url, std::string_view body,
                                         std::string_view content_type = {});
[[nodiscard]] task<client_response> post(std::string_view url, std::string_view body,
                                         std::string_view content_type,
                                         const request_options& options);
/// One-shot request of any method (requests.request; named fetch because http::request is the
/// server's request class); see get().
[[nodiscard]] task<client_response> fetch(std::string_view method, std::string_view url);
[[nodiscard]] task<client_response> fetch(std::string_view method, std::string_view url,
                                          const request_options& options);

} // namespace corio::http
