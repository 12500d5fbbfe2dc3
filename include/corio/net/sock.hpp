#pragma once

/// asyncio's low-level socket calls (loop.sock_recv, sock_sendall, sock_accept, ...) as free
/// functions on raw file descriptors.
///
/// The caller owns the fd, which must be non-blocking (SOCK_NONBLOCK or O_NONBLOCK). The loop
/// registers the fd only while a call waits on it and forgets it as soon as no call does, so the
/// caller may close it between calls (never during one). Use net::socket to have an object own
/// the fd instead.
///
/// Cancellation (every call): cancelling the waiting task withdraws the call before it runs, so
/// a cancelled call transferred nothing, except where stated (sock_sendall, sock_sendfile: the
/// bytes sent before the cancellation; sock_recv: nothing); the task gets cancelled_error. The
/// buffer may be freed as soon as the task has resumed.
///
/// Errors: std::system_error with the errno and a message naming the call and the endpoint
/// where known ("connect to 127.0.0.1:9: Connection refused"). SIGPIPE never fires.

#include "corio/core/task.hpp"
#include "corio/net/detail/socket_awaiters.hpp"
#include "corio/net/socket.hpp"
#include "corio/net/socket_address.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace corio::net {

/// Receives up to `n` bytes (asyncio's sock_recv); an empty vector means end of stream.
/// Cancellation: nothing is lost. Errors: std::system_error.
[[nodiscard]] task<std::vector<std::byte>> sock_recv(int fd, std::size_t n);

/// Receives into `buf` and returns the byte count, 0 at end of stream (sock_recv_into).
/// Cancellation: nothing is lost. Errors: std::system_error.
[[nodiscard]] inline detail::transfer_awaiter sock_recv_into(int fd,
                                                             std::span<std::byte> buf) noexcept {
    return detail::transfer_awaiter(detail::io_op::recv, nullptr, fd, buf.data(), buf.size(), 0);
}

/// Sends what the kernel takes of `buf` now and returns how many bytes (at least one).
/// Cancellation: a cancelled call sent nothing. Errors: std::system_error (EPIPE...).
[[nodiscard]] inline detail::transfer_awaiter sock_send(int fd,
                                                        std::span<const std::byte> buf) noexcept {
    return detail::transfer_awaiter(detail::io_op::send, nullptr, fd,
                                    const_cast<std::byte*>(buf.data()), buf.size(), 0);
}

/// Sends all of `data` (sock_sendall).
/// Cancellation: the bytes sent before it stay sent; `*sent` (when given) holds the count sent
/// so far at every moment. Errors: std::system_error (EPIPE, ECONNRESET...).
[[nodiscard]] task<void> sock_sendall(int fd, std::span<const std::byte> data,
                                      std::size_t* sent = nullptr);

/// Connects `fd` to `to` and returns once connected (sock_connect).
/// Cancellation: the attempt is abandoned; the fd is left half-connected (close it).
/// Errors: std::system_error ("connect to 127.0.0.1:9: Connection refused").
[[nodiscard]] inline detail::connect_awaiter sock_connect(int fd,
                                                          const socket_address& to) noexcept {
    return detail::connect_awaiter(nullptr, fd, to);
}

/// Accepts a connection on the listening `fd` (sock_accept): the new socket, owned by the
/// result (non-blocking, close-on-exec), and the peer's address.
/// Cancellation: nothing is lost. Errors: std::system_error ("accept on 0.0.0.0:80: Too many
/// open files"), see is_accept_exhaustion().
[[nodiscard]] inline detail::accept_awaiter sock_accept(int fd) noexcept {
    return detail::accept_awaiter(nullptr, fd);
}

/// Receives one datagram into `buf` (sock_recvfrom_into): its size, sender and truncation.
/// Cancellation: nothing is lost. Errors: std::system_error.
[[nodiscard]] inline detail::recv_from_awaiter
sock_recvfrom_into(int fd, std::span<std::byte> buf) noexcept {
    return detail::recv_from_awaiter(nullptr, fd, buf, 0);
}

/// Receives one datagram of at most `n` bytes (sock_recvfrom): its bytes and its sender.
/// Cancellation: nothing is lost. Errors: std::system_error.
[[nodiscard]] task<std::pair<std::vector<std::byte>, socket_address>> sock_recvfrom(int fd,
                                                                                    std::size_t n);

/// Sends `buf` as one datagram to `to` (sock_sendto) and returns the byte count.
/// Cancellation: a cancelled call sent nothing. Errors: std::system_error ("sendto
/// 192.0.2.1:53: ...").
[[nodiscard]] inline detail::send_to_awaiter sock_sendto(int fd, std::span<const std::byte> buf,
                                                         const socket_address& to) noexcept {
    return detail::send_to_awaiter(nullptr, fd, buf, to, 0);
}

/// Sends `count` bytes of the file `in_fd` from `offset` (to the end of the file when nullopt)
/// to the socket `out_fd` with Linux sendfile(2), waiting for room in the socket as often as
/// needed, and returns how many bytes were sent (fewer only if the file is shorter). The file's
/// own offset is not changed (asyncio's sock_sendfile without the fallback).
///
/// Cancellation: `*sent` (when given) holds the count sent so far at every moment.
/// Errors: std::system_error ("sendfile to 192.0.2.1:80: Broken pipe"); SIGPIPE never fires
/// (it is blocked around the call and a signal the call raised is consumed).
[[nodiscard]] task<std::size_t> sock_sendfile(int out_fd, int in_fd, std::uint64_t offset = 0,
                                              std::optional<std::size_t> count = std::nullopt,
                                              std::size_t* sent = nullptr);

/// Waits until `fd` is readable (or has hung up or failed) and returns the poll(2) bits.
/// Cancellation: nothing is lost.
[[nodiscard]] inline detail::poll_awaiter wait_readable(int fd) noexcept {
    return detail::poll_awaiter(detail::io_op::poll_readable, nullptr, fd);
}
/// Waits until `fd` is writable (or has failed) and returns the poll(2) bits.
[[nodiscard]] inline detail::poll_awaiter wait_writable(int fd) noexcept {
    return detail::poll_awaiter(detail::io_op::poll_writable, nullptr, fd);
}

namespace detail {
/// sock_sendfile for a socket object (`owner`, non-null) or a raw fd (`owner` null).
task<std::size_t> sendfile_on(net::socket* owner, int out_fd, int in_fd, std::uint64_t offset,
                              std::optional<std::size_t> count, std::size_t* sent);
} // namespace detail

} // namespace corio::net
