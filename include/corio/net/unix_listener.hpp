#pragma once

#include "corio/net/socket.hpp"
#include "corio/net/unix_endpoint.hpp"
#include "corio/net/unix_stream.hpp"

#include <cstdint>
#include <utility>

namespace corio::net {

/// How unix_listener::bind sets up the listening socket.
struct unix_listen_options {
    /// The length of the queue of connections not yet accepted.
    int backlog = 128;
    /// Remove a file already at the path before binding, as a server restarting after a crash
    /// must (its old socket file would make bind fail with EADDRINUSE). Only a socket file is
    /// removed; any other kind of file makes bind fail. The caller's choice: another live
    /// server may own that socket.
    bool unlink_existing = false;
    /// Remove the socket file when the listener closes, if it is still the file this listener
    /// created (asyncio 3.13's cleanup_socket).
    bool unlink_on_close = true;
};

namespace detail {
/// accept() of a unix_listener.
class unix_accept_awaiter : public accept_awaiter {
  public:
    using accept_awaiter::accept_awaiter;
    net::unix_stream await_resume();
};
} // namespace detail

/// A listening Unix stream socket (the socket under asyncio's start_unix_server), on a path or
/// in the abstract namespace.
///
/// Ownership: move-only; the destructor closes it (and removes the socket file, see
/// unix_listen_options::unlink_on_close).
///
/// Example:
/// @code
/// auto l = corio::net::unix_listener::bind(corio::net::unix_endpoint("/run/app.sock"),
///                                          {.unlink_existing = true});
/// corio::net::unix_stream s = co_await l.accept();
/// @endcode
class unix_listener {
  public:
    unix_listener() noexcept = default;
    unix_listener(unix_listener&& o) noexcept;
    unix_listener& operator=(unix_listener&& o) noexcept;
    unix_listener(const unix_listener&) = delete;
    unix_listener& operator=(const unix_listener&) = delete;
    ~unix_listener() { close(); }

    /// Binds to `local` and listens.
    /// Errors: std::system_error ("bind to /run/app.sock: Address already in use");
    /// std::invalid_argument for an unnamed endpoint.
    static unix_listener bind(unix_endpoint local, unix_listen_options options = {});

    /// Accepts the next connection.
    /// Cancellation: nothing is lost. Errors: std::system_error ("accept on /run/app.sock: Too
    /// many open files"), see tcp_listener::accept.
    [[nodiscard]] detail::unix_accept_awaiter accept() noexcept {
        return detail::unix_accept_awaiter(&m_sock, m_sock.native_handle());
    }

    /// The bound address. Errors: std::system_error.
    [[nodiscard]] unix_endpoint local_endpoint() const;

    /// Stops listening, closes the socket and (unlink_on_close) removes its file. Pending
    /// accepts fail with std::system_error(ECANCELED). Idempotent.
    void close() noexcept;
    [[nodiscard]] bool is_open() const noexcept { return m_sock.is_open(); }
    [[nodiscard]] int native_handle() const noexcept { return m_sock.native_handle(); }
    /// Gives the fd to the caller; the socket file is then left in place.
    [[nodiscard]] int release() noexcept;
    [[nodiscard]] net::socket& sock() noexcept { return m_sock; }
    [[nodiscard]] const net::socket& sock() const noexcept { return m_sock; }

  private:
    net::socket m_sock;
    // The file to remove on close (unnamed when there is none), and its identity at bind time,
    // so that a file another server has since put at the path is left alone.
    unix_endpoint m_cleanup;
    std::uint64_t m_dev = 0;
    std::uint64_t m_ino = 0;
};

} // namespace corio::net
