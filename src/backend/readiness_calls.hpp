#pragma once

// The system calls behind an io_operation, for the readiness backends (epoll, poll): both try
// the call of an operation at once and again after each readiness report, so they share how
// the call is made. Inline, in this header: each backend's translation unit sees the bodies, as
// it did when each backend had its own copy, so the epoll backend's hot path (every recv and
// send of a stream) compiles to the same instructions as before (tools/echo_callgrind.sh).

#include "backend/backend.hpp"
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace corio::detail {

/// The pending error of a socket whose connect was in progress: 0 or -errno.
inline std::int64_t connect_outcome(int fd) noexcept {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return -errno;
    return -static_cast<std::int64_t>(err);
}

/// Starts the connect of `op`, whatever the readiness of its fd. Returns true when it completed
/// at once (m_result set: 0, or -errno); false when the connection goes on in the background and
/// only its outcome is left to wait for (EINPROGRESS; EINTR leaves it going on too).
inline bool start_connect(io_operation& op) noexcept {
    if (::connect(op.m_fd, op.m_addr, *op.m_addrlen) == 0) {
        op.m_result = 0;
        return true;
    }
    if (errno != EINPROGRESS && errno != EINTR) {
        op.m_result = -errno;
        return true;
    }
    return false;
}

/// Runs the call of `op` once (retrying EINTR): its result, or -errno (-EAGAIN included). Polls
/// and connect are not calls that can be retried (-EINVAL): a connect is started by submit() and
/// then only has its outcome left (connect_outcome). Their callers handle them; keeping them out
/// also keeps the recv/send path of this switch as short as it can be.
inline std::int64_t perform_call(const io_operation& op) noexcept {
    // MSG_DONTWAIT: even a blocking socket must not stall the loop.
    constexpr int nowait = MSG_DONTWAIT;
    ssize_t r = -1;
    for (;;) {
        switch (op.m_kind) {
        case io_kind::recv:
            r = ::recv(op.m_fd, op.m_buf, op.m_len, op.m_flags | nowait);
            break;
        case io_kind::send:
            r = ::send(op.m_fd, op.m_buf, op.m_len, op.m_flags | nowait | MSG_NOSIGNAL);
            break;
        case io_kind::read:
            r = ::read(op.m_fd, op.m_buf, op.m_len);
            break;
        case io_kind::write:
            r = ::write(op.m_fd, op.m_buf, op.m_len);
            break;
        case io_kind::accept:
            r = ::accept4(op.m_fd, op.m_addr, op.m_addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
            break;
        case io_kind::recvmsg:
            r = ::recvmsg(op.m_fd, op.m_msg, op.m_flags | nowait);
            break;
        case io_kind::sendmsg:
            r = ::sendmsg(op.m_fd, op.m_msg, op.m_flags | nowait | MSG_NOSIGNAL);
            break;
        case io_kind::poll_readable:
        case io_kind::poll_writable:
        case io_kind::connect:
            return -EINVAL; // not calls that can be retried; handled by the callers
        }
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return -errno;
    }
}

} // namespace corio::detail
