#pragma once

#include "corio/net/ip_address.hpp"

#include <sys/socket.h>

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace corio::net {

/// An IP address and a port: where a TCP or UDP socket is bound or connected (the (host, port)
/// tuples of Python's socket module, as a value type).
///
/// Trivially copyable, comparable and hashable. The default value is 0.0.0.0:0.
///
/// Example:
/// @code
/// corio::net::endpoint ep(corio::net::ip_address::v6_loopback(), 80);
/// assert(ep.to_string() == "[::1]:80");
/// assert(corio::net::endpoint::parse("127.0.0.1:8080").port() == 8080);
/// @endcode
class endpoint {
  public:
    /// 0.0.0.0:0.
    constexpr endpoint() noexcept = default;
    constexpr endpoint(ip_address address, std::uint16_t port) noexcept
        : m_address(address), m_port(port) {}

    /// Parses "192.0.2.1:80", "[2001:db8::1]:443" or "[fe80::1%eth0]:22". The port is required
    /// (0 to 65535).
    /// Errors: std::invalid_argument naming the text.
    static endpoint parse(std::string_view text);

    /// Reads a sockaddr_in or sockaddr_in6 of `length` bytes.
    /// Errors: std::invalid_argument for another family or a short length.
    static endpoint from_sockaddr(const sockaddr* address, socklen_t length);
    static endpoint from_sockaddr(const sockaddr_storage& address, socklen_t length) {
        return from_sockaddr(reinterpret_cast<const sockaddr*>(&address), length);
    }

    [[nodiscard]] constexpr const ip_address& address() const noexcept { return m_address; }
    [[nodiscard]] constexpr std::uint16_t port() const noexcept { return m_port; }
    /// AF_INET or AF_INET6.
    [[nodiscard]] int family() const noexcept { return m_address.family(); }
    [[nodiscard]] constexpr bool is_v4() const noexcept { return m_address.is_v4(); }
    [[nodiscard]] constexpr bool is_v6() const noexcept { return m_address.is_v6(); }

    /// Writes the sockaddr_in or sockaddr_in6 and returns its length.
    socklen_t to_sockaddr(sockaddr_storage& out) const noexcept;

    /// "192.0.2.1:80", "[2001:db8::1]:443".
    [[nodiscard]] std::string to_string() const;

    friend constexpr bool operator==(const endpoint&, const endpoint&) noexcept = default;
    friend constexpr std::strong_ordering operator<=>(const endpoint& a,
                                                      const endpoint& b) noexcept {
        if (auto c = a.m_address <=> b.m_address; c != 0)
            return c;
        return a.m_port <=> b.m_port;
    }

  private:
    ip_address m_address;
    std::uint16_t m_port = 0;
};

} // namespace corio::net

/// Hashes the endpoint (for unordered containers).
template <>
struct std::hash<corio::net::endpoint> {
    std::size_t operator()(const corio::net::endpoint& e) const noexcept;
};
