#pragma once

#include "corio/core/task.hpp"
#include "corio/net/endpoint.hpp"
#include "corio/net/socket.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

namespace corio::net {

/// A connected TCP socket: a byte stream in both directions (the socket under asyncio's
/// streams; readers and writers with buffering and backpressure are built on it in io/).
///
/// Ownership: move-only; the destructor closes the connection (see net::socket). Do not move a
/// stream while a call on it is pending.
///
/// Cancellation (every call): see net::socket. recv: nothing is lost. send: a cancelled send
/// sent nothing. send_all: the bytes sent before the cancellation stay sent; pass `sent` to
/// learn how many.
///
/// Errors: std::system_error naming the call and the peer, e.g. "recv from 192.0.2.1:80:
/// Connection reset by peer". ECONNRESET and EPIPE fail the call on this connection only;
/// SIGPIPE never fires.
///
/// Example:
/// @code
/// auto s = co_await corio::net::tcp_stream::connect(corio::net::endpoint::parse("127.0.0.1:7"));
/// co_await s.send_all(std::as_bytes(std::span(std::string_view("ping"))));
/// std::array<std::byte, 4> buf;
/// std::size_t n = co_await s.recv(buf);   // 0 at end of stream
/// @endcode
class tcp_stream {
  public:
    /// Not connected (is_open() is false).
    tcp_stream() noexcept = default;
    /// Wraps a connected SOCK_STREAM socket of family AF_INET or AF_INET6.
    explicit tcp_stream(net::socket s) noexcept : m_sock(std::move(s)) {}

    /// Connects to `remote`, from `local` when given (bound first, as asyncio's local_addr).
    ///
    /// Cancellation: the attempt is abandoned and its socket closed.
    /// Errors: std::system_error, e.g. "connect to 127.0.0.1:9: Connection refused"; "bind to
    /// ..." for `local`.
    static task<tcp_stream> connect(endpoint remote, std::optional<endpoint> local = std::nullopt);

    /// Receives up to buf.size() bytes and returns how many; 0 means the peer closed its side
    /// (end of stream). Cancellation: nothing is lost.
    [[nodiscard]] detail::transfer_awaiter recv(std::span<std::byte> buf) noexcept {
        return m_sock.recv(buf);
    }
    /// Sends what the kernel takes of `buf` now (at least one byte) and returns how many.
    /// Cancellation: a cancelled send sent nothing.
    [[nodiscard]] detail::transfer_awaiter send(std::span<const std::byte> buf) noexcept {
        return m_sock.send(buf);
    }
    /// Sends all of `data`. Cancellation and errors: `*sent` (when given) holds the count sent
    /// so far at every moment, so it tells how much of `data` went out before cancelled_error
    /// or an error.
    [[nodiscard]] task<void> send_all(std::span<const std::byte> data,
                                      std::size_t* sent = nullptr) {
        return m_sock.send_all(data, sent);
    }
    /// Sends `count` bytes of the file `file_fd` from `offset` (everything to the end of the
    /// file when nullopt) with sendfile(2), and returns how many were sent (fewer only if the
    /// file is shorter). The file's own offset is not changed.
    /// Cancellation: `*sent` (when given) holds the count sent so far.
    /// Errors: std::system_error ("sendfile to 192.0.2.1:80: Broken pipe"); SIGPIPE never fires.
    [[nodiscard]] task<std::size_t> sendfile(int file_fd, std::uint64_t offset = 0,
                                             std::optional<std::size_t> count = std::nullopt,
                                             std::size_t* sent = nullptr);

    /// Half-close: the peer reads end of stream; this side can still receive.
    /// Errors: std::system_error (ENOTCONN).
    void shutdown_send() { m_sock.shutdown(shutdown_how::send); }
    /// shutdown(2). Errors: std::system_error (ENOTCONN).
    void shutdown(shutdown_how how) { m_sock.shutdown(how); }

    /// TCP_NODELAY: send small segments at once instead of coalescing them (Nagle).
    /// Errors: std::system_error.
    void set_nodelay(bool on);
    [[nodiscard]] bool nodelay() const;
    /// SO_KEEPALIVE with the system's timing.
    void set_keepalive(bool on) { m_sock.set_option(SOL_SOCKET, SO_KEEPALIVE, int(on)); }
    /// SO_KEEPALIVE on, probing after `idle` without traffic, every `interval`, and giving up
    /// after `count` unanswered probes (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT).
    void set_keepalive(std::chrono::seconds idle, std::chrono::seconds interval, int count);
    /// SO_LINGER: nullopt restores the default (close returns at once and the kernel sends the
    /// rest in the background); a duration makes close wait that long for the data to go.
    void set_linger(std::optional<std::chrono::seconds> linger);
    /// Generic socket options (setsockopt / getsockopt).
    template <typename T>
    void set_option(int level, int name, const T& value) {
        m_sock.set_option(level, name, value);
    }
    template <typename T>
    [[nodiscard]] T get_option(int level, int name) const {
        return m_sock.template get_option<T>(level, name);
    }

    /// The local address. Errors: std::system_error.
    [[nodiscard]] endpoint local_endpoint() const;
    /// The peer's address, as recorded when the stream connected or was accepted (no system
    /// call; it stays known after a reset). Errors: std::system_error (ENOTCONN) for a stream
    /// that never connected.
    [[nodiscard]] endpoint peer_endpoint() const { return m_sock.peer_endpoint(); }

    /// Closes the connection gracefully (FIN after the queued data); pending calls fail with
    /// std::system_error(ECANCELED). Idempotent.
    void close() noexcept { m_sock.close(); }
    /// Closes the connection with a reset (SO_LINGER 0, asyncio's transport.abort()): queued
    /// data is dropped and the peer's next call fails with ECONNRESET. Idempotent.
    void abort() noexcept;

    [[nodiscard]] bool is_open() const noexcept { return m_sock.is_open(); }
    [[nodiscard]] int native_handle() const noexcept { return m_sock.native_handle(); }
    /// Gives the fd to the caller (see net::socket::release).
    [[nodiscard]] int release() noexcept { return m_sock.release(); }
    /// The underlying socket, for calls the stream does not name (wait_readable, recvmsg...).
    [[nodiscard]] net::socket& sock() noexcept { return m_sock; }
    [[nodiscard]] const net::socket& sock() const noexcept { return m_sock; }

  private:
    net::socket m_sock;
};

} // namespace corio::net
