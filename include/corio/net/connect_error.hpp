#pragma once

#include "corio/net/endpoint.hpp"

#include <string>
#include <system_error>
#include <vector>

namespace corio::net {

/// One failed connection attempt of open_tcp_connection.
struct connect_attempt {
    endpoint target;
    std::error_code error;
};

/// Every connection attempt of open_tcp_connection failed: the one error that lists them all, in
/// the order they started (asyncio raises one OSError for all of them too).
///
/// code() is the error the attempts share, or the first attempt's when they differ; what() is
/// "connect to example.com:80: [2001:db8::1]:80: Connection refused; 192.0.2.1:80: Network is
/// unreachable".
class connect_error : public std::system_error {
  public:
    /// `what` names the destination ("connect to example.com:80"). `attempts` must not be
    /// empty.
    connect_error(std::string what, std::vector<connect_attempt> attempts);

    /// The attempts, in the order they started.
    [[nodiscard]] const std::vector<connect_attempt>& attempts() const noexcept {
        return m_attempts;
    }
    [[nodiscard]] const char* what() const noexcept override { return m_what.c_str(); }

  private:
    std::vector<connect_attempt> m_attempts;
    std::string m_what;
};

} // namespace corio::net
