#pragma once

#include "corio/net/endpoint.hpp"
#include "corio/net/ip_address.hpp"
#include "corio/net/socket.hpp"

#include <sys/socket.h>

#include <cstddef>
#include <optional>
#include <span>
#include <utility>

namespace corio::net {

/// How udp_socket::bind sets up the socket (asyncio's create_datagram_endpoint arguments).
struct udp_options {
    /// SO_REUSEADDR (for multicast receivers sharing a port).
    bool reuse_address = false;
    /// SO_REUSEPORT: several sockets share the port and the kernel balances datagrams.
    bool reuse_port = false;
    /// SO_BROADCAST: allow sending to broadcast addresses.
    bool broadcast = false;
    /// IPV6_V6ONLY for an IPv6 address; nullopt keeps the system default.
    std::optional<bool> v6_only = std::nullopt;
};

/// One datagram received by udp_socket::recv_from.
struct udp_datagram {
    /// The bytes stored in the buffer.
    std::size_t size = 0;
    /// The sender.
    endpoint from;
    /// True when the datagram was longer than the buffer (the rest is lost).
    bool truncated = false;
};

namespace detail {
/// recv_from of a udp_socket: the sender as an endpoint.
class udp_recv_from_awaiter : public recv_from_awaiter {
  public:
    using recv_from_awaiter::recv_from_awaiter;
    net::udp_datagram await_resume();
};
} // namespace detail

/// A UDP socket (asyncio's datagram endpoint, without the protocol callbacks): datagrams to and
/// from any address, or, once connected, to and from one peer.
///
/// Ownership: move-only; the destructor closes it (see net::socket).
///
/// Cancellation: a cancelled receive loses nothing; a cancelled send sent nothing.
/// Errors: std::system_error naming the call and the address ("sendto 192.0.2.1:53: Network
/// is unreachable"). In connected mode an ICMP port-unreachable from the peer makes the next
/// call fail with ECONNREFUSED.
///
/// Example:
/// @code
/// auto s = corio::net::udp_socket::bind(corio::net::endpoint::parse("127.0.0.1:0"));
/// std::array<std::byte, 1500> buf;
/// auto d = co_await s.recv_from(buf);
/// co_await s.send_to(std::span(buf).first(d.size), d.from);
/// @endcode
class udp_socket {
  public:
    udp_socket() noexcept = default;
    /// Wraps a SOCK_DGRAM socket of family AF_INET or AF_INET6.
    explicit udp_socket(net::socket s) noexcept : m_sock(std::move(s)) {}

    /// A socket bound to `local` (port 0: the kernel picks one).
    /// Errors: std::system_error ("bind to 0.0.0.0:53: Permission denied").
    static udp_socket bind(endpoint local, udp_options options = {});
    /// An unbound socket of `family` (AF_INET or AF_INET6); the kernel binds it at the first
    /// send. Errors: std::system_error.
    static udp_socket open(int family = AF_INET);
    /// A socket connected to `remote` (bound to `local` first when given): send/recv then talk
    /// to that peer only, and datagrams from elsewhere are dropped by the kernel.
    /// Errors: std::system_error.
    static udp_socket open_connected(endpoint remote, std::optional<endpoint> local = std::nullopt,
                                     udp_options options = {});

    /// Sets the default peer (connect(2) on a datagram socket completes at once).
    /// Errors: std::system_error ("connect to ...").
    void connect(endpoint remote);

    /// Receives one datagram from anyone: its size, sender and truncation.
    [[nodiscard]] detail::udp_recv_from_awaiter recv_from(std::span<std::byte> buf) noexcept {
        return detail::udp_recv_from_awaiter(&m_sock, m_sock.native_handle(), buf, 0);
    }
    /// Sends `buf` as one datagram to `to`; returns its size.
    [[nodiscard]] detail::send_to_awaiter send_to(std::span<const std::byte> buf,
                                                  const endpoint& to) noexcept {
        return m_sock.send_to(buf, socket_address(to));
    }
    /// Connected mode: receives one datagram from the peer and returns its size (the rest of
    /// a longer datagram is lost).
    [[nodiscard]] detail::transfer_awaiter recv(std::span<std::byte> buf) noexcept {
        return m_sock.recv(buf);
    }
    /// Connected mode: sends `buf` as one datagram to the peer; returns its size.
    [[nodiscard]] detail::transfer_awaiter send(std::span<const std::byte> buf) noexcept {
        return m_sock.send(buf);
    }

    /// SO_BROADCAST. Errors: std::system_error.
    void set_broadcast(bool on);
    /// Joins the multicast `group` on the interface with index `interface_index` (0: the
    /// system's choice). Errors: std::system_error; std::invalid_argument for a non-multicast
    /// group.
    void join_group(ip_address group, unsigned interface_index = 0);
    /// Leaves a group joined with join_group. Errors: std::system_error.
    void leave_group(ip_address group, unsigned interface_index = 0);
    /// IP_MULTICAST_LOOP / IPV6_MULTICAST_LOOP: whether this host receives its own multicast.
    void set_multicast_loop(bool on);
    /// IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS.
    void set_multicast_ttl(int hops);
    /// Generic socket options.
    template <typename T>
    void set_option(int level, int name, const T& value) {
        m_sock.set_option(level, name, value);
    }
    template <typename T>
    [[nodiscard]] T get_option(int level, int name) const {
        return m_sock.template get_option<T>(level, name);
    }

    /// The bound address. Errors: std::system_error.
    [[nodiscard]] endpoint local_endpoint() const;
    /// The connected peer. Errors: std::system_error (ENOTCONN when not connected).
    [[nodiscard]] endpoint peer_endpoint() const { return m_sock.peer_endpoint(); }

    void close() noexcept { m_sock.close(); }
    [[nodiscard]] bool is_open() const noexcept { return m_sock.is_open(); }
    [[nodiscard]] int native_handle() const noexcept { return m_sock.native_handle(); }
    [[nodiscard]] int release() noexcept { return m_sock.release(); }
    [[nodiscard]] net::socket& sock() noexcept { return m_sock; }
    [[nodiscard]] const net::socket& sock() const noexcept { return m_sock; }

  private:
    bool is_v6() const;
    net::socket m_sock;
};

} // namespace corio::net
