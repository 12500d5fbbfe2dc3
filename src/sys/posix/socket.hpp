#pragma once

#include "sys/posix/errors.hpp"
#include "sys/posix/unique_fd.hpp"
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <utility>

namespace corio::sys {

/// "AF_INET", "AF_INET6", "AF_UNIX" or the number, for error messages.
inline std::string family_name(int family) {
    switch (family) {
    case AF_INET:
        return "AF_INET";
    case AF_INET6:
        return "AF_INET6";
    case AF_UNIX:
        return "AF_UNIX";
    default:
        return std::to_string(family);
    }
}

/// "SOCK_STREAM", "SOCK_DGRAM", ... or the number (flags masked off), for error messages.
inline std::string socket_type_name(int type) {
    switch (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
    case SOCK_STREAM:
        return "SOCK_STREAM";
    case SOCK_DGRAM:
        return "SOCK_DGRAM";
    case SOCK_SEQPACKET:
        return "SOCK_SEQPACKET";
    case SOCK_RAW:
        return "SOCK_RAW";
    default:
        return std::to_string(type);
    }
}

/// Opens a non-blocking, close-on-exec socket. Errors: std::system_error naming the family and
/// type ("socket(AF_INET6, SOCK_STREAM)").
inline unique_fd open_socket(int family, int type, int protocol) {
    unique_fd fd(::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol));
    if (!fd) {
        const std::string what =
            "socket(" + family_name(family) + ", " + socket_type_name(type) + ")";
        throw_errno(errno, what.c_str());
    }
    return fd;
}

/// A connected pair, both ends non-blocking and close-on-exec.
inline std::pair<unique_fd, unique_fd> open_socket_pair(int family, int type, int protocol) {
    int fds[2];
    if (::socketpair(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol, fds) != 0) {
        const std::string what =
            "socketpair(" + family_name(family) + ", " + socket_type_name(type) + ")";
        throw_errno(errno, what.c_str());
    }
    return {unique_fd(fds[0]), unique_fd(fds[1])};
}

/// Sets O_NONBLOCK and FD_CLOEXEC on an fd it does not own. Errors: std::system_error.
inline void make_nonblocking_cloexec(int fd) {
    const int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0)
        throw_last_errno("fcntl(F_GETFL)");
    if (!(fl & O_NONBLOCK) && ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        throw_last_errno("fcntl(F_SETFL, O_NONBLOCK)");
    const int fdfl = ::fcntl(fd, F_GETFD);
    if (fdfl < 0)
        throw_last_errno("fcntl(F_GETFD)");
    if (!(fdfl & FD_CLOEXEC) && ::fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) != 0)
        throw_last_errno("fcntl(F_SETFD, FD_CLOEXEC)");
}

/// The name of a socket option for error messages ("SO_REUSEADDR", "TCP_NODELAY"), or
/// "level L option N".
inline std::string option_name(int level, int name) {
    if (level == SOL_SOCKET) {
        switch (name) {
        case SO_REUSEADDR:
            return "SO_REUSEADDR";
        case SO_REUSEPORT:
            return "SO_REUSEPORT";
        case SO_KEEPALIVE:
            return "SO_KEEPALIVE";
        case SO_LINGER:
            return "SO_LINGER";
        case SO_SNDBUF:
            return "SO_SNDBUF";
        case SO_RCVBUF:
            return "SO_RCVBUF";
        case SO_BROADCAST:
            return "SO_BROADCAST";
        case SO_ERROR:
            return "SO_ERROR";
        case SO_TYPE:
            return "SO_TYPE";
        default:
            break;
        }
    } else if (level == IPPROTO_TCP) {
        switch (name) {
        case TCP_NODELAY:
            return "TCP_NODELAY";
        case TCP_KEEPIDLE:
            return "TCP_KEEPIDLE";
        case TCP_KEEPINTVL:
            return "TCP_KEEPINTVL";
        case TCP_KEEPCNT:
            return "TCP_KEEPCNT";
        default:
            break;
        }
    } else if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY) {
        return "IPV6_V6ONLY";
    }
    return "level " + std::to_string(level) + " option " + std::to_string(name);
}

} // namespace corio::sys
