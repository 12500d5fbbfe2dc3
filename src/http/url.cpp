// http::url: RFC 3986 parsing, validation and reference resolution for http and https.

#include "corio/http/url.hpp"

#include "corio/net/ip_address.hpp"

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace corio::http {

namespace {

[[noreturn]] void fail(std::string_view problem, std::string_view text) {
    std::string msg = "corio::http: ";
    msg += problem;
    msg += ": '";
    msg += text;
    msg += '\'';
    throw std::invalid_argument(msg);
}

constexpr bool is_alpha(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}
constexpr bool is_hex(char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr char to_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}
constexpr bool is_unreserved(char c) noexcept {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
constexpr bool is_sub_delim(char c) noexcept {
    switch (c) {
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
        return true;
    default:
        return false;
    }
}
/// Printable ASCII that RFC 3986 does not allow in a path or query but that real URLs (and
/// Location headers) carry: percent-encoded on parsing, as browsers and requests do.
constexpr bool is_encoded_on_parse(char c) noexcept {
    switch (c) {
    case '"':
    case '<':
    case '>':
    case '\\':
    case '^':
    case '`':
    case '{':
    case '|':
    case '}':
    case '[':
    case ']':
        return true;
    default:
        return false;
    }
}

/// The five components of a URI reference (RFC 3986 appendix B); a component that is absent
/// is nullopt (the path is always there, maybe empty). Fragments are dropped.
struct reference_parts {
    std::optional<std::string_view> scheme;
    std::optional<std::string_view> authority;
    std::string_view path;
    std::optional<std::string_view> query;
};

/// Checks the bytes every part shares: no space, control character or non-ASCII byte, and
/// well-formed percent-escapes.
void check_bytes(std::string_view text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c <= 0x20 || c >= 0x7f)
            fail("URL contains a space, control character or non-ASCII byte (percent-encode it)",
                 text);
        if (c == '%' && (i + 2 >= text.size() || !is_hex(text[i + 1]) || !is_hex(text[i + 2])))
            fail("URL has a '%' not followed by two hex digits", text);
    }
}

reference_parts split(std::string_view ref) {
    reference_parts out;
    if (const auto hash = ref.find('#'); hash != std::string_view::npos)
        ref = ref.substr(0, hash);
    // A scheme is letters, digits, '+', '-', '.' before the first ':', starting with a letter,
    // and only if that ':' comes before any '/', '?'.
    const auto colon = ref.find_first_of(":/?");
    if (colon != std::string_view::npos && ref[colon] == ':' && colon > 0 && is_alpha(ref[0])) {
        bool ok = true;
        for (std::size_t i = 1; i < colon; ++i) {
            const char c = ref[i];
            if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.')
                ok = false;
        }
        if (ok) {
            out.scheme = ref.substr(0, colon);
            ref.remove_prefix(colon + 1);
        }
    }
    if (ref.starts_with("//")) {
        ref.remove_prefix(2);
        const auto end = ref.find_first_of("/?");
        out.authority = ref.substr(0, end);
        ref = end == std::string_view::npos ? std::string_view() : ref.substr(end);
    }
    const auto q = ref.find('?');
    out.path = ref.substr(0, q);
    if (q != std::string_view::npos)
        out.query = ref.substr(q + 1);
    return out;
}

/// RFC 3986 §5.2.4.
std::string remove_dot_segments(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    while (!in.empty()) {
        if (in.starts_with("../")) {
            in.remove_prefix(3);
        } else if (in.starts_with("./")) {
            in.remove_prefix(2);
        } else if (in.starts_with("/./")) {
            in.remove_prefix(2);
        } else if (in == "/.") {
            in = "/";
        } else if (in.starts_with("/../") || in == "/..") {
            in = in.size() == 3 ? std::string_view("/") : in.substr(3);
            const auto slash = out.rfind('/');
            out.erase(slash == std::string::npos ? 0 : slash);
        } else if (in == "." || in == "..") {
            in = {};
        } else {
            const auto next = in.find('/', in.front() == '/' ? 1 : 0);
            const auto seg = in.substr(0, next);
            out += seg;
            in.remove_prefix(seg.size());
        }
    }
    return out;
}

/// Appends `part` (a path or a query) to `out`, percent-encoding the few printable characters
/// RFC 3986 leaves out of both.
void append_encoded(std::string& out, std::string_view part) {
    static constexpr char hex[] = "0123456789ABCDEF";
    for (const char c : part) {
        if (is_encoded_on_parse(c)) {
            out += '%';
            out += hex[static_cast<unsigned char>(c) >> 4];
            out += hex[static_cast<unsigned char>(c) & 0xf];
        } else {
            out += c;
        }
    }
}

} // namespace

url url::parse(std::string_view text) {
    check_bytes(text);
    const reference_parts parts = split(text);
    if (!parts.scheme)
        fail("URL has no scheme (expected http:// or https://)", text);
    url u;
    for (const char c : *parts.scheme)
        u.m_scheme += to_lower(c);
    if (u.m_scheme != "http" && u.m_scheme != "https")
        fail("unsupported URL scheme '" + u.m_scheme + "' (expected http or https)", text);
    if (!parts.authority || parts.authority->empty())
        fail("URL has no host", text);
    std::string_view authority = *parts.authority;
    if (authority.find('@') != std::string_view::npos)
        throw std::invalid_argument(
            "corio::http: URL has userinfo (user:password@), which is not supported: send an "
            "Authorization header instead");

    std::string_view port_text;
    bool has_port = false;
    if (authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos)
            fail("URL has an IPv6 address without its closing ']'", text);
        const std::string_view literal = authority.substr(1, close - 1);
        if (literal.find('%') != std::string_view::npos)
            fail("URL has an IPv6 zone identifier, which is not supported", text);
        const auto ip = net::ip_address::try_parse(literal);
        if (!ip || !ip->is_v6())
            fail("URL has a bad IPv6 address", text);
        for (const char c : literal)
            u.m_host += to_lower(c);
        u.m_ipv6 = true;
        const std::string_view rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':')
                fail("URL has characters after the IPv6 address", text);
            has_port = true;
            port_text = rest.substr(1);
        }
    } else {
        const auto colon = authority.find(':');
        const std::string_view host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            has_port = true;
            port_text = authority.substr(colon + 1);
        }
        if (host.empty())
            fail("URL has no host", text);
        for (const char c : host) {
            if (!is_unreserved(c) && !is_sub_delim(c) && c != '%')
                fail("URL has a bad character in its host", text);
            u.m_host += to_lower(c);
        }
    }

    u.m_port = u.is_https() ? 443 : 80;
    if (has_port && !port_text.empty()) {
        std::uint32_t port = 0;
        for (const char c : port_text) {
            if (!is_digit(c))
                fail("URL has a port that is not a number", text);
            port = port * 10 + static_cast<std::uint32_t>(c - '0');
            if (port > 65535)
                break;
        }
        if (port == 0 || port > 65535)
            fail("URL has a port outside 1-65535", text);
        u.m_port = static_cast<std::uint16_t>(port);
    }

    std::string path = remove_dot_segments(parts.path);
    if (path.empty() || path.front() != '/')
        path.insert(path.begin(), '/');
    u.m_path.reserve(path.size());
    append_encoded(u.m_path, path);
    if (parts.query) {
        u.m_has_query = true;
        append_encoded(u.m_query, *parts.query);
    }
    return u;
}

url url::resolve(std::string_view reference) const {
    check_bytes(reference);
    const reference_parts r = split(reference);
    std::string out;
    if (r.scheme)
        return parse(reference);
    out = m_scheme;
    out += "://";
    if (r.authority) {
        out += *r.authority;
        out += r.path;
        if (r.query) {
            out += '?';
            out += *r.query;
        }
        return parse(out);
    }
    out += host_header();
    if (r.path.empty()) {
        out += m_path;
        if (r.query) {
            out += '?';
            out += *r.query;
        } else if (m_has_query) {
            out += '?';
            out += m_query;
        }
        return parse(out);
    }
    if (r.path.front() == '/') {
        out += r.path;
    } else {
        // Merge (§5.2.3): the base path up to its last '/', then the reference's path. The base
        // always has an authority and a path starting with '/'.
        out += std::string_view(m_path).substr(0, m_path.rfind('/') + 1);
        out += r.path;
    }
    if (r.query) {
        out += '?';
        out += *r.query;
    }
    return parse(out);
}

bool url::has_default_port() const noexcept {
    return m_port == (is_https() ? 443 : 80);
}

std::string url::target() const {
    std::string t;
    t.reserve(m_path.size() + 1 + m_query.size());
    t += m_path;
    if (m_has_query) {
        t += '?';
        t += m_query;
    }
    return t;
}

std::string url::host_header() const {
    std::string h;
    h.reserve(m_host.size() + 8);
    if (m_ipv6) {
        h += '[';
        h += m_host;
        h += ']';
    } else {
        h += m_host;
    }
    if (!has_default_port()) {
        h += ':';
        h += std::to_string(m_port);
    }
    return h;
}

std::string url::origin() const {
    return m_scheme + "://" + host_header();
}

std::string url::str() const {
    return origin() + target();
}

} // namespace corio::http
