#pragma once

#include "corio/net/endpoint.hpp"
#include "corio/net/unix_endpoint.hpp"

#include <sys/socket.h>

#include <string>

namespace corio::net {

/// Any socket address, as the kernel passes it (a sockaddr_storage and its length): what the
/// generic calls (net::socket, sock_accept, sock_recvfrom) take and return when the family is not
/// known in advance. Converts to and from endpoint (IPv4/IPv6) and unix_endpoint.
///
/// Example:
/// @code
/// auto [conn, peer] = co_await corio::net::sock_accept(listen_fd);
/// if (peer.is_ip())
///     log(peer.to_endpoint().to_string());
/// @endcode
class socket_address {
  public:
    /// Empty: family AF_UNSPEC, length 0.
    socket_address() noexcept;
    /// Implicit: an endpoint is a socket address.
    socket_address(const endpoint& e) noexcept;
    socket_address(const unix_endpoint& e) noexcept;
    /// Copies `length` bytes of `address` (at most sizeof(sockaddr_storage)).
    socket_address(const sockaddr* address, socklen_t length) noexcept;

    /// AF_INET, AF_INET6, AF_UNIX, ... (AF_UNSPEC when empty).
    [[nodiscard]] int family() const noexcept;
    [[nodiscard]] bool is_ip() const noexcept;
    [[nodiscard]] bool is_unix() const noexcept { return family() == AF_UNIX; }

    /// Errors: std::invalid_argument when the family is not AF_INET or AF_INET6.
    [[nodiscard]] endpoint to_endpoint() const;
    /// Errors: std::invalid_argument when the family is not AF_UNIX.
    [[nodiscard]] unix_endpoint to_unix_endpoint() const;

    /// The endpoint text, the Unix path, or "<family N>" for another family.
    [[nodiscard]] std::string to_string() const;

    [[nodiscard]] const sockaddr* data() const noexcept {
        return reinterpret_cast<const sockaddr*>(&m_storage);
    }
    [[nodiscard]] sockaddr* data() noexcept { return reinterpret_cast<sockaddr*>(&m_storage); }
    [[nodiscard]] socklen_t size() const noexcept { return m_length; }
    /// For calls that fill the address: the capacity, then the length they report.
    [[nodiscard]] static constexpr socklen_t capacity() noexcept {
        return sizeof(sockaddr_storage);
    }
    void resize(socklen_t length) noexcept {
        m_length = length <= capacity() ? length : capacity();
    }

  private:
    sockaddr_storage m_storage;
    socklen_t m_length = 0;
};

} // namespace corio::net
