#pragma once
#include "corio/core/scheduler.hpp"
#include "corio/core/task.hpp"
#include "corio/http/headers.hpp"
#include "corio/http/url.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace corio::http {

class client;
namespace detail {
class client_body;
struct client_response_access;
} // namespace detail

/// A response received by http::client (aiohttp's ClientResponse, httpx's Response): status,
/// headers, final URL and body.
///
/// From client::request() (and http::get/post/fetch) the body has been read: body() holds it.
/// From client::stream() only the head has been read, and the body is read in pieces with
/// read_some() or read_chunk(), or all at once with read_all(). The connection goes back to the
/// client's pool once the whole body has been read; a response dropped (or failing) before that
/// closes its connection rather than return it half-read. A response may outlive its client.
///
/// Non-2xx statuses are not errors: test status() or call raise_for_status().
///
/// Move-only. Loop thread only.
///
/// Example (streaming):
/// @code
/// http::client c;
/// auto resp = co_await c.stream("GET", "http://example.com/big");
/// for (;;) {
///     std::string_view piece = co_await resp.read_some();
///     if (piece.empty()) break;            // end of the body
///     consume(piece);                      // valid until the next read
/// }
/// @endcode
class client_response {
  public:
    client_response() noexcept;
    client_response(client_response&&) noexcept;
    client_response& operator=(client_response&&) noexcept;
    client_response(const client_response&) = delete;
    client_response& operator=(const client_response&) = delete;
    /// Closes the connection if the body was not read to its end.
    ~client_response();

    /// The status code (200, 404...).
    [[nodiscard]] int status() const noexcept { return m_status; }
    /// The reason phrase as sent ("OK"; may be empty).
    [[nodiscard]] const std::string& reason() const noexcept { return m_reason; }
    /// The minor HTTP version of the response: 1 for HTTP/1.1, 0 for HTTP/1.0.
    [[nodiscard]] int version_minor() const noexcept { return m_version_minor; }
    /// The response's headers, in order (trailers of a chunked body are not included).
    [[nodiscard]] const http::headers& headers() const noexcept { return m_headers; }
    /// The URL this response came from: the request's, or the last redirect's.
    [[nodiscard]] const http::url& url() const noexcept { return m_url; }
    /// The number of redirects followed to get here.
    [[nodiscard]] int redirects() const noexcept { return m_redirects; }
    /// True for 2xx.
    [[nodiscard]] bool ok() const noexcept { return m_status >= 200 && m_status < 300; }

    /// The body read so far by request() or read_all() (empty for a streamed response before
    /// read_all()).
    [[nodiscard]] const std::string& body() const noexcept { return m_body; }
    /// True once the whole body has been read (at once for a response without a body).
    [[nodiscard]] bool body_complete() const noexcept;

    /// Throws status_error for a 4xx or 5xx status (requests' raise_for_status); returns
    /// otherwise. Errors: status_error ("corio::http: 404 Not Found for http://h/x").
    void raise_for_status() const;

    /// Reads the next piece of the body as it arrives, "" at its end. The view points into the
    /// connection's buffer and is valid until the next read or until the response is moved or
    /// destroyed. Pieces are at most client_options::buffer_size bytes; a chunked body is
    /// returned decoded.
    /// Cancellation: the connection is closed (the response cannot be read further: the next
    /// read throws std::logic_error); the piece is lost.
    /// Errors: std::system_error (I/O), parse_error (a malformed chunked body, or a connection
    /// that ends before Content-Length bytes came: 502), timeout_error (the request's deadline),
    /// std::logic_error (a read after a failed or cancelled read).
    [[nodiscard]] task<std::string_view> read_some();
    /// read_some(), copied into a string of at most `max_size` bytes ("" at the end).
    /// Cancellation and errors: as read_some().
    [[nodiscard]] task<std::string> read_chunk(std::size_t max_size = 64 * 1024);
    /// Reads the rest of the body into body() and returns it. The limit is the request's
    /// max_body (counting what read_some() returned before).
    /// Cancellation and errors: as read_some(); parse_error (413) past max_body.
    [[nodiscard]] task<const std::string&> read_all();

  private:
    friend struct detail::client_response_access;
    task<void> read_rest();
    task<std::string_view> read_piece(std::size_t max);

    int m_status = 0;
    int m_version_minor = 1;
    int m_redirects = 0;
    std::string m_reason;
    http::headers m_headers;
    http::url m_url;
    std::string m_body;
    std::uint64_t m_max_body = 0;
    /// The connection while the body is being read; null once it is complete (or failed).
    std::unique_ptr<detail::client_body> m_stream;
    /// The request's deadline for reads of a streamed body.
    std::optional<scheduler::time_point> m_deadline;
    /// Body bytes received but not yet returned (read_chunk took less than a piece): a view
    /// into the connection's buffer, which is not refilled before they are taken.
    std::string_view m_pending;
    /// A read failed or was cancelled: the body cannot be read further.
    bool m_broken = false;
};

} // namespace corio::http
