#include "io/socket_transport.hpp"

#include "corio/runtime/event_loop.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace corio {

void transport::write_eof() {
    throw std::logic_error("corio: this transport cannot half-close (write_eof)");
}

namespace detail {

socket_transport::socket_transport(event_loop& loop, net::socket s)
    : m_sock(std::move(s)), m_backend(&loop.io_backend()), m_loop_ref(loop.handle()) {
    if (!m_sock.is_open())
        throw std::invalid_argument("corio: streams over a closed socket");
    prepare(m_read_wait, io_kind::poll_readable);
}

void socket_transport::prepare(wait_slot& w, io_kind kind) noexcept {
    w.self = this;
    w.op.m_kind = kind;
    w.op.m_fd = m_sock.native_handle();
    w.op.m_complete = kind == io_kind::poll_readable ? &on_read_ready : &on_write_ready;
}

std::int64_t socket_transport::transfer(io_kind kind, void* buf, std::size_t len) {
    // Never queued: no operation waits with the caller's buffer after this call.
    const std::int64_t r = m_backend->try_transfer(kind, m_sock.native_handle(), buf, len);
    if (r >= 0)
        return r;
    if (r == -EAGAIN)
        return would_block;
    throw_error(static_cast<int>(-r), kind == io_kind::recv ? "recv from" : "send to");
}

std::int64_t socket_transport::try_read(std::span<std::byte> buf) {
    if (m_read_drained)
        return would_block;
    const std::int64_t r = transfer(io_kind::recv, buf.data(), buf.size());
    m_read_drained = r > 0 && static_cast<std::size_t>(r) < buf.size();
    return r;
}

std::int64_t socket_transport::try_write(std::span<const std::byte> buf) {
    return transfer(io_kind::send, const_cast<std::byte*>(buf.data()), buf.size());
}

void socket_transport::throw_error(int err, const char* call) const {
    std::string what = call;
    try {
        what += ' ';
        what += m_sock.peer_endpoint().to_string();
    } catch (...) {
        // A Unix peer, or a peer nobody recorded that getpeername no longer knows (reset).
        what = call[0] == 'r' ? "recv" : "send";
    }
    throw std::system_error(err, std::generic_category(), what);
}

void socket_transport::arm(wait_slot& w) {
    // Polls never complete inside submit(); the backend sets m_result and its own link.
    m_backend->submit(w.op);
}

void socket_transport::wait_readable() {
    if (m_read_armed)
        return;
    arm(m_read_wait);
    m_read_armed = true;
}

void socket_transport::wait_writable() {
    if (m_write_armed)
        return;
    if (!m_write_wait) {
        m_write_wait = std::make_unique<wait_slot>();
        prepare(*m_write_wait, io_kind::poll_writable);
    }
    arm(*m_write_wait);
    m_write_armed = true;
}

void socket_transport::disarm(wait_slot& w, bool& armed) noexcept {
    if (!armed)
        return;
    armed = false;
    if (loop_alive())
        m_backend->cancel(w.op);
}

void socket_transport::cancel_wait_readable() noexcept {
    disarm(m_read_wait, m_read_armed);
}

void socket_transport::cancel_wait_writable() noexcept {
    if (m_write_wait)
        disarm(*m_write_wait, m_write_armed);
}

void socket_transport::on_read_ready(io_operation* op) noexcept {
    socket_transport* self = reinterpret_cast<wait_slot*>(op)->self;
    self->m_read_armed = false;
    self->m_read_drained = false;
    self->m_events->on_readable();
}

void socket_transport::on_write_ready(io_operation* op) noexcept {
    socket_transport* self = reinterpret_cast<wait_slot*>(op)->self;
    self->m_write_armed = false;
    self->m_events->on_writable();
}

void socket_transport::write_eof() {
    m_sock.shutdown(net::shutdown_how::send);
}

void socket_transport::shut(bool reset) noexcept {
    if (!m_sock.is_open())
        return;
    cancel_wait_readable();
    cancel_wait_writable();
    if (reset) {
        const ::linger l{1, 0};
        ::setsockopt(m_sock.native_handle(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    // release() aborts calls made through the socket itself (socket()) and makes the loop forget
    // the fd if those calls tied the socket to it; this transport's own use of the fd is
    // forgotten here, before the number can be reused.
    const int fd = m_sock.release();
    if (loop_alive())
        m_backend->forget_fd(fd);
    ::close(fd);
}

void socket_transport::close() noexcept {
    shut(false);
}

void socket_transport::abort() noexcept {
    shut(true);
}

net::socket_address socket_transport::local_address() const {
    return m_sock.local_address();
}

net::socket_address socket_transport::peer_address() const {
    return m_sock.peer_address();
}

} // namespace detail
} // namespace corio
