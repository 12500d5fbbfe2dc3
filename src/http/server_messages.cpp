// http::request, http::response and http::body_writer: the server's message types.
#include "corio/http/request.hpp"
#include "corio/http/response.hpp"

#include <charconv>

namespace corio::http {

request::request(std::string_view method, std::string_view target, http::headers headers,
                 std::string body)
    : m_body(std::move(body)) {
    std::size_t total = method.size() + target.size();
    for (const auto& [name, value] : headers)
        total += name.size() + value.size();
    // Reserved once, so the views taken below stay valid.
    m_owned.reserve(total);
    auto keep = [this](std::string_view s) {
        const std::size_t at = m_owned.size();
        m_owned.append(s);
        return std::string_view(m_owned.data() + at, s.size());
    };
    m_head.method = keep(method);
    m_head.target = keep(target);
    for (const auto& [name, value] : headers)
        m_head.headers.push_back({keep(name), keep(value)});
    const std::string_view conn = m_head.header("Connection");
    m_head.keep_alive = !iequals(conn, "close");
    if (!m_body.empty()) {
        m_head.body = body_kind::content_length;
        m_head.content_length = m_body.size();
    }
    split_target();
}

void request::split_target() noexcept {
    const std::string_view t = m_head.target;
    const auto q = t.find('?');
    if (q == std::string_view::npos) {
        m_path = t;
        m_query = {};
    } else {
        m_path = t.substr(0, q);
        m_query = t.substr(q + 1);
    }
}

void request::reset() noexcept {
    m_params.clear();
    m_body.clear();
    if (m_headers_ready) {
        m_headers.clear();
        m_headers_ready = false;
    }
}

const http::headers& request::headers() const {
    if (!m_headers_ready) {
        m_headers.clear();
        for (const header_view& h : m_head.headers)
            m_headers.add(std::string(h.name), std::string(h.value));
        m_headers_ready = true;
    }
    return m_headers;
}

std::string_view request::param(std::string_view name) const noexcept {
    for (const auto& [n, v] : m_params)
        if (n == name)
            return v;
    return {};
}

std::string_view reason_phrase(int status) noexcept {
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 203:
        return "Non-Authoritative Information";
    case 204:
        return "No Content";
    case 205:
        return "Reset Content";
    case 206:
        return "Partial Content";
    case 300:
        return "Multiple Choices";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 421:
        return "Misdirected Request";
    case 422:
        return "Unprocessable Content";
    case 426:
        return "Upgrade Required";
    case 428:
        return "Precondition Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

task<void> body_writer::write(std::string_view data) {
    if (data.empty())
        co_return;
    if (m_chunked) {
        char size_line[24];
        auto [end, ec] = std::to_chars(size_line, size_line + 16, data.size(), 16);
        (void)ec;
        *end++ = '\r';
        *end++ = '\n';
        m_out->write_nowait(std::string_view(size_line, static_cast<std::size_t>(end - size_line)));
        m_out->write_nowait(data);
        m_bytes += data.size();
        co_await m_out->write(std::string_view("\r\n"));
    } else {
        m_bytes += data.size();
        co_await m_out->write(data);
    }
}

void body_writer::finish() {
    if (m_chunked)
        m_out->write_nowait(std::string_view("0\r\n\r\n"));
}

} // namespace corio::http
