#pragma once
// The response an HTTP server handler returns (aiohttp's web.Response / StreamResponse).

#include "corio/core/task.hpp"
#include "corio/http/headers.hpp"
#include "corio/io/stream_writer.hpp"

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace corio::http {

/// Where a streamed response's handler writes the body. Each write() sends one chunk of the
/// chunked transfer coding (HTTP/1.1), or the bytes as they are to an HTTP/1.0 client, whose
/// connection then closes after the body. The server writes the last chunk once the stream
/// function returns.
class body_writer {
  public:
    /// For the server: writes into `out`, chunked or not.
    body_writer(stream_writer& out, bool chunked) noexcept : m_out(&out), m_chunked(chunked) {}

    /// Sends `data` as one chunk (nothing for empty data), then waits while the connection's
    /// write buffer is above its high-water mark (backpressure).
    /// Cancellation: the data is not withdrawn; only the wait ends.
    /// Errors: std::system_error when the client has gone (ECONNRESET, EPIPE).
    [[nodiscard]] task<void> write(std::string_view data);
    /// The body bytes written so far.
    [[nodiscard]] std::size_t bytes_written() const noexcept { return m_bytes; }
    /// For the server: sends the last chunk.
    void finish();

  private:
    stream_writer* m_out;
    bool m_chunked;
    std::size_t m_bytes = 0;
};

/// A streamed body: called once with the body_writer, it writes the body in pieces.
using body_stream = std::function<task<void>(body_writer&)>;

/// An HTTP response: status, optional reason phrase, headers, and a body given whole (`body`)
/// or produced by a function (`stream`).
///
/// The server adds Date, Content-Length (or Transfer-Encoding: chunked for a stream), Connection
/// when it closes the connection, Server when server_options::server_header is set, and the
/// content type of the factory functions unless `headers` has its own Content-Type. Do not set
/// Content-Length or Transfer-Encoding yourself. A response to HEAD goes without its body (its
/// Content-Length is the body's); 1xx, 204 and 304 responses never have one.
///
/// Example:
/// @code
/// co_return http::response::text(200, "Hello, World!");
/// co_return http::response::json(201, R"({"id":7})");
/// http::response r(302);
/// r.headers.add("Location", "/login");
/// co_return r;
/// @endcode
class response {
  public:
    /// An empty response with `status`.
    explicit response(int status_code = 200) noexcept : status(status_code) {}
    /// A response with `status` and `body` and no Content-Type.
    response(int status_code, std::string body_bytes) noexcept
        : status(status_code), body(std::move(body_bytes)) {}

    /// A text/plain; charset=utf-8 response.
    [[nodiscard]] static response text(int status_code, std::string body_text) noexcept {
        return typed(status_code, std::move(body_text), "text/plain; charset=utf-8");
    }
    /// A text/html; charset=utf-8 response.
    [[nodiscard]] static response html(int status_code, std::string body_html) noexcept {
        return typed(status_code, std::move(body_html), "text/html; charset=utf-8");
    }
    /// An application/json response (the body is sent as given).
    [[nodiscard]] static response json(int status_code, std::string body_json) noexcept {
        return typed(status_code, std::move(body_json), "application/json");
    }
    /// A streamed response: `fn` writes the body through a body_writer, sent with the chunked
    /// transfer coding. Content type: application/octet-stream unless set in the headers.
    ///
    /// Example:
    /// @code
    /// co_return http::response::stream(200, [](http::body_writer& w) -> task<void> {
    ///     for (int i = 0; i < 3; ++i) {
    ///         std::string line = std::to_string(i) + "\n";
    ///         co_await w.write(line);
    ///     }
    /// });
    /// @endcode
    /// An exception from `fn` aborts the connection (the status line has gone out already).
    [[nodiscard]] static response stream(int status_code, body_stream fn) {
        response r(status_code);
        r.body_fn = std::move(fn);
        r.m_default_type = "application/octet-stream";
        return r;
    }

    /// Sets the Content-Type header.
    void set_content_type(std::string type) { headers.set("Content-Type", std::move(type)); }
    /// The Content-Type header if set, else the factory's type, else empty.
    [[nodiscard]] std::string_view content_type() const noexcept {
        if (auto v = headers.get("Content-Type"))
            return *v;
        return m_default_type;
    }

    /// The status code (100-999).
    int status = 200;
    /// The reason phrase; empty sends the standard one ("Not Found").
    std::string reason;
    /// Header fields besides those the server adds.
    http::headers headers;
    /// The body (ignored when body_fn is set).
    std::string body;
    /// The streamed body, if any.
    body_stream body_fn;

  private:
    static response typed(int status_code, std::string b, const char* type) noexcept {
        response r(status_code, std::move(b));
        r.m_default_type = type;
        return r;
    }
    // A content type with static storage, used when `headers` has none: the factories set it
    // without allocating.
    const char* m_default_type = "";
};

/// The standard reason phrase of `status` ("OK", "Not Found"), or "Unknown".
[[nodiscard]] std::string_view reason_phrase(int status) noexcept;

} // namespace corio::http
