#pragma once
// An absolute http:// or https:// URL as the HTTP client needs it (RFC 3986 / RFC 9110 §4.2):
// parsed, validated and split into what a connection and a request line use.

#include <cstdint>
#include <string>
#include <string_view>

namespace corio::http {

/// An absolute `http` or `https` URL, parsed and validated (RFC 3986, RFC 9110 §4.2).
///
/// Normalised on parsing: the scheme and a registered host name are lower-cased, the port
/// defaults to 80 or 443, an empty path becomes "/", dot segments ("/a/./b/../c") are removed,
/// the fragment ("#...") is dropped (it is never sent). Percent-encoding is validated ("%" and two
/// hex digits) but not decoded: the path and query are sent as written.
///
/// Refused (std::invalid_argument naming the problem and the URL): another scheme, no host, a
/// port outside 1-65535, a bad IPv6 literal or one with a zone ("%25eth0"), spaces, control
/// characters and non-ASCII bytes (percent-encode them), a bad percent-escape, and userinfo
/// ("user:pass@host"): corio::http does not turn userinfo into credentials, and sending it in
/// Host would be wrong, so it is refused rather than silently dropped; send an Authorization
/// header instead. The message then omits the URL, so that it never carries a password.
///
/// Example:
/// @code
/// auto u = corio::http::url::parse("http://[::1]:8080/a/../b?q=1#top");
/// u.host();        // "::1" (what to connect to)
/// u.port();        // 8080
/// u.target();      // "/b?q=1" (the request target)
/// u.host_header(); // "[::1]:8080"
/// @endcode
class url {
  public:
    /// Parses an absolute URL.
    /// Errors: std::invalid_argument, e.g. "corio::http: URL has no host: 'http:///x'".
    [[nodiscard]] static url parse(std::string_view text);

    /// Resolves `reference` (a Location header's value, say) against this URL (RFC 3986 §5.2):
    /// absolute ("https://b/c"), scheme-relative ("//b/c"), absolute-path ("/c"), relative-path
    /// ("c", "../c", "./c;p"), query-only ("?y") and empty references, with dot segments removed.
    /// Errors: std::invalid_argument when the result is not a valid http(s) URL.
    [[nodiscard]] url resolve(std::string_view reference) const;

    /// "http" or "https".
    [[nodiscard]] const std::string& scheme() const noexcept { return m_scheme; }
    /// The host to connect to: a lower-cased name, an IPv4 address, or an IPv6 address without
    /// its brackets.
    [[nodiscard]] const std::string& host() const noexcept { return m_host; }
    /// The port, explicit or the scheme's default.
    [[nodiscard]] std::uint16_t port() const noexcept { return m_port; }
    /// The path, starting with '/'.
    [[nodiscard]] const std::string& path() const noexcept { return m_path; }
    /// The query without its '?' (empty when there is none or it is empty).
    [[nodiscard]] const std::string& query() const noexcept { return m_query; }
    /// True if the URL had a '?' (even with an empty query).
    [[nodiscard]] bool has_query() const noexcept { return m_has_query; }
    /// True for https.
    [[nodiscard]] bool is_https() const noexcept { return m_scheme == "https"; }
    /// True if the host is an IPv6 literal.
    [[nodiscard]] bool is_ipv6() const noexcept { return m_ipv6; }
    /// True if the port is the scheme's default (80 for http, 443 for https).
    [[nodiscard]] bool has_default_port() const noexcept;

    /// The request target (origin-form): path, then '?' and the query if there was one.
    [[nodiscard]] std::string target() const;
    /// The Host header's value: the host (IPv6 in brackets), with ":port" when not the default.
    [[nodiscard]] std::string host_header() const;
    /// The scheme, host and port as "http://host:port" (the port only when not the default):
    /// two URLs with the same origin() share connections and credentials.
    [[nodiscard]] std::string origin() const;
    /// The whole URL, normalised, without fragment.
    [[nodiscard]] std::string str() const;

    friend bool operator==(const url&, const url&) = default;

  private:
    std::string m_scheme;
    std::string m_host;
    std::uint16_t m_port = 0;
    bool m_ipv6 = false;
    bool m_has_query = false;
    std::string m_path;
    std::string m_query;
};

} // namespace corio::http
