#pragma once
// The HTTP/1.1 message parser (RFC 9112): strict where request smuggling lives. It parses a
// message head from contiguous bytes without copying (the views point into the caller's buffer)
// and decodes chunked bodies incrementally. The client and the server are built on it; it is
// public so that other protocols over corio streams can use it too.
#include "corio/http/parse_error.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace corio::http {

/// Limits of what the parser accepts; going past one throws parse_error with the status a
/// server answers (431 for the head, 413 for the body).
struct parse_limits {
    /// The request or status line plus every header line, CRLFs included.
    std::size_t max_head_bytes = 16 * 1024;
    std::size_t max_header_count = 100;
    /// The decoded body (Content-Length or the sum of the chunks).
    std::uint64_t max_body_bytes = 8 * 1024 * 1024;
};

/// One header field as it came, name and value trimmed of surrounding spaces.
struct header_view {
    std::string_view name;
    std::string_view value;
};

/// How the body that follows a head is delimited.
enum class body_kind : std::uint8_t {
    none, ///< no body (a request without Content-Length and Transfer-Encoding, 204, 304, HEAD)
    content_length, ///< exactly content_length bytes
    chunked,        ///< Transfer-Encoding: chunked; decode with chunked_decoder
    until_close,    ///< a response body that ends when the connection does
};

/// A parsed request head. The views point into the buffer given to parse_request_head.
struct request_head {
    std::string_view method;
    std::string_view target;
    int version_minor = 1; ///< HTTP/1.<version_minor>; 0 or 1
    std::vector<header_view> headers;
    body_kind body = body_kind::none;
    std::uint64_t content_length = 0;
    bool keep_alive = true;       ///< from the version and the Connection header
    bool expect_continue = false; ///< Expect: 100-continue
    /// The first value of header `name` (case-insensitive), or empty.
    [[nodiscard]] std::string_view header(std::string_view name) const noexcept;
};

/// A parsed response head. The views point into the buffer given to parse_response_head.
struct response_head {
    int version_minor = 1;
    int status = 0;
    std::string_view reason;
    std::vector<header_view> headers;
    body_kind body = body_kind::none;
    std::uint64_t content_length = 0;
    bool keep_alive = true;
    [[nodiscard]] std::string_view header(std::string_view name) const noexcept;
};

/// Parses a request head at the start of `data`. Returns the bytes it takes (through the empty
/// line that ends the head) and fills `out`, or returns 0 when `data` holds no complete head yet
/// (call again with more bytes; `out` is then unspecified). Leading empty lines are skipped as
/// RFC 9112 §2.2 allows. `out.headers` is reused, so a connection parses without allocating once
/// warm.
/// Every line must end in CRLF (a bare LF is rejected like a bare CR). An incomplete head that
/// is already longer than max_head_bytes is rejected (431), so a client that never ends its head
/// is cut off. Parsing a prefix of some input returns 0 or the same result as the whole input.
/// Errors: parse_error (400 malformed or a smuggling shape: Content-Length with
/// Transfer-Encoding, differing duplicate Content-Length, obs-fold, a bare CR or LF, a space
/// before the colon, a CTL in a field value, no Host (or two) in HTTP/1.1, Transfer-Encoding in
/// HTTP/1.0 or not ending in chunked, chunked twice; 501 a transfer coding other than chunked;
/// 431 head over the limits; 413 Content-Length over max_body_bytes; 505 a version other than
/// HTTP/1.0 and 1.1).
std::size_t parse_request_head(std::string_view data, request_head& out,
                               const parse_limits& limits = {});

/// Parses a response head, as parse_request_head. `request_method` is the method of the request
/// it answers: a HEAD response, 1xx, 204 and 304 have no body.
/// A 2xx answer to CONNECT has no body either; a response without Content-Length and
/// Transfer-Encoding is read until close (and is not keep-alive).
/// Errors: parse_error (502 a malformed response, including Content-Length with
/// Transfer-Encoding and any transfer coding other than chunked; 431 head over the limits; 413
/// Content-Length over max_body_bytes).
std::size_t parse_response_head(std::string_view data, response_head& out,
                                std::string_view request_method = "GET",
                                const parse_limits& limits = {});

/// Decodes a chunked body incrementally (RFC 9112 §7.1): chunk sizes, extensions (skipped),
/// data, and the trailer section (skipped; its size counts against max_head_bytes).
class chunked_decoder {
  public:
    explicit chunked_decoder(const parse_limits& limits = {}) noexcept : m_limits(limits) {}

    /// What one call to decode found.
    struct step {
        std::size_t consumed = 0; ///< bytes of the input taken
        std::string_view data;    ///< body bytes found (a view into the input), may be empty
        bool done = false;        ///< the last chunk and the trailers have been read
    };

    /// Decodes from the start of `in`: returns at most one run of body bytes per call, so the
    /// caller loops while consumed > 0 and !done. Keeps its state between calls, so the input
    /// may be split anywhere.
    /// Errors: parse_error (400 a malformed size line, a chunk-size line over 4096 bytes, a
    /// missing CRLF or a malformed trailer field; 413 past max_body_bytes; 431 a trailer section
    /// over max_head_bytes or with more than max_header_count fields).
    step decode(std::string_view in);

    [[nodiscard]] bool done() const noexcept;
    [[nodiscard]] std::uint64_t body_bytes() const noexcept { return m_body_bytes; }

  private:
    parse_limits m_limits;
    // The state of the decoder between calls; the implementation owns its meaning.
    std::uint8_t m_state = 0;
    std::uint64_t m_chunk_left = 0;
    std::uint64_t m_body_bytes = 0;
    std::size_t m_line_bytes = 0;
};

} // namespace corio::http
