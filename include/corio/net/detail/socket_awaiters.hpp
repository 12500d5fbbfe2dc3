#pragma once

#include "corio/net/detail/io_awaiter.hpp"
#include "corio/net/socket_address.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace corio::net {
struct accepted;
struct datagram;
class socket;
} // namespace corio::net

namespace corio::net::detail {

/// recv, send, read, write: the number of bytes transferred.
class transfer_awaiter : public io_awaiter {
  public:
    transfer_awaiter(io_op kind, net::socket* owner, int fd, void* buf, std::size_t len,
                     int flags) noexcept
        : io_awaiter(io_request{kind, fd, flags, buf, len, nullptr, nullptr, nullptr}, owner) {}
    std::size_t await_resume() {
        const std::int64_t r = result();
        if (r < 0)
            throw_error(static_cast<int>(-r));
        return static_cast<std::size_t>(r);
    }
};

/// Waits for readiness: the poll(2) bits that are set (POLLIN, POLLOUT, POLLHUP, POLLERR...).
class poll_awaiter : public io_awaiter {
  public:
    poll_awaiter(io_op kind, net::socket* owner, int fd) noexcept
        : io_awaiter(io_request{kind, fd, 0, nullptr, 0, nullptr, nullptr, nullptr}, owner) {}
    int await_resume() {
        const std::int64_t r = result();
        if (r < 0)
            throw_error(static_cast<int>(-r));
        return static_cast<int>(r);
    }
};

/// connect: returns once the connection is established (or throws).
class connect_awaiter : public io_awaiter {
  public:
    connect_awaiter(net::socket* owner, int fd, const socket_address& to) noexcept
        : io_awaiter(io_request{io_op::connect, fd, 0, nullptr, 0, nullptr, nullptr, nullptr},
                     owner),
          m_to(to), m_len(to.size()) {
        set_address(m_to.data(), &m_len);
    }
    /// Errors: std::system_error naming the address ("connect to 127.0.0.1:9: Connection
    /// refused").
    void await_resume();

  private:
    socket_address m_to;
    socklen_t m_len;
};

/// accept: the new connection and the peer's address. A connection accepted by a call whose
/// task is destroyed before it resumes is closed, never leaked.
class accept_awaiter : public io_awaiter {
  public:
    accept_awaiter(net::socket* owner, int fd) noexcept;
    /// Errors: std::system_error naming the listening address ("accept on 0.0.0.0:80: Too many
    /// open files").
    net::accepted await_resume();

  protected:
    /// The accepted fd, which the caller then owns; throws on failure.
    int take_fd();
    /// The accepted connection as a socket that knows its peer; throws on failure.
    net::socket take_socket();
    socket_address m_peer;
    socklen_t m_len = socket_address::capacity();
};

/// recvmsg into one buffer with the sender's address: a datagram.
class recv_from_awaiter : public io_awaiter {
  public:
    recv_from_awaiter(net::socket* owner, int fd, std::span<std::byte> buf, int flags) noexcept;
    net::datagram await_resume();

  protected:
    /// The byte count; fills m_from. Throws on failure.
    std::size_t take_size();
    socket_address m_from;
    iovec m_iov;
    msghdr m_msg;
};

/// sendmsg of one buffer to an address.
class send_to_awaiter : public io_awaiter {
  public:
    send_to_awaiter(net::socket* owner, int fd, std::span<const std::byte> buf,
                    const socket_address& to, int flags) noexcept;
    std::size_t await_resume() {
        const std::int64_t r = result();
        if (r < 0)
            throw_error(static_cast<int>(-r));
        return static_cast<std::size_t>(r);
    }

  private:
    socket_address m_to;
    iovec m_iov;
    msghdr m_msg;
};

/// recvmsg / sendmsg with the caller's msghdr (which must outlive the call).
class msg_awaiter : public io_awaiter {
  public:
    msg_awaiter(io_op kind, net::socket* owner, int fd, msghdr* msg, int flags) noexcept
        : io_awaiter(io_request{kind, fd, flags, nullptr, 0, nullptr, nullptr, msg}, owner) {}
    std::size_t await_resume() {
        const std::int64_t r = result();
        if (r < 0)
            throw_error(static_cast<int>(-r));
        return static_cast<std::size_t>(r);
    }
};

} // namespace corio::net::detail
