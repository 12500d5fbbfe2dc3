// The HTTP/1.1 parser (include/corio/http/parser.hpp): RFC 9112 message heads and chunked
// bodies, strict where request smuggling lives.
//
// Decisions, so that the server, a proxy in front of it and the tests agree:
// - Every line of a head, of a chunk-size line and of a trailer ends in CRLF. A bare LF line end
//   is rejected (400) as consistently as a bare CR (CVE-2023-30589): RFC 9112 §2.2 only *allows*
//   a recipient to accept a bare LF, and a parser that splits lines differently from the proxy in
//   front of it is how smuggling starts. (h11 accepts bare LF; the differential test says so.)
// - A head is parsed in one pass over the bytes, line by line, and errors are thrown as soon as a
//   byte proves the head wrong, even if the head is not complete yet. Every check depends only
//   on the bytes before the point where it fails, so parsing a prefix of some input either
//   returns 0 or gives the same result (or the same error) as parsing the whole input; the fuzz
//   targets check exactly that.
// - Only the first max_head_bytes of the input are looked at: an incomplete head that already
//   fills them is rejected with 431 (a slowloris that never sends the empty line is cut off).
// - The only transfer coding understood is chunked: a request with another coding gets 501
//   (after the 400 checks), a response with one is rejected (502) instead of being read until
//   close, since the client could not decode it anyway.
#include "corio/http/parser.hpp"

#include "corio/http/headers.hpp"

#include "http/parser_chars.hpp"

#include <algorithm>
#include <limits>
#include <string>

namespace corio::http {
namespace {

using detail::cc_field;
using detail::cc_hex;
using detail::cc_host;
using detail::cc_qdtext;
using detail::cc_tchar;
using detail::cc_vchar;
using detail::is;
using detail::scan_field;
using detail::scan_token;
using detail::scan_vchar;

[[noreturn, gnu::cold, gnu::noinline]] void fail(int status, const char* what) {
    throw parse_error(status, std::string("corio::http: ") + what);
}

[[nodiscard]] bool is_ows(char c) noexcept {
    return c == ' ' || c == '\t';
}

[[nodiscard]] const char* skip_ows(const char* p, const char* end) noexcept {
    while (p < end && is_ows(*p))
        ++p;
    return p;
}

[[nodiscard]] bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

/// Checks the line end at `p`, where a scan stopped. Returns the position after the CRLF, or
/// nullptr when the input ends first; throws for anything else (`what`: the message for a byte
/// that is neither CR nor LF).
const char* expect_crlf(const char* p, const char* end, int status, const char* what) {
    if (p == end)
        return nullptr;
    if (*p == '\r') {
        if (p + 1 == end)
            return nullptr;
        if (p[1] != '\n')
            fail(status, "bare CR in the head (a CR not followed by LF)");
        return p + 2;
    }
    if (*p == '\n')
        fail(status, "bare LF line end in the head (lines must end in CRLF)");
    fail(status, what);
}

/// Skips the empty lines (CRLF) that may come before a start line (RFC 9112 §2.2). nullptr when
/// the input ends inside one.
const char* skip_empty_lines(const char* p, const char* end, int status) {
    while (p < end && *p == '\r') {
        if (p + 1 == end)
            return nullptr;
        if (p[1] != '\n')
            fail(status, "bare CR in the head (a CR not followed by LF)");
        p += 2;
    }
    if (p < end && *p == '\n')
        fail(status, "bare LF line end in the head (lines must end in CRLF)");
    return p;
}

/// What the header fields say about framing and the connection, gathered field by field.
struct field_info {
    std::uint64_t content_length = 0;
    bool has_content_length = false;
    bool has_transfer_encoding = false;
    bool te_chunked = false;      ///< "chunked" appeared in Transfer-Encoding
    bool te_last_chunked = false; ///< the last coding so far is chunked
    bool te_other = false;        ///< a coding other than chunked appeared
    bool close = false;           ///< Connection: close
    bool keep_alive = false;      ///< Connection: keep-alive
    bool expect_continue = false; ///< Expect: 100-continue
    int host_count = 0;
};

/// Calls fn(element) for each element of a comma-separated list value (RFC 9110 §5.6.1), OWS
/// trimmed; empty elements are skipped, as a recipient must.
template <typename Fn>
void for_each_element(std::string_view value, Fn&& fn) {
    const char* p = value.data();
    const char* const end = p + value.size();
    while (p < end) {
        p = skip_ows(p, end);
        const char* s = p;
        while (p < end && *p != ',')
            ++p;
        const char* e = p;
        while (e > s && is_ows(e[-1]))
            --e;
        if (e > s)
            fn(std::string_view(s, static_cast<std::size_t>(e - s)));
        if (p < end)
            ++p; // the comma
    }
}

/// Content-Length = 1*DIGIT, or a list of identical ones (RFC 9110 §8.6); every value, across
/// fields too, must be the same.
void note_content_length(std::string_view value, field_info& info, int status) {
    const char* p = value.data();
    const char* const end = p + value.size();
    if (p == end)
        fail(status, "empty Content-Length");
    for (;;) {
        std::uint64_t n = 0;
        const char* const s = p;
        while (p < end && is_digit(*p)) {
            const auto d = static_cast<std::uint64_t>(*p - '0');
            if (n > (std::numeric_limits<std::uint64_t>::max() - d) / 10)
                fail(status, "Content-Length overflows 64 bits");
            n = n * 10 + d;
            ++p;
        }
        if (p == s)
            fail(status, "Content-Length is not a decimal number (1*DIGIT)");
        if (info.has_content_length && n != info.content_length)
            fail(status, "several Content-Length values that differ");
        info.has_content_length = true;
        info.content_length = n;
        p = skip_ows(p, end);
        if (p == end)
            return;
        if (*p != ',')
            fail(status, "Content-Length is not a decimal number (1*DIGIT)");
        p = skip_ows(p + 1, end);
        if (p == end)
            fail(status, "empty element in a Content-Length list");
    }
}

/// Skips the parameters of a transfer coding: *( OWS ";" OWS token BWS "=" BWS ( token /
/// quoted-string ) ). Returns the position after them.
const char* skip_coding_parameters(const char* p, const char* end, int status) {
    while (p < end && *p == ';') {
        p = skip_ows(p + 1, end);
        const char* s = p;
        p = scan_token(p, end);
        if (p == s)
            fail(status, "malformed Transfer-Encoding parameter");
        p = skip_ows(p, end);
        if (p == end || *p != '=')
            fail(status, "malformed Transfer-Encoding parameter");
        p = skip_ows(p + 1, end);
        if (p < end && *p == '"') {
            ++p;
            for (;;) {
                if (p == end)
                    fail(status, "unterminated quoted string in Transfer-Encoding");
                if (*p == '"')
                    break;
                if (*p == '\\') {
                    ++p;
                    if (p == end)
                        fail(status, "unterminated quoted string in Transfer-Encoding");
                } else if (!is(*p, cc_qdtext)) {
                    fail(status, "invalid character in a quoted string in Transfer-Encoding");
                }
                ++p;
            }
            ++p;
        } else {
            s = p;
            p = scan_token(p, end);
            if (p == s)
                fail(status, "malformed Transfer-Encoding parameter");
        }
        p = skip_ows(p, end);
    }
    return p;
}

/// Transfer-Encoding = #transfer-coding; several fields make one list, in order.
void note_transfer_encoding(std::string_view value, field_info& info, int status) {
    info.has_transfer_encoding = true;
    const char* p = value.data();
    const char* const end = p + value.size();
    if (p == end)
        fail(status, "empty Transfer-Encoding");
    for (;;) {
        const char* const s = p;
        p = scan_token(p, end);
        if (p == s)
            fail(status, "malformed Transfer-Encoding (a coding is not a token)");
        const std::string_view coding(s, static_cast<std::size_t>(p - s));
        p = skip_ows(p, end);
        const bool has_parameters = p < end && *p == ';';
        p = skip_coding_parameters(p, end, status);
        const bool chunked = iequals(coding, "chunked");
        if (chunked) {
            if (has_parameters)
                fail(status, "parameters on the chunked transfer coding");
            if (info.te_chunked)
                fail(status, "chunked applied more than once in Transfer-Encoding");
            info.te_chunked = true;
        } else {
            info.te_other = true;
        }
        info.te_last_chunked = chunked;
        if (p == end)
            return;
        if (*p != ',')
            fail(status, "malformed Transfer-Encoding");
        p = skip_ows(p + 1, end);
        if (p == end)
            fail(status, "empty element in a Transfer-Encoding list");
    }
}

void note_field(std::string_view name, std::string_view value, field_info& info, int status,
                bool request) {
    // Dispatch on the length first: most fields are none of these and cost one compare.
    switch (name.size()) {
    case 4:
        if (request && iequals(name, "host")) {
            if (++info.host_count > 1)
                fail(400, "more than one Host header field");
            for (char c : value)
                if (!is(c, cc_host))
                    fail(400, "invalid character in the Host header field");
        }
        break;
    case 6:
        if (iequals(name, "expect"))
            for_each_element(value, [&](std::string_view e) {
                if (iequals(e, "100-continue"))
                    info.expect_continue = true;
            });
        break;
    case 10:
        if (iequals(name, "connection"))
            for_each_element(value, [&](std::string_view e) {
                if (iequals(e, "close"))
                    info.close = true;
                else if (iequals(e, "keep-alive"))
                    info.keep_alive = true;
            });
        break;
    case 14:
        if (iequals(name, "content-length"))
            note_content_length(value, info, status);
        break;
    case 17:
        if (iequals(name, "transfer-encoding"))
            note_transfer_encoding(value, info, status);
        break;
    default:
        break;
    }
}

/// Parses the header field lines from `p` through the empty line that ends the head. Returns the
/// position after that line, or nullptr when the input ends first.
const char* parse_fields(const char* p, const char* end, std::vector<header_view>& headers,
                         field_info& info, const parse_limits& limits, int status, bool request) {
    for (;;) {
        if (p == end)
            return nullptr;
        const char c = *p;
        if (c == '\r') {
            if (p + 1 == end)
                return nullptr;
            if (p[1] != '\n')
                fail(status, "bare CR in the head (a CR not followed by LF)");
            return p + 2;
        }
        if (c == '\n')
            fail(status, "bare LF line end in the head (lines must end in CRLF)");
        if (is_ows(c))
            fail(status, headers.empty() ? "whitespace before the first header field"
                                         : "obs-fold (a header line starting with SP or HTAB)");
        const char* const name_start = p;
        p = scan_token(p, end);
        if (p == end)
            return nullptr;
        if (*p != ':') {
            if (is_ows(*p))
                fail(status, "whitespace before the colon of a header field");
            if (*p == '\r' || *p == '\n')
                fail(status, "header line without a colon");
            fail(status, "invalid character in a header field name");
        }
        if (p == name_start)
            fail(status, "empty header field name");
        const std::string_view name(name_start, static_cast<std::size_t>(p - name_start));
        p = skip_ows(p + 1, end);
        const char* const value_start = p;
        p = scan_field(p, end);
        const char* value_end = p;
        p = expect_crlf(p, end, status, "invalid character in a header field value");
        if (p == nullptr)
            return nullptr;
        while (value_end > value_start && is_ows(value_end[-1]))
            --value_end;
        if (headers.size() >= limits.max_header_count)
            fail(431, "more header fields than max_header_count");
        const std::string_view value(value_start,
                                     static_cast<std::size_t>(value_end - value_start));
        headers.push_back(header_view{name, value});
        note_field(name, value, info, status, request);
    }
}

/// The result for a head that is not complete in the window: 0 (more bytes may complete it), or
/// 431 once the input is longer than the head may be.
std::size_t incomplete(std::string_view data, const parse_limits& limits) {
    if (data.size() > limits.max_head_bytes)
        fail(431, "head larger than max_head_bytes");
    return 0;
}

[[nodiscard]] bool is_authority_form(std::string_view t) noexcept {
    // authority-form = uri-host ":" port (RFC 9112 §3.2.3); no userinfo.
    const std::size_t colon = t.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == t.size())
        return false;
    const std::string_view host = t.substr(0, colon);
    const std::string_view port = t.substr(colon + 1);
    if (!std::all_of(port.begin(), port.end(), is_digit))
        return false;
    if (host.front() == '[') {
        if (host.size() < 3 || host.back() != ']')
            return false;
        const std::string_view ip = host.substr(1, host.size() - 2);
        return std::all_of(ip.begin(), ip.end(), [](char c) {
            return is(c, cc_hex) || c == ':' || c == '.' || c == 'v' || c == 'V';
        });
    }
    return std::all_of(host.begin(), host.end(),
                       [](char c) { return is(c, cc_host) && c != ':' && c != '[' && c != ']'; });
}

[[nodiscard]] bool is_absolute_form(std::string_view t) noexcept {
    // absolute-URI starts with scheme ":" where scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
    if (t.empty() || !((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z')))
        return false;
    for (std::size_t i = 1; i < t.size(); ++i) {
        const char c = t[i];
        if (c == ':')
            return true;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '+' ||
              c == '-' || c == '.'))
            return false;
    }
    return false;
}

void check_target(std::string_view method, std::string_view target) {
    if (method == "CONNECT") {
        if (!is_authority_form(target))
            fail(400, "CONNECT needs an authority-form target (host:port)");
        return;
    }
    if (target.front() == '/')
        return; // origin-form
    if (target == "*") {
        if (method != "OPTIONS")
            fail(400, "asterisk-form target with a method other than OPTIONS");
        return;
    }
    if (!is_absolute_form(target))
        fail(400, "malformed request target (not origin-, absolute-, authority- or "
                  "asterisk-form)");
}

/// Parses the request line; returns the position after its CRLF or nullptr when incomplete.
const char* parse_request_line(const char* p, const char* end, request_head& out) {
    const char* s = p;
    p = scan_token(p, end);
    if (p == end)
        return nullptr;
    if (*p != ' ' || p == s)
        fail(400, p == s ? "request line does not start with a method token"
                         : "method is not a token followed by one SP");
    out.method = std::string_view(s, static_cast<std::size_t>(p - s));
    s = ++p;
    p = scan_vchar(p, end);
    if (p == end)
        return nullptr;
    if (*p != ' ') {
        if (*p == '\r' || *p == '\n')
            fail(400, "request line without an HTTP version");
        fail(400, "invalid character in the request target");
    }
    if (p == s)
        fail(400, "empty request target (more than one SP after the method)");
    out.target = std::string_view(s, static_cast<std::size_t>(p - s));
    s = ++p;
    p = scan_vchar(p, end);
    const std::string_view version(s, static_cast<std::size_t>(p - s));
    if (p < end && *p == ' ')
        fail(400, version.empty() ? "empty HTTP version (more than one SP after the target)"
                                  : "malformed request line (SP after the HTTP version)");
    p = expect_crlf(p, end, 400, "invalid character in the HTTP version");
    if (p == nullptr)
        return nullptr;
    if (version == "HTTP/1.1") {
        out.version_minor = 1;
    } else if (version == "HTTP/1.0") {
        out.version_minor = 0;
    } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && is_digit(version[5]) &&
               version[6] == '.' && is_digit(version[7])) {
        fail(505, "HTTP version not supported (only HTTP/1.0 and HTTP/1.1)");
    } else {
        fail(400, version.empty() ? "empty HTTP version (more than one SP after the target)"
                                  : "malformed HTTP version");
    }
    check_target(out.method, out.target);
    return p;
}

/// Parses the status line; returns the position after its CRLF or nullptr when incomplete.
const char* parse_status_line(const char* p, const char* end, response_head& out) {
    const char* s = p;
    p = scan_vchar(p, end);
    if (p == end)
        return nullptr;
    const std::string_view version(s, static_cast<std::size_t>(p - s));
    if (version == "HTTP/1.1")
        out.version_minor = 1;
    else if (version == "HTTP/1.0")
        out.version_minor = 0;
    else
        fail(502, "malformed or unsupported HTTP version in the status line");
    if (*p != ' ')
        fail(502, "malformed status line (no SP after the HTTP version)");
    ++p;
    int status = 0;
    for (int i = 0; i < 3; ++i, ++p) {
        if (p == end)
            return nullptr;
        if (!is_digit(*p))
            fail(502, "malformed status code (not three digits)");
        status = status * 10 + (*p - '0');
    }
    if (status < 100)
        fail(502, "status code out of range (100-999)");
    out.status = status;
    if (p == end)
        return nullptr;
    s = p;
    if (*p == ' ') {
        s = ++p;
        p = scan_field(p, end);
    }
    out.reason = std::string_view(s, static_cast<std::size_t>(p - s));
    return expect_crlf(p, end, 502, "invalid character in the status line");
}

/// Reads the start line of a head in non-empty `data` (after any empty lines) with
/// `parse_start_line`, then its header fields. Returns the position after the head, or nullptr
/// when the head is not complete yet. Errors: parse_error with `status`.
template <typename Head, typename ParseStartLine>
const char* parse_head_lines(std::string_view data, Head& out, field_info& info,
                             const parse_limits& limits, int status, bool request,
                             ParseStartLine parse_start_line) {
    const char* const begin = data.data();
    const char* const end = begin + std::min(data.size(), limits.max_head_bytes);
    const char* p = skip_empty_lines(begin, end, status);
    if (p == nullptr || (p = parse_start_line(p, end, out)) == nullptr)
        return nullptr;
    return parse_fields(p, end, out.headers, info, limits, status, request);
}

/// A body of Content-Length bytes. Errors: 413 when it is larger than max_body_bytes.
template <typename Head>
void set_content_length_body(Head& out, const field_info& info, const parse_limits& limits) {
    if (info.content_length > limits.max_body_bytes)
        fail(413, "Content-Length larger than max_body_bytes");
    out.body = body_kind::content_length;
    out.content_length = info.content_length;
}

/// Whether the fields leave the connection open: HTTP/1.1 unless "close", HTTP/1.0 only with
/// "keep-alive" (and no "close").
bool fields_keep_alive(bool v11, const field_info& info) noexcept {
    return v11 ? !info.close : (info.keep_alive && !info.close);
}

/// The value of the first field named `name` (case-insensitive), or "".
std::string_view find_header(const std::vector<header_view>& headers,
                             std::string_view name) noexcept {
    for (const auto& h : headers)
        if (iequals(h.name, name))
            return h.value;
    return {};
}

} // namespace

std::string_view request_head::header(std::string_view name) const noexcept {
    return find_header(headers, name);
}

std::string_view response_head::header(std::string_view name) const noexcept {
    return find_header(headers, name);
}

std::size_t parse_request_head(std::string_view data, request_head& out,
                               const parse_limits& limits) {
    out.headers.clear();
    out.body = body_kind::none;
    out.content_length = 0;
    out.expect_continue = false;
    if (data.empty())
        return 0;
    field_info info;
    const char* const p = parse_head_lines(data, out, info, limits, 400, true, parse_request_line);
    if (p == nullptr)
        return incomplete(data, limits);

    // The head is complete: what the fields say together (RFC 9112 §6, RFC 9110 §7.2).
    const bool v11 = out.version_minor == 1;
    if (v11 && info.host_count == 0)
        fail(400, "HTTP/1.1 request without a Host header field");
    if (info.has_transfer_encoding) {
        if (!v11)
            fail(400, "Transfer-Encoding in an HTTP/1.0 request");
        if (info.has_content_length)
            fail(400, "Content-Length together with Transfer-Encoding");
        if (!info.te_last_chunked)
            fail(400, "the final transfer coding of a request is not chunked");
        if (info.te_other)
            fail(501, "transfer coding not implemented (only chunked)");
        out.body = body_kind::chunked;
    } else if (info.has_content_length) {
        set_content_length_body(out, info, limits);
    }
    out.keep_alive = fields_keep_alive(v11, info);
    out.expect_continue = v11 && info.expect_continue;
    return static_cast<std::size_t>(p - data.data());
}

std::size_t parse_response_head(std::string_view data, response_head& out,
                                std::string_view request_method, const parse_limits& limits) {
    out.headers.clear();
    out.body = body_kind::none;
    out.content_length = 0;
    out.reason = {};
    if (data.empty())
        return 0;
    field_info info;
    const char* const p = parse_head_lines(data, out, info, limits, 502, false, parse_status_line);
    if (p == nullptr)
        return incomplete(data, limits);

    const bool v11 = out.version_minor == 1;
    if (info.has_transfer_encoding) {
        if (!v11)
            fail(502, "Transfer-Encoding in an HTTP/1.0 response");
        if (info.has_content_length)
            fail(502, "Content-Length together with Transfer-Encoding");
        if (info.te_other || !info.te_last_chunked)
            fail(502, "unsupported transfer coding in a response (only chunked)");
    }
    // RFC 9112 §6.3, in order.
    const int status = out.status;
    if (request_method == "HEAD" || status < 200 || status == 204 || status == 304 ||
        (request_method == "CONNECT" && status < 300)) {
        out.body = body_kind::none;
    } else if (info.has_transfer_encoding) {
        out.body = body_kind::chunked;
    } else if (info.has_content_length) {
        set_content_length_body(out, info, limits);
    } else {
        out.body = body_kind::until_close;
    }
    out.keep_alive = fields_keep_alive(v11, info) && out.body != body_kind::until_close;
    return static_cast<std::size_t>(p - data.data());
}

// ------------------------------------------------------------------ chunked_decoder ---

namespace {

// The states of chunked_decoder::m_state. m_chunk_left holds the size being read, then what is
// left of the chunk's data; in the trailer states it counts the trailer fields. m_line_bytes
// counts the bytes of the current chunk-size line, then of the whole trailer section.
enum chunk_state : std::uint8_t {
    st_size_start,      ///< before the first hex digit of a chunk size
    st_size,            ///< in the hex digits
    st_size_ws,         ///< BWS after the size: only ";" may follow
    st_ext_name_start,  ///< after ";" (BWS, then a token)
    st_ext_name,        ///< in an extension name
    st_ext_after_name,  ///< BWS after a name: "=" or ";" may follow
    st_ext_value_start, ///< after "=" (BWS, then a token or a quoted string)
    st_ext_value,       ///< in a token value
    st_ext_quoted,      ///< in a quoted-string value
    st_ext_quoted_pair, ///< after a backslash in a quoted string
    st_ext_after_value, ///< BWS after a value: only ";" may follow
    st_size_lf,         ///< after the CR of a chunk-size line
    st_data,            ///< in chunk data (m_chunk_left > 0)
    st_data_cr,         ///< after chunk data: CR
    st_data_lf,         ///< after chunk data: LF
    st_trailer_start,   ///< at the start of a trailer line (or the final CRLF)
    st_trailer_name,    ///< in a trailer field name
    st_trailer_value,   ///< in a trailer field value
    st_trailer_lf,      ///< after the CR of a trailer line
    st_end_lf,          ///< after the CR of the final empty line
    st_done,
};

constexpr std::size_t max_chunk_line = 4096; ///< a chunk-size line with its extensions

/// The state after a byte that ends a chunk extension's name or value (or follows its BWS):
/// ";" starts the next extension, CR ends the chunk-size line, BWS leads to `after`; anything
/// else fails with `what`.
chunk_state after_ext_token(char c, chunk_state after, const char* what) {
    if (c == ';')
        return st_ext_name_start;
    if (c == '\r')
        return st_size_lf;
    if (is_ows(c))
        return after;
    fail(400, what);
}

} // namespace

bool chunked_decoder::done() const noexcept {
    return m_state == st_done;
}

chunked_decoder::step chunked_decoder::decode(std::string_view in) {
    const char* const begin = in.data();
    const char* const end = begin + in.size();
    const char* p = begin;
    const auto consumed = [&] { return static_cast<std::size_t>(p - begin); };
    const std::size_t line_limit = std::min(max_chunk_line, m_limits.max_head_bytes);

    while (p < end) {
        const char c = *p;
        if (m_state <= st_size_lf && ++m_line_bytes > line_limit)
            fail(400, "chunk-size line too long");
        if (m_state >= st_trailer_start && m_state <= st_end_lf &&
            ++m_line_bytes > m_limits.max_head_bytes)
            fail(431, "trailer section larger than max_head_bytes");
        switch (m_state) {
        case st_size_start:
            if (!is(c, cc_hex))
                fail(400, "chunk size is not a hex number");
            m_chunk_left = 0;
            m_state = st_size;
            [[fallthrough]];
        case st_size:
            if (is(c, cc_hex)) {
                if (m_chunk_left > (std::numeric_limits<std::uint64_t>::max() >> 4))
                    fail(400, "chunk size overflows 64 bits");
                const int d = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
                m_chunk_left = (m_chunk_left << 4) | static_cast<std::uint64_t>(d);
                break;
            }
            if (c != ';' && c != '\r' && !is_ows(c))
                fail(400, "invalid character after a chunk size");
            if (m_chunk_left >
                m_limits.max_body_bytes - std::min(m_body_bytes, m_limits.max_body_bytes))
                fail(413, "chunked body larger than max_body_bytes");
            m_state = c == ';' ? st_ext_name_start : c == '\r' ? st_size_lf : st_size_ws;
            break;
        case st_size_ws:
            if (c == ';')
                m_state = st_ext_name_start;
            else if (!is_ows(c))
                fail(400, "whitespace after a chunk size not followed by an extension");
            break;
        case st_ext_name_start:
            if (is(c, cc_tchar))
                m_state = st_ext_name;
            else if (!is_ows(c))
                fail(400, "malformed chunk extension (name is not a token)");
            break;
        case st_ext_name:
            if (is(c, cc_tchar))
                break;
            if (c == '=')
                m_state = st_ext_value_start;
            else
                m_state =
                    after_ext_token(c, st_ext_after_name, "invalid character in a chunk extension");
            break;
        case st_ext_after_name:
            if (c == '=')
                m_state = st_ext_value_start;
            else if (c == ';')
                m_state = st_ext_name_start;
            else if (!is_ows(c))
                fail(400, "malformed chunk extension");
            break;
        case st_ext_value_start:
            if (c == '"')
                m_state = st_ext_quoted;
            else if (is(c, cc_tchar))
                m_state = st_ext_value;
            else if (!is_ows(c))
                fail(400, "malformed chunk extension value");
            break;
        case st_ext_value:
            if (is(c, cc_tchar))
                break;
            m_state = after_ext_token(c, st_ext_after_value,
                                      "invalid character in a chunk extension value");
            break;
        case st_ext_quoted:
            if (c == '"')
                m_state = st_ext_after_value;
            else if (c == '\\')
                m_state = st_ext_quoted_pair;
            else if (!is(c, cc_qdtext))
                fail(400, "invalid character in a quoted chunk extension value");
            break;
        case st_ext_quoted_pair:
            if (!is(c, cc_field))
                fail(400, "invalid character in a quoted chunk extension value");
            m_state = st_ext_quoted;
            break;
        case st_ext_after_value:
            m_state = after_ext_token(c, st_ext_after_value, "malformed chunk extension");
            break;
        case st_size_lf:
            if (c != '\n')
                fail(400, "bare CR in a chunk-size line");
            m_line_bytes = 0;
            if (m_chunk_left == 0) {
                m_state = st_trailer_start; // m_chunk_left now counts the trailer fields
            } else {
                m_state = st_data;
            }
            break;
        case st_data: {
            const auto n = static_cast<std::size_t>(
                std::min<std::uint64_t>(m_chunk_left, static_cast<std::uint64_t>(end - p)));
            const std::string_view data(p, n);
            p += n;
            m_chunk_left -= n;
            m_body_bytes += n;
            if (m_chunk_left == 0)
                m_state = st_data_cr;
            return step{consumed(), data, false};
        }
        case st_data_cr:
            if (c != '\r')
                fail(400, "chunk data not followed by CRLF");
            m_state = st_data_lf;
            break;
        case st_data_lf:
            if (c != '\n')
                fail(400, "chunk data not followed by CRLF");
            m_state = st_size_start;
            m_line_bytes = 0;
            break;
        case st_trailer_start:
            if (c == '\r') {
                m_state = st_end_lf;
            } else if (is(c, cc_tchar)) {
                if (m_chunk_left >= m_limits.max_header_count)
                    fail(431, "more trailer fields than max_header_count");
                ++m_chunk_left;
                m_state = st_trailer_name;
            } else if (c == '\n') {
                fail(400, "bare LF line end in the trailer section");
            } else if (is_ows(c)) {
                fail(400, "obs-fold (a trailer line starting with SP or HTAB)");
            } else {
                fail(400, "invalid character in a trailer field name");
            }
            break;
        case st_trailer_name:
            if (c == ':')
                m_state = st_trailer_value;
            else if (is_ows(c))
                fail(400, "whitespace before the colon of a trailer field");
            else if (!is(c, cc_tchar))
                fail(400, c == '\r' || c == '\n' ? "trailer line without a colon"
                                                 : "invalid character in a trailer field name");
            break;
        case st_trailer_value:
            if (c == '\r')
                m_state = st_trailer_lf;
            else if (c == '\n')
                fail(400, "bare LF line end in the trailer section");
            else if (!is(c, cc_field))
                fail(400, "invalid character in a trailer field value");
            break;
        case st_trailer_lf:
            if (c != '\n')
                fail(400, "bare CR in the trailer section");
            m_state = st_trailer_start;
            break;
        case st_end_lf:
            if (c != '\n')
                fail(400, "bare CR in the trailer section");
            m_state = st_done;
            ++p;
            return step{consumed(), {}, true};
        default: // st_done
            return step{consumed(), {}, true};
        }
        ++p;
    }
    return step{consumed(), {}, m_state == st_done};
}

} // namespace corio::http
