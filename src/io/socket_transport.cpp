#include "io/socket_transport.hpp"

#include "corio/core/detail/frame_pool.hpp"
#include "corio/runtime/event_loop.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
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
    const backend_caps caps = m_backend->caps();
    if (!caps.completes_inline) {
        m_mode = mode::direct;
        if (caps.provided_buffers && (m_pool = m_backend->buffer_pool()) != nullptr) {
            m_mode = mode::multishot;
            m_read_wait.op.m_kind = io_kind::recv;
            m_read_wait.op.m_multishot = true;
            m_read_wait.op.m_complete = &on_chunk;
            m_queue_sends = caps.queued_sends;
        }
    }
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
    if (m_mode == mode::multishot)
        return read_chunks(buf);
    if (m_read_drained)
        return would_block;
    const std::int64_t r = transfer(io_kind::recv, buf.data(), buf.size());
    m_read_drained = r > 0 && static_cast<std::size_t>(r) < buf.size();
    return r;
}

/// A queued send and a copy of its bytes. Its memory comes from the per-thread cache of
/// coroutine frames (frame_allocate), whose largest class it fills: taking and giving back a
/// slot is a free-list pop and push, and the cache outlives every user at thread exit.
///
/// Invariant: `op` is in the backend exactly while the slot is its transport's m_send; the
/// kernel has taken the bytes before `offset` (a short send goes on from there).
struct socket_transport::send_slot {
    static constexpr std::size_t size = (frame_cache::classes - 1) * frame_cache::granule;
    struct header {
        io_operation op;
        socket_transport* self = nullptr;
        std::uint32_t end = 0;
        std::uint32_t offset = 0;
    };
    header h;
    std::byte data[size - sizeof(header)];
    static constexpr std::size_t capacity = size - sizeof(header);

    static send_slot* take() { return ::new (frame_allocate(sizeof(send_slot))) send_slot; }
    static void give_back(send_slot* s) noexcept {
        s->~send_slot();
        frame_deallocate(s, sizeof(send_slot));
    }
};
static_assert(sizeof(socket_transport::send_slot) == socket_transport::send_slot::size);

std::int64_t socket_transport::try_write(std::span<const std::byte> buf) {
    if (m_queue_sends) {
        if (m_send_error != 0) [[unlikely]]
            throw_error(m_send_error, "send to");
        if (m_send)
            return would_block; // one send queued at a time keeps the bytes in order
        if (buf.size() <= send_slot::capacity)
            return queue_send(buf);
    }
    return transfer(io_kind::send, const_cast<std::byte*>(buf.data()), buf.size());
}

// ------------------------------------------------------------------------ queued sends ---

std::size_t socket_transport::send_backlog() const noexcept {
    return m_send->h.end - m_send->h.offset;
}

std::int64_t socket_transport::queue_send(std::span<const std::byte> buf) {
    if (!m_sock.is_open() || !loop_alive())
        return transfer(io_kind::send, const_cast<std::byte*>(buf.data()), buf.size());
    send_slot* s = send_slot::take();
    const auto n = static_cast<std::uint32_t>(buf.size()); // <= send_slot::capacity
    std::memcpy(s->data, buf.data(), n);
    io_operation& op = s->h.op;
    op = io_operation{};
    op.m_kind = io_kind::send;
    op.m_fd = m_sock.native_handle();
    op.m_complete = &on_sent;
    op.m_buf = s->data;
    op.m_len = n;
    s->h.self = this;
    s->h.end = n;
    s->h.offset = 0;
    bool done;
    try {
        done = m_backend->submit(op);
    } catch (...) {
        send_slot::give_back(s);
        throw;
    }
    m_send = s;
    if (done) // not on io_uring, whose sends complete in a later wait()
        send_done(op.m_result);
    return n;
}

void socket_transport::on_sent(io_operation* op) noexcept {
    auto* s = reinterpret_cast<send_slot*>(op);
    s->h.self->send_done(op->m_result);
}

void socket_transport::send_done(std::int64_t r) noexcept {
    send_slot* s = m_send;
    if (r > 0 && s->h.offset + r < s->h.end) {
        // A short send: the rest goes next, before anything written later.
        s->h.offset += static_cast<std::uint32_t>(r);
        s->h.op.m_buf = s->data + s->h.offset;
        s->h.op.m_len = s->h.end - s->h.offset;
        try {
            if (!m_backend->submit(s->h.op))
                return;
            send_done(s->h.op.m_result);
            return;
        } catch (...) {
            r = -ENOMEM;
        }
    }
    m_send = nullptr;
    send_slot::give_back(s);
    if (r < 0) {
        m_send_error = static_cast<int>(-r);
    } else if (m_eof_after_send) {
        m_eof_after_send = false;
        if (::shutdown(m_sock.native_handle(), SHUT_WR) != 0)
            m_send_error = errno;
    }
    // The stream learns of a failure even when it waits for nothing (as asyncio's transport
    // reports a failed write as the connection lost).
    if (m_send_waiting || m_send_error != 0) {
        m_send_waiting = false;
        m_events->on_writable(); // last: the stream may close the transport
    }
}

void socket_transport::stop_queueing_sends() {
    if (m_send)
        throw std::logic_error("corio: a send is still queued on this socket");
    m_queue_sends = false;
}

// ----------------------------------------------------------------------- multishot mode ---

std::int64_t socket_transport::read_chunks(std::span<std::byte> buf) {
    if (m_head == no_chunk) {
        if (m_read_end == 0)
            return 0;
        if (m_read_end < 0)
            throw_error(-m_read_end, "recv from");
        arm_recv();
        return would_block;
    }
    std::size_t n = 0;
    while (n < buf.size() && m_head != no_chunk) {
        provided_buffer_link& link = m_pool->links[m_head];
        const std::size_t take = std::min<std::size_t>(buf.size() - n, link.len - m_head_offset);
        std::memcpy(buf.data() + n,
                    m_pool->base + std::size_t{m_head} * m_pool->buffer_size + m_head_offset, take);
        n += take;
        m_head_offset += static_cast<std::uint32_t>(take);
        if (m_head_offset == link.len) {
            const std::uint32_t done = m_head;
            m_head = link.next;
            m_head_offset = 0;
            if (m_head == no_chunk)
                m_tail = no_chunk;
            m_backend->recycle_buffer(done);
        }
    }
    m_unread -= static_cast<std::uint32_t>(n);
    if (m_unread <= read_high_water / 2)
        arm_recv();
    return static_cast<std::int64_t>(n);
}

void socket_transport::arm_recv() {
    // Not while a stop is on its way (its final completion re-arms), after the end of the
    // stream, or while the chunks held are above the low-water mark.
    if (m_recv_armed || m_read_end != no_end || m_unread > read_high_water / 2 ||
        !m_sock.is_open() || !loop_alive())
        return;
    m_backend->submit(m_read_wait.op);
    m_recv_armed = true;
}

void socket_transport::release_chunks() noexcept {
    while (m_head != no_chunk) {
        const std::uint32_t done = m_head;
        m_head = m_pool->links[done].next;
        m_backend->recycle_buffer(done);
    }
    m_tail = no_chunk;
    m_head_offset = 0;
    m_unread = 0;
}

void socket_transport::report_soon() {
    // A wait armed while its answer is already here reports from the ready queue, never from
    // inside wait_readable().
    event_loop* loop = event_loop::current();
    if (!loop)
        throw std::logic_error("corio: a stream used outside its loop");
    m_report = loop->call_soon([this] {
        socket_transport* self = this; // the handle below may hold the last reference to us
        self->m_report = callback_handle();
        if (!self->m_read_waiting)
            return;
        self->m_read_waiting = false;
        self->m_events->on_readable();
    });
}

void socket_transport::on_chunk(io_operation* op) noexcept {
    socket_transport* self = reinterpret_cast<wait_slot*>(op)->self;
    const std::int64_t r = op->m_result;
    bool news = false;
    if (r > 0) {
        const std::uint32_t id = op->m_buffer_id;
        provided_buffer_link& link = self->m_pool->links[id];
        link.next = no_chunk;
        link.len = static_cast<std::uint32_t>(r);
        if (self->m_tail == no_chunk)
            self->m_head = id;
        else
            self->m_pool->links[self->m_tail].next = id;
        self->m_tail = id;
        self->m_unread += static_cast<std::uint32_t>(r);
        news = true;
    } else if (r == 0) {
        self->m_read_end = 0;
        news = true;
    } else if (r != -ECANCELED && r != -ENOBUFS) {
        // -ECANCELED / -ENOBUFS end a stopped recv; anything else is the connection's error.
        self->m_read_end = static_cast<int>(r);
        news = true;
    }
    if (!op->m_more) {
        self->m_recv_armed = false;
        self->m_recv_stopping = false;
        // Ended by a stop, a CQ overflow or the kernel: armed again unless the stream ended
        // or too much is unread (then try_read re-arms).
        try {
            self->arm_recv();
        } catch (...) {
            // The recv cannot be armed again: the connection ends with this error.
            if (self->m_read_end == no_end)
                self->m_read_end = -EIO;
            news = true;
        }
    } else if (self->m_unread >= read_high_water && !self->m_recv_stopping) {
        // Backpressure: a peer the stream does not read must not drain the shared pool.
        self->m_recv_stopping = true;
        self->m_backend->stop(*op);
    }
    if (news && self->m_read_waiting) {
        self->m_read_waiting = false;
        self->m_events->on_readable(); // last: the stream may close the transport
    }
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
    if (m_mode == mode::multishot) {
        if (m_read_waiting)
            return;
        m_read_waiting = true;
        if (m_head != no_chunk || m_read_end != no_end) {
            try {
                report_soon();
            } catch (...) {
                m_read_waiting = false;
                throw;
            }
            return;
        }
        try {
            arm_recv();
        } catch (...) {
            m_read_waiting = false;
            throw;
        }
        return;
    }
    if (m_read_armed)
        return;
    arm(m_read_wait);
    m_read_armed = true;
}

void socket_transport::wait_writable() {
    if (m_send) {
        m_send_waiting = true; // reported when the queued send is done
        return;
    }
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
    if (m_mode == mode::multishot) {
        // The recv goes on (bounded by the high-water mark): only the report is withdrawn.
        m_read_waiting = false;
        m_report.cancel();
        m_report = callback_handle();
        return;
    }
    disarm(m_read_wait, m_read_armed);
}

void socket_transport::cancel_wait_writable() noexcept {
    m_send_waiting = false;
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
    if (m_send) {
        m_eof_after_send = true; // after the queued bytes
        return;
    }
    m_sock.shutdown(net::shutdown_how::send);
}

void socket_transport::shut(bool reset) noexcept {
    if (!m_sock.is_open())
        return;
    cancel_wait_readable();
    cancel_wait_writable();
    if (m_mode == mode::multishot) {
        if (loop_alive()) {
            // Synchronous: the kernel no longer fills a buffer for this socket, and chunks it
            // had not delivered yet go back to the pool with the ones held here.
            if (m_recv_armed)
                m_backend->cancel(m_read_wait.op);
            release_chunks();
        }
        m_recv_armed = false;
        m_head = m_tail = no_chunk;
        m_unread = 0;
    }
    if (m_send) {
        // Only an abort, a failed stream or a loop torn down gets here with bytes queued (the
        // streams wait for write_backlog() before they close): they are dropped.
        if (loop_alive())
            m_backend->cancel(m_send->h.op); // a gone backend withdrew it already
        send_slot::give_back(m_send);
        m_send = nullptr;
    }
    m_send_waiting = false;
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
