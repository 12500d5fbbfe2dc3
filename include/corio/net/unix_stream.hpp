#pragma once

#include "corio/core/task.hpp"
#include "corio/net/socket.hpp"
#include "corio/net/unix_endpoint.hpp"

#include <sys/types.h>

#include <cstddef>
#include <span>
#include <utility>

namespace corio::net {

/// The credentials of the process at the other end of a Unix socket (SO_PEERCRED), as they were
/// when it connected.
struct peer_credentials {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
};

/// A connected Unix stream socket (SOCK_STREAM over AF_UNIX): a byte stream in both directions
/// between processes of this host, the socket under asyncio's open_unix_connection.
///
/// Ownership: move-only; the destructor closes it (see net::socket).
///
/// Cancellation: recv loses nothing; a cancelled send sent nothing; send_all's `sent` tells how
/// much went out. Errors: std::system_error naming the call ("connect to /run/app.sock: No such
/// file or directory"); EPIPE and ECONNRESET fail the call only; SIGPIPE never fires.
///
/// Example:
/// @code
/// auto [a, b] = corio::net::unix_stream::pair();
/// co_await a.send_all(bytes);
/// std::size_t n = co_await b.recv(buf);
/// @endcode
class unix_stream {
  public:
    unix_stream() noexcept = default;
    /// Wraps a connected AF_UNIX SOCK_STREAM socket.
    explicit unix_stream(net::socket s) noexcept : m_sock(std::move(s)) {}

    /// Connects to the listener at `remote`.
    /// Cancellation: the attempt is abandoned and its socket closed.
    /// Errors: std::system_error ("connect to /run/app.sock: Connection refused" when nobody
    /// listens; ENOENT when there is no such file; EAGAIN when the listener's backlog is full,
    /// which Linux reports at once for Unix sockets instead of letting the connect wait).
    static task<unix_stream> connect(unix_endpoint remote);
    /// Two connected streams (socketpair(2)). Errors: std::system_error.
    static std::pair<unix_stream, unix_stream> pair();

    /// Receives up to buf.size() bytes; 0 means end of stream. Cancellation: nothing is lost.
    [[nodiscard]] detail::transfer_awaiter recv(std::span<std::byte> buf) noexcept {
        return m_sock.recv(buf);
    }
    /// Sends some of `buf` and returns how many bytes. Cancellation: a cancelled send sent
    /// nothing.
    [[nodiscard]] detail::transfer_awaiter send(std::span<const std::byte> buf) noexcept {
        return m_sock.send(buf);
    }
    /// Sends all of `data`; `*sent` (when given) holds the count sent so far at every moment.
    [[nodiscard]] task<void> send_all(std::span<const std::byte> data,
                                      std::size_t* sent = nullptr) {
        return m_sock.send_all(data, sent);
    }
    /// Half-close: the peer reads end of stream. Errors: std::system_error.
    void shutdown_send() { m_sock.shutdown(shutdown_how::send); }
    void shutdown(shutdown_how how) { m_sock.shutdown(how); }

    /// Generic socket options.
    template <typename T>
    void set_option(int level, int name, const T& value) {
        m_sock.set_option(level, name, value);
    }
    template <typename T>
    [[nodiscard]] T get_option(int level, int name) const {
        return m_sock.template get_option<T>(level, name);
    }
    /// SO_PEERCRED. Errors: std::system_error.
    [[nodiscard]] net::peer_credentials peer_credentials() const;

    /// The bound address (usually unnamed for a connecting socket). Errors: std::system_error.
    [[nodiscard]] unix_endpoint local_endpoint() const;
    /// The peer's address (the listener's path, or unnamed). Errors: std::system_error.
    [[nodiscard]] unix_endpoint peer_endpoint() const;

    void close() noexcept { m_sock.close(); }
    [[nodiscard]] bool is_open() const noexcept { return m_sock.is_open(); }
    [[nodiscard]] int native_handle() const noexcept { return m_sock.native_handle(); }
    [[nodiscard]] int release() noexcept { return m_sock.release(); }
    /// The underlying socket (recvmsg/sendmsg for passing fds, wait_readable...).
    [[nodiscard]] net::socket& sock() noexcept { return m_sock; }
    [[nodiscard]] const net::socket& sock() const noexcept { return m_sock; }

  private:
    net::socket m_sock;
};

} // namespace corio::net
