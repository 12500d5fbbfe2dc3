#pragma once

// Sockets and pipes for tests: socket pairs, TCP connections over loopback, UDP sockets, a port
// that refuses connections. Every fd is owned by a sys::unique_fd and is non-blocking and
// close-on-exec. Failures throw std::system_error naming the call.

#include "sys/posix/errors.hpp"
#include "sys/posix/unique_fd.hpp"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <utility>

namespace corio::test {

using sys::unique_fd;

/// Two connected ends of a pipe, a socket pair or a TCP connection.
struct fd_pair {
    unique_fd first;
    unique_fd second;
};

/// Makes `fd` non-blocking.
inline void set_nonblocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
        sys::throw_last_errno("fcntl(O_NONBLOCK)");
}

/// A pipe: `first` is the read end, `second` the write end.
inline fd_pair make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
        sys::throw_last_errno("pipe2");
    return {unique_fd(fds[0]), unique_fd(fds[1])};
}

/// A connected pair of Unix sockets of `type` (SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET).
inline fd_pair make_socket_pair(int type = SOCK_STREAM) {
    int fds[2];
    if (::socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
        sys::throw_last_errno("socketpair");
    return {unique_fd(fds[0]), unique_fd(fds[1])};
}

/// Sets SO_SNDBUF and SO_RCVBUF of `fd` to `bytes` (the kernel doubles and clamps it), so that
/// tests fill buffers quickly.
inline void set_buffer_sizes(int fd, int bytes) {
    if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes) != 0 ||
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) != 0)
        sys::throw_last_errno("setsockopt(SO_SNDBUF/SO_RCVBUF)");
}

/// 127.0.0.1:port.
inline sockaddr_in loopback(std::uint16_t port = 0) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    return a;
}

/// The address `fd` is bound to.
inline sockaddr_in local_address(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        sys::throw_last_errno("getsockname");
    return a;
}

/// A new non-blocking socket of `type` (SOCK_STREAM or SOCK_DGRAM) over IPv4.
inline unique_fd make_inet_socket(int type) {
    unique_fd fd(::socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd)
        sys::throw_last_errno("socket");
    return fd;
}

/// A socket of `type` bound to 127.0.0.1 on a port the kernel picks.
inline unique_fd make_bound_socket(int type) {
    unique_fd fd = make_inet_socket(type);
    const sockaddr_in a = loopback();
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
        sys::throw_last_errno("bind");
    return fd;
}

/// A TCP listener on 127.0.0.1 (see local_address for its port).
inline unique_fd make_tcp_listener(int backlog = 128) {
    unique_fd fd = make_bound_socket(SOCK_STREAM);
    if (::listen(fd.get(), backlog) != 0)
        sys::throw_last_errno("listen");
    return fd;
}

/// Connects `fd` to `to`, waiting (with poll(2)) until the connection is made.
inline void connect_now(int fd, const sockaddr_in& to) {
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0)
        return;
    if (errno != EINPROGRESS)
        sys::throw_last_errno("connect");
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 10'000) != 1)
        sys::throw_errno(ETIMEDOUT, "connect (poll)");
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
        sys::throw_errno(err ? err : errno, "connect (SO_ERROR)");
}

/// Accepts one connection on `listener`, waiting for it with poll(2).
inline unique_fd accept_now(int listener) {
    pollfd p{listener, POLLIN, 0};
    if (::poll(&p, 1, 10'000) != 1)
        sys::throw_errno(ETIMEDOUT, "accept (poll)");
    unique_fd fd(::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd)
        sys::throw_last_errno("accept4");
    return fd;
}

/// A TCP connection over loopback: `first` is the client end, `second` the accepted end.
inline fd_pair make_tcp_pair() {
    const unique_fd listener = make_tcp_listener(1);
    unique_fd client = make_inet_socket(SOCK_STREAM);
    connect_now(client.get(), local_address(listener.get()));
    unique_fd server = accept_now(listener.get());
    const int one = 1;
    ::setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(server.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return {std::move(client), std::move(server)};
}

/// Makes the close of `fd` abort its connection: the peer gets a RST (ECONNRESET), not a FIN.
inline void set_reset_on_close(int fd) {
    const linger l{1, 0};
    if (::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) != 0)
        sys::throw_last_errno("setsockopt(SO_LINGER)");
}

/// Writes into `fd` (non-blocking) until the kernel takes no more; returns the bytes written.
inline std::size_t fill(int fd) {
    static char junk[65536];
    std::size_t total = 0;
    for (;;) {
        const ssize_t n = ::write(fd, junk, sizeof junk);
        if (n > 0) {
            total += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return total;
        sys::throw_last_errno("write (fill)");
    }
}

/// Reads from `fd` (non-blocking) until it has nothing more; returns the bytes read.
inline std::size_t drain(int fd) {
    static char sink[65536];
    std::size_t total = 0;
    for (;;) {
        const ssize_t n = ::read(fd, sink, sizeof sink);
        if (n > 0) {
            total += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || errno == EAGAIN)
            return total;
        sys::throw_last_errno("read (drain)");
    }
}

} // namespace corio::test
