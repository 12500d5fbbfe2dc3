#pragma once

#include <string>

namespace corio {
class stream_writer;
struct streams;
} // namespace corio

namespace corio::tls {

/// What a TLS connection negotiated (asyncio's ssl_object.version(), cipher(),
/// selected_alpn_protocol(), server_hostname and getpeercert()'s subject).
struct session_info {
    /// "TLSv1.2" or "TLSv1.3".
    std::string version;
    /// The cipher suite's OpenSSL name, e.g. "TLS_AES_256_GCM_SHA384".
    std::string cipher;
    /// The ALPN protocol agreed on, or "" when none was.
    std::string alpn;
    /// SNI: on a server, the name the client asked for; on a client, the name it sent ("" when
    /// none, e.g. when connecting to an IP address).
    std::string server_name;
    /// The peer certificate's subject, one line, RFC 2253 ("CN=localhost,O=corio"), or "" when
    /// the peer sent no certificate (a client, usually).
    std::string peer_subject;
    /// True when the peer's certificate was verified (and, on a client, its name checked).
    bool peer_verified = false;
};

/// What the TLS connection under `writer` negotiated.
/// Errors: std::invalid_argument when the stream is not a TLS stream (or is empty).
///
/// Example:
/// @code
/// auto s = co_await corio::tls::open_connection("example.com", 443, ctx);
/// if (corio::tls::get_session_info(s.writer).alpn == "h2") ...
/// @endcode
[[nodiscard]] session_info get_session_info(const stream_writer& writer);
/// get_session_info(s.writer).
[[nodiscard]] session_info get_session_info(const streams& s);

} // namespace corio::tls
