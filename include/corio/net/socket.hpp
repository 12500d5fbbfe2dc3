#pragma once

#include "corio/core/task.hpp"
#include "corio/net/detail/socket_awaiters.hpp"
#include "corio/net/endpoint.hpp"
#include "corio/net/socket_address.hpp"
#include "corio/runtime/loop_handle.hpp"

#include <sys/socket.h>

#include <cstddef>
#include <span>
#include <system_error>
#include <type_traits>
#include <utility>

namespace corio {
class event_loop;
namespace detail {
class multishot_accept;
}
} // namespace corio

namespace corio::net {

/// Which directions shutdown() closes.
enum class shutdown_how : int {
    receive = SHUT_RD,
    send = SHUT_WR, ///< half-close: the peer reads end of stream, and can still send
    both = SHUT_RDWR,
};

/// Any socket: an owned, non-blocking, close-on-exec file descriptor whose calls suspend the
/// calling task until the kernel can complete them (Python's socket object driven by asyncio's
/// loop.sock_* calls). tcp_stream, tcp_listener, udp_socket, unix_stream and unix_listener are
/// typed wrappers around it; use it directly for other families or types (SOCK_SEQPACKET, raw
/// sockets) or for options the wrappers do not name.
///
/// Ownership: move-only. The destructor and close() abort the calls still pending on the socket
/// (they throw std::system_error(ECANCELED)), make the event loop forget the fd, and close it.
/// Do not move a socket while a call on it is pending in a coroutine that refers to it through
/// `this` (send_all); plain calls follow the move.
///
/// Loop: a socket belongs to the loop of its first call for the rest of its life; a call from
/// another loop throws std::logic_error. It may be created before that loop runs, and closed or
/// destroyed after the loop is gone, but not used with a new loop then.
///
/// Errors: std::system_error with the errno and a message naming the call and, where known,
/// the endpoint ("connect to 127.0.0.1:9: Connection refused"). Peer failures (ECONNRESET,
/// EPIPE) are errors of that call only; SIGPIPE is never raised (MSG_NOSIGNAL).
///
/// Cancellation (every awaitable call): cancelling the waiting task withdraws the call before
/// it runs, so a cancelled call transferred nothing; the task gets cancelled_error. A call that
/// completed before the cancellation arrived returns its result, and the cancellation is
/// delivered at the task's next suspension point, so no received byte is ever dropped.
class socket {
  public:
    /// No socket (is_open() is false).
    socket() noexcept = default;
    /// Opens a socket with SOCK_NONBLOCK | SOCK_CLOEXEC added to `type`.
    /// Errors: std::system_error naming the call ("socket").
    static socket open(int family, int type, int protocol = 0);
    /// Takes ownership of `fd` and makes it non-blocking and close-on-exec.
    /// Errors: std::system_error (EBADF...); `fd` is not closed then.
    static socket adopt(int fd);
    /// A connected pair (socketpair), e.g. AF_UNIX, SOCK_STREAM.
    /// Errors: std::system_error naming the call.
    static std::pair<socket, socket> pair(int family, int type, int protocol = 0);

    socket(socket&& o) noexcept;
    socket& operator=(socket&& o) noexcept;
    socket(const socket&) = delete;
    socket& operator=(const socket&) = delete;
    ~socket() { close(); }

    [[nodiscard]] bool is_open() const noexcept { return m_fd >= 0; }
    [[nodiscard]] explicit operator bool() const noexcept { return is_open(); }
    /// The fd, still owned by the socket (-1 when closed).
    [[nodiscard]] int native_handle() const noexcept { return m_fd; }

    /// Aborts the pending calls (their tasks get std::system_error(ECANCELED)), makes the loop
    /// forget the fd and closes it. Idempotent.
    void close() noexcept;
    /// Like close() but hands the fd to the caller instead of closing it (-1 when closed).
    [[nodiscard]] int release() noexcept;

    /// setsockopt with a trivially copyable value (int for most options).
    /// Errors: std::system_error naming the option level and name.
    template <typename T>
    requires std::is_trivially_copyable_v<T>
    void set_option(int level, int name, const T& value) {
        set_option_raw(level, name, &value, sizeof value);
    }
    /// getsockopt into a trivially copyable value.
    /// Errors: std::system_error naming the option level and name.
    template <typename T>
    requires std::is_trivially_copyable_v<T>
    [[nodiscard]] T get_option(int level, int name) const {
        T value{};
        get_option_raw(level, name, &value, sizeof value);
        return value;
    }
    /// The pending error (SO_ERROR), cleared by reading it; 0 when there is none.
    [[nodiscard]] int pending_error() const { return get_option<int>(SOL_SOCKET, SO_ERROR); }

    /// Errors: std::system_error naming the call and the address ("bind to 0.0.0.0:80: Address
    /// already in use").
    void bind(const socket_address& address);
    /// Errors: std::system_error.
    void listen(int backlog);
    /// Errors: std::system_error (ENOTCONN on a socket that is not connected).
    void shutdown(shutdown_how how);
    /// getsockname. Errors: std::system_error.
    [[nodiscard]] socket_address local_address() const;
    /// getpeername. Errors: std::system_error (ENOTCONN).
    [[nodiscard]] socket_address peer_address() const;
    /// The peer's endpoint as recorded when the socket connected or was accepted (it stays
    /// known after a reset, when getpeername fails), else getpeername.
    /// Errors: std::system_error (ENOTCONN); std::invalid_argument for a non-IP peer.
    [[nodiscard]] endpoint peer_endpoint() const;

    /// Receives up to buf.size() bytes; 0 means end of stream (or an empty datagram).
    /// Cancellation: nothing is lost. Errors: std::system_error (ECONNRESET...).
    [[nodiscard]] detail::transfer_awaiter recv(std::span<std::byte> buf, int flags = 0) noexcept {
        return detail::transfer_awaiter(detail::io_op::recv, this, m_fd, buf.data(), buf.size(),
                                        flags);
    }
    /// Sends some of `buf` (maybe fewer bytes than asked: see send_all) and returns how many.
    /// Cancellation: a cancelled send sent nothing. Errors: std::system_error (EPIPE,
    /// ECONNRESET...).
    [[nodiscard]] detail::transfer_awaiter send(std::span<const std::byte> buf,
                                                int flags = 0) noexcept {
        return detail::transfer_awaiter(detail::io_op::send, this, m_fd,
                                        const_cast<std::byte*>(buf.data()), buf.size(), flags);
    }
    /// Sends all of `data`, waiting for room as often as needed.
    ///
    /// Cancellation: the bytes sent before the cancellation stay sent (the peer may have them);
    /// pass `sent` to learn how many: it holds the count sent so far at every moment, so after
    /// cancelled_error or an error it tells where to resume.
    /// Errors: std::system_error (EPIPE, ECONNRESET...).
    [[nodiscard]] task<void> send_all(std::span<const std::byte> data, std::size_t* sent = nullptr);
    /// Connects to `to`; returns once the connection is established (a datagram socket:
    /// at once).
    /// Cancellation: the connection attempt is abandoned; the socket is left half-connected,
    /// close it. Errors: std::system_error ("connect to 127.0.0.1:9: Connection refused").
    [[nodiscard]] detail::connect_awaiter connect(const socket_address& to) noexcept {
        return detail::connect_awaiter(this, m_fd, to);
    }
    /// connect(2) without waiting, for datagram sockets, whose connect only sets the default
    /// peer. Errors: std::system_error ("connect to ..."), EINPROGRESS for a stream socket.
    void connect_now(const socket_address& to);
    /// Accepts a connection: the new socket (non-blocking, close-on-exec) and the peer's
    /// address.
    /// Cancellation: nothing is lost; a connection is only taken from the queue by a call that
    /// returns it. Errors: std::system_error ("accept on 0.0.0.0:80: Too many open files");
    /// EMFILE/ENFILE leave the connection queued, see is_accept_exhaustion().
    [[nodiscard]] detail::accept_awaiter accept() noexcept {
        return detail::accept_awaiter(this, m_fd);
    }
    /// Receives one datagram into `buf`: its size, its sender, and whether it was truncated.
    /// Cancellation: nothing is lost.
    [[nodiscard]] detail::recv_from_awaiter recv_from(std::span<std::byte> buf,
                                                      int flags = 0) noexcept {
        return detail::recv_from_awaiter(this, m_fd, buf, flags);
    }
    /// Sends one datagram to `to`. Cancellation: a cancelled call sent nothing.
    [[nodiscard]] detail::send_to_awaiter
    send_to(std::span<const std::byte> buf, const socket_address& to, int flags = 0) noexcept {
        return detail::send_to_awaiter(this, m_fd, buf, to, flags);
    }
    /// recvmsg with the caller's msghdr (ancillary data, scatter reads); `msg` must stay
    /// valid until the call returns. Cancellation: nothing is lost.
    [[nodiscard]] detail::msg_awaiter recvmsg(msghdr& msg, int flags = 0) noexcept {
        return detail::msg_awaiter(detail::io_op::recvmsg, this, m_fd, &msg, flags);
    }
    /// sendmsg with the caller's msghdr; `msg` must stay valid until the call returns.
    /// Cancellation: a cancelled call sent nothing.
    [[nodiscard]] detail::msg_awaiter sendmsg(const msghdr& msg, int flags = 0) noexcept {
        return detail::msg_awaiter(detail::io_op::sendmsg, this, m_fd, const_cast<msghdr*>(&msg),
                                   flags);
    }
    /// Waits until the socket is readable (or has hung up or failed); returns the poll(2) bits.
    /// Cancellation: nothing is lost.
    [[nodiscard]] detail::poll_awaiter wait_readable() noexcept {
        return detail::poll_awaiter(detail::io_op::poll_readable, this, m_fd);
    }
    /// Waits until the socket is writable (or has failed); returns the poll(2) bits.
    [[nodiscard]] detail::poll_awaiter wait_writable() noexcept {
        return detail::poll_awaiter(detail::io_op::poll_writable, this, m_fd);
    }

  private:
    friend class detail::io_awaiter;
    friend class detail::connect_awaiter;
    friend class detail::accept_awaiter;
    // The servers' multishot accept (io_uring) wraps the fds it accepts, already non-blocking.
    friend class corio::detail::multishot_accept;

    explicit socket(int fd) noexcept : m_fd(fd) {}
    void set_option_raw(int level, int name, const void* value, socklen_t len);
    void get_option_raw(int level, int name, void* value, socklen_t len) const;
    /// Ties the socket to `loop` on its first call. Errors: std::logic_error for another loop.
    void attach(event_loop& loop);
    /// Withdraws the pending calls and makes the loop forget the fd.
    void detach() noexcept;
    void remember_peer(const socket_address& a) noexcept;

    int m_fd = -1;
    bool m_peer_known = false;
    // The loop the fd is registered with, and a handle that says whether it is still alive:
    // closing after the loop is gone must not touch its backend.
    event_loop* m_loop = nullptr;
    loop_handle m_loop_ref;
    // Calls pending on this socket (io_awaiter links).
    detail::io_awaiter* m_pending = nullptr;
    endpoint m_peer;
};

/// What accept() returns.
struct accepted {
    socket conn;
    socket_address peer;
};

/// What recv_from() returns.
struct datagram {
    /// The bytes stored in the buffer.
    std::size_t size = 0;
    /// The sender.
    socket_address from;
    /// True when the datagram was longer than the buffer (the rest is lost).
    bool truncated = false;
};

/// True for the accept errors that mean "out of file descriptors or memory" (EMFILE, ENFILE,
/// ENOBUFS, ENOMEM): the connection stays queued and the listening socket stays readable, so a
/// server must back off (sleep, or free an fd) before it accepts again rather than retry at
/// once, or it spins.
[[nodiscard]] bool is_accept_exhaustion(const std::error_code& ec) noexcept;
/// True for the accept errors that concern only the connection being accepted (ECONNABORTED,
/// EPROTO, EPERM from a firewall, ...): a server should just accept the next one.
[[nodiscard]] bool is_accept_transient(const std::error_code& ec) noexcept;

} // namespace corio::net
