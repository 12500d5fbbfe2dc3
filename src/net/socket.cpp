#include "corio/net/socket.hpp"

#include "corio/runtime/event_loop.hpp"

#include "backend/backend.hpp"
#include "sys/posix/errors.hpp"
#include "sys/posix/socket.hpp"
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>

namespace corio::net {

socket socket::open(int family, int type, int protocol) {
    return socket(sys::open_socket(family, type, protocol).release());
}

socket socket::adopt(int fd) {
    sys::make_nonblocking_cloexec(fd);
    return socket(fd);
}

std::pair<socket, socket> socket::pair(int family, int type, int protocol) {
    auto [a, b] = sys::open_socket_pair(family, type, protocol);
    return {socket(a.release()), socket(b.release())};
}

socket::socket(socket&& o) noexcept
    : m_fd(std::exchange(o.m_fd, -1)), m_peer_known(std::exchange(o.m_peer_known, false)),
      m_loop(std::exchange(o.m_loop, nullptr)), m_loop_ref(std::move(o.m_loop_ref)),
      m_pending(std::exchange(o.m_pending, nullptr)), m_peer(o.m_peer) {
    o.m_loop_ref = loop_handle();
    for (detail::io_awaiter* a = m_pending; a; a = a->m_next)
        a->m_owner = this;
}

socket& socket::operator=(socket&& o) noexcept {
    if (this == &o)
        return *this;
    close();
    m_fd = std::exchange(o.m_fd, -1);
    m_peer_known = std::exchange(o.m_peer_known, false);
    m_loop = std::exchange(o.m_loop, nullptr);
    m_loop_ref = std::move(o.m_loop_ref);
    o.m_loop_ref = loop_handle();
    m_pending = std::exchange(o.m_pending, nullptr);
    m_peer = o.m_peer;
    for (detail::io_awaiter* a = m_pending; a; a = a->m_next)
        a->m_owner = this;
    return *this;
}

void socket::attach(event_loop& loop) {
    if (m_loop == &loop)
        return;
    if (m_loop)
        throw std::logic_error("corio::net::socket: a socket belongs to the event loop of its "
                               "first call and cannot be used from another one");
    m_loop = &loop;
    m_loop_ref = loop.handle();
}

void socket::detach() noexcept {
    while (detail::io_awaiter* a = m_pending)
        a->abort(); // unlinks it
    if (m_loop && m_fd >= 0 && !m_loop_ref.is_closed())
        m_loop->io_backend().forget_fd(m_fd);
    m_loop = nullptr;
    m_loop_ref = loop_handle();
}

void socket::close() noexcept {
    if (m_fd < 0)
        return;
    detach();
    ::close(m_fd); // never retried: on Linux the fd is gone even on EINTR
    m_fd = -1;
    m_peer_known = false;
}

int socket::release() noexcept {
    if (m_fd < 0)
        return -1;
    detach();
    m_peer_known = false;
    return std::exchange(m_fd, -1);
}

void socket::set_option_raw(int level, int name, const void* value, socklen_t len) {
    if (::setsockopt(m_fd, level, name, value, len) != 0) {
        const std::string what = "setsockopt(" + sys::option_name(level, name) + ")";
        sys::throw_errno(errno, what.c_str());
    }
}

void socket::get_option_raw(int level, int name, void* value, socklen_t len) const {
    socklen_t got = len;
    if (::getsockopt(m_fd, level, name, value, &got) != 0) {
        const std::string what = "getsockopt(" + sys::option_name(level, name) + ")";
        sys::throw_errno(errno, what.c_str());
    }
}

void socket::bind(const socket_address& address) {
    if (::bind(m_fd, address.data(), address.size()) != 0) {
        const std::string what = "bind to " + address.to_string();
        sys::throw_errno(errno, what.c_str());
    }
}

void socket::connect_now(const socket_address& to) {
    if (::connect(m_fd, to.data(), to.size()) != 0) {
        const std::string what = "connect to " + to.to_string();
        sys::throw_errno(errno, what.c_str());
    }
    remember_peer(to);
}

void socket::listen(int backlog) {
    if (::listen(m_fd, backlog) != 0)
        sys::throw_last_errno("listen");
}

void socket::shutdown(shutdown_how how) {
    if (::shutdown(m_fd, static_cast<int>(how)) != 0)
        sys::throw_last_errno("shutdown");
}

socket_address socket::local_address() const {
    socket_address a;
    socklen_t len = socket_address::capacity();
    if (::getsockname(m_fd, a.data(), &len) != 0)
        sys::throw_last_errno("getsockname");
    a.resize(len);
    return a;
}

socket_address socket::peer_address() const {
    socket_address a;
    socklen_t len = socket_address::capacity();
    if (::getpeername(m_fd, a.data(), &len) != 0)
        sys::throw_last_errno("getpeername");
    a.resize(len);
    return a;
}

endpoint socket::peer_endpoint() const {
    if (m_peer_known)
        return m_peer;
    return peer_address().to_endpoint();
}

void socket::remember_peer(const socket_address& a) noexcept {
    if (a.is_ip()) {
        m_peer = a.to_endpoint();
        m_peer_known = true;
    }
}

task<void> socket::send_all(std::span<const std::byte> data, std::size_t* sent) {
    std::size_t done = 0;
    if (sent)
        *sent = 0;
    while (done < data.size()) {
        done += co_await send(data.subspan(done));
        if (sent)
            *sent = done;
    }
}

bool is_accept_exhaustion(const std::error_code& ec) noexcept {
    return ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system ||
           ec == std::errc::no_buffer_space || ec == std::errc::not_enough_memory;
}

bool is_accept_transient(const std::error_code& ec) noexcept {
    // accept(2): "Linux accept() passes already-pending network errors on the new socket as an
    // error code from accept()"; these concern that one connection only.
    return ec == std::errc::connection_aborted || ec == std::errc::protocol_error ||
           ec == std::errc::operation_not_permitted || ec == std::errc::network_down ||
           ec == std::errc::network_unreachable || ec == std::errc::host_unreachable ||
           ec == std::errc::no_protocol_option || ec == std::errc::operation_not_supported ||
           ec.value() == ENONET || ec.value() == EHOSTDOWN || ec == std::errc::timed_out ||
           ec == std::errc::interrupted;
}

// ------------------------------------------------------------------------------ awaiters ---

namespace detail {

void connect_awaiter::await_resume() {
    const std::int64_t r = result();
    if (r < 0)
        throw_error(static_cast<int>(-r));
    if (net::socket* s = owner())
        s->remember_peer(m_to);
}

accept_awaiter::accept_awaiter(net::socket* owner, int fd) noexcept
    : io_awaiter(io_request{io_op::accept, fd, 0, nullptr, 0, nullptr, nullptr, nullptr}, owner) {
    set_address(m_peer.data(), &m_len);
}

int accept_awaiter::take_fd() {
    const std::int64_t r = result();
    if (r < 0)
        throw_error(static_cast<int>(-r));
    take_accepted();
    m_peer.resize(m_len);
    return static_cast<int>(r);
}

net::socket accept_awaiter::take_socket() {
    net::socket s(take_fd());
    s.remember_peer(m_peer);
    return s;
}

net::accepted accept_awaiter::await_resume() {
    net::socket s = take_socket();
    return net::accepted{std::move(s), m_peer};
}

recv_from_awaiter::recv_from_awaiter(net::socket* owner, int fd, std::span<std::byte> buf,
                                     int flags) noexcept
    : io_awaiter(io_request{io_op::recvmsg, fd, flags, nullptr, 0, nullptr, nullptr, nullptr},
                 owner),
      m_iov{buf.data(), buf.size()}, m_msg{} {
    m_msg.msg_name = m_from.data();
    m_msg.msg_namelen = socket_address::capacity();
    m_msg.msg_iov = &m_iov;
    m_msg.msg_iovlen = 1;
    set_msg(&m_msg);
}

std::size_t recv_from_awaiter::take_size() {
    const std::int64_t r = result();
    if (r < 0)
        throw_error(static_cast<int>(-r));
    m_from.resize(m_msg.msg_namelen);
    return static_cast<std::size_t>(r);
}

net::datagram recv_from_awaiter::await_resume() {
    const std::size_t n = take_size();
    return net::datagram{n, m_from, (m_msg.msg_flags & MSG_TRUNC) != 0};
}

send_to_awaiter::send_to_awaiter(net::socket* owner, int fd, std::span<const std::byte> buf,
                                 const socket_address& to, int flags) noexcept
    : io_awaiter(io_request{io_op::sendmsg, fd, flags, nullptr, 0, nullptr, nullptr, nullptr},
                 owner),
      m_to(to), m_iov{const_cast<std::byte*>(buf.data()), buf.size()}, m_msg{} {
    m_msg.msg_name = m_to.data();
    m_msg.msg_namelen = m_to.size();
    m_msg.msg_iov = &m_iov;
    m_msg.msg_iovlen = 1;
    set_msg(&m_msg);
}

} // namespace detail

} // namespace corio::net
