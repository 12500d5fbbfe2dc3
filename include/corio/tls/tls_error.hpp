#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace corio::tls {

/// A TLS failure: a handshake that failed (certificate verification, no common protocol or
/// cipher, an alert from the peer), a connection that ended without the peer's close_notify
/// (truncation), or a context that could not load a certificate or key.
///
/// what() names the problem and carries OpenSSL's error queue, e.g.
/// "corio::tls: certificate verify failed: unable to get local issuer certificate
/// [error:0A000086:SSL routines::certificate verify failed]".
class tls_error : public std::runtime_error {
  public:
    /// `what` is the whole message; `verify_result` is the X509 verification result (0: none,
    /// or the failure was not a verification failure); `openssl_errors` OpenSSL's error queue.
    explicit tls_error(const std::string& what, long verify_result = 0,
                       std::string openssl_errors = {})
        : std::runtime_error(what), m_verify_result(verify_result),
          m_openssl_errors(std::move(openssl_errors)) {}

    /// The peer certificate's verification result (OpenSSL's X509_V_ERR_* code), or 0 when the
    /// failure was not a verification failure.
    [[nodiscard]] long verify_result() const noexcept { return m_verify_result; }
    /// OpenSSL's error queue at the failure ("error:0A000086:SSL routines::...; ..."), or empty.
    [[nodiscard]] const std::string& openssl_errors() const noexcept { return m_openssl_errors; }

  private:
    long m_verify_result = 0;
    std::string m_openssl_errors;
};

} // namespace corio::tls
