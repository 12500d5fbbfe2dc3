#pragma once

// OpenSSL helpers private to corio::tls: the error queue turned into tls_error, and the
// context's private state.

#include "corio/tls/context.hpp"
#include "corio/tls/tls_error.hpp"

#include <openssl/ssl.h>

#include <string>
#include <string_view>
#include <vector>

namespace corio::tls {

/// What a context holds: the SSL_CTX (one reference) and what OpenSSL keeps only by pointer.
struct context::impl {
    impl(SSL_CTX* c, bool server) noexcept : ctx(c), is_server(server) {}
    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;
    ~impl() { SSL_CTX_free(ctx); }

    SSL_CTX* ctx;
    bool is_server;
    bool verify = false;
    bool check_hostname = true;
    std::vector<std::string> alpn;
    /// `alpn` in the wire format (length-prefixed names), for OpenSSL.
    std::string alpn_wire;
};

namespace detail {

/// OpenSSL's error queue of this thread as text ("error:...; error:..."), emptying it.
std::string drain_errors();
/// Throws a tls_error "corio::tls: <what>: <OpenSSL's first reason> [<queue>]".
[[noreturn]] void throw_openssl(std::string_view what);
/// The error of a failed SSL call on `ssl`: names the first reason of the queue, the
/// certificate verification result when that is what failed, and carries the queue.
tls_error ssl_failure(SSL* ssl, std::string_view during);
/// `protocols` in ALPN's wire format. Errors: std::invalid_argument.
std::string alpn_wire(const std::vector<std::string>& protocols);

} // namespace detail
} // namespace corio::tls
