#pragma once

#include <string>
#include <system_error>

namespace corio::net {

/// The error category of getaddrinfo's EAI_* codes; message() is gai_strerror's text.
[[nodiscard]] const std::error_category& gai_category() noexcept;

/// A host name or service that did not resolve (asyncio's socket.gaierror): a std::system_error
/// whose code is the EAI_* code in gai_category() — or, for EAI_SYSTEM, the errno in
/// std::generic_category() — and whose message names the host, e.g. "resolve
/// nosuchhost.invalid port 80: Name or service not known".
///
/// Example:
/// @code
/// try { co_await corio::net::resolve(host, 80); }
/// catch (const corio::net::dns_error& e) {
///     if (e.code() == std::error_code(EAI_NONAME, corio::net::gai_category())) ...
/// }
/// @endcode
class dns_error : public std::system_error {
  public:
    /// `gai_code` is getaddrinfo's return value; `sys_errno` is errno for EAI_SYSTEM.
    dns_error(int gai_code, int sys_errno, std::string host, std::string service);

    [[nodiscard]] const std::string& host() const noexcept { return m_host; }
    [[nodiscard]] const std::string& service() const noexcept { return m_service; }
    /// The EAI_* code getaddrinfo returned.
    [[nodiscard]] int gai_code() const noexcept { return m_gai_code; }

  private:
    std::string m_host;
    std::string m_service;
    int m_gai_code;
};

} // namespace corio::net
