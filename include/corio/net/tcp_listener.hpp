#pragma once

#include "corio/net/endpoint.hpp"
#include "corio/net/socket.hpp"
#include "corio/net/tcp_stream.hpp"

#include <optional>
#include <utility>

namespace corio::net {

/// How tcp_listener::bind sets up the listening socket (asyncio's create_server arguments).
struct listen_options {
    /// The length of the queue of connections not yet accepted (listen(2); the kernel caps it
    /// at net.core.somaxconn).
    int backlog = 128;
    /// SO_REUSEADDR: rebind at once while old connections of a previous server linger in
    /// TIME_WAIT.
    bool reuse_address = true;
    /// SO_REUSEPORT: several sockets (one per loop or process) listen on the same port and the
    /// kernel balances connections between them.
    bool reuse_port = false;
    /// IPV6_V6ONLY for an IPv6 address: true accepts IPv6 only; false accepts IPv4 too (as
    /// IPv4-mapped addresses); nullopt keeps the system default.
    std::optional<bool> v6_only = std::nullopt;
};

namespace detail {
/// accept() of a tcp_listener: a tcp_stream whose peer_endpoint() is already known.
class tcp_accept_awaiter : public accept_awaiter {
  public:
    using accept_awaiter::accept_awaiter;
    net::tcp_stream await_resume();
};
} // namespace detail

/// A listening TCP socket (the socket under asyncio's start_server).
///
/// Ownership: move-only; the destructor closes it, and pending accepts fail with
/// std::system_error(ECANCELED).
///
/// Example:
/// @code
/// auto l = corio::net::tcp_listener::bind(corio::net::endpoint::parse("127.0.0.1:0"));
/// auto port = l.local_endpoint().port();
/// corio::net::tcp_stream s = co_await l.accept();
/// log(s.peer_endpoint().to_string());
/// @endcode
class tcp_listener {
  public:
    tcp_listener() noexcept = default;
    /// Wraps a listening socket.
    explicit tcp_listener(net::socket s) noexcept : m_sock(std::move(s)) {}

    /// Opens a socket of `local`'s family, applies `options`, binds it to `local` (port 0: the
    /// kernel picks a free port; see local_endpoint()) and listens.
    /// Errors: std::system_error, e.g. "bind to 0.0.0.0:80: Permission denied".
    static tcp_listener bind(endpoint local, listen_options options = {});

    /// Accepts the next connection. Its peer_endpoint() is known without a system call.
    ///
    /// Cancellation: nothing is lost (a connection leaves the queue only with a call that
    /// returns it).
    /// Errors: std::system_error naming the listener ("accept on 0.0.0.0:8080: Too many open
    /// files"). The listener stays usable after any error. For EMFILE/ENFILE/ENOBUFS/ENOMEM
    /// (is_accept_exhaustion) the connection stays queued and the listener readable: back off
    /// before accepting again, or a server spins. For is_accept_transient errors accept the
    /// next connection at once.
    [[nodiscard]] detail::tcp_accept_awaiter accept() noexcept {
        return detail::tcp_accept_awaiter(&m_sock, m_sock.native_handle());
    }

    /// The bound address (with the port the kernel picked). Errors: std::system_error.
    [[nodiscard]] endpoint local_endpoint() const;

    /// Stops listening and closes the socket; pending accepts fail with
    /// std::system_error(ECANCELED). Idempotent.
    void close() noexcept { m_sock.close(); }
    [[nodiscard]] bool is_open() const noexcept { return m_sock.is_open(); }
    [[nodiscard]] int native_handle() const noexcept { return m_sock.native_handle(); }
    [[nodiscard]] int release() noexcept { return m_sock.release(); }
    [[nodiscard]] net::socket& sock() noexcept { return m_sock; }
    [[nodiscard]] const net::socket& sock() const noexcept { return m_sock; }

  private:
    net::socket m_sock;
};

} // namespace corio::net
