#include "io/pipe_transport.hpp"

#include "corio/runtime/event_loop.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace corio::detail {

void ignore_sigpipe() noexcept {
    // Once per process: a program may set its own action later, which corio then leaves alone.
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction current {};
        if (::sigaction(SIGPIPE, nullptr, &current) == 0 && !(current.sa_flags & SA_SIGINFO) &&
            current.sa_handler == SIG_DFL) {
            struct sigaction ign {};
            ign.sa_handler = SIG_IGN;
            sigemptyset(&ign.sa_mask);
            ::sigaction(SIGPIPE, &ign, nullptr);
        }
    });
}

pipe_transport::pipe_transport(event_loop& loop, sys::unique_fd fd, bool writable)
    : m_fd(std::move(fd)), m_backend(&loop.io_backend()), m_loop_ref(loop.handle()),
      m_writable(writable) {
    if (!m_fd)
        throw std::invalid_argument("corio: a pipe stream over a closed fd");
    m_wait.self = this;
    m_wait.op.m_kind = writable ? io_kind::poll_writable : io_kind::poll_readable;
    m_wait.op.m_fd = m_fd.get();
    m_wait.op.m_complete = &on_ready;
    if (writable)
        ignore_sigpipe();
}

std::int64_t pipe_transport::try_read(std::span<std::byte> buf) {
    if (m_writable)
        throw std::system_error(EBADF, std::generic_category(), "read from a write pipe");
    if (!m_fd)
        return 0;
    for (;;) {
        const ssize_t r = ::read(m_fd.get(), buf.data(), buf.size());
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return would_block;
        throw std::system_error(errno, std::generic_category(), "read from pipe");
    }
}

std::int64_t pipe_transport::try_write(std::span<const std::byte> buf) {
    if (!m_writable)
        throw std::system_error(EBADF, std::generic_category(), "write to a read pipe");
    if (!m_fd)
        throw std::system_error(EPIPE, std::generic_category(), "write to pipe");
    for (;;) {
        const ssize_t r = ::write(m_fd.get(), buf.data(), buf.size());
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return would_block;
        throw std::system_error(errno, std::generic_category(), "write to pipe");
    }
}

void pipe_transport::arm(bool write) {
    if (m_armed || write != m_writable || !m_fd)
        return;
    // Polls never complete inside submit(). A regular file is refused by epoll (EPERM), but
    // its calls never ask for a wait.
    m_backend->submit(m_wait.op);
    m_armed = true;
}

void pipe_transport::wait_readable() {
    arm(false);
}

void pipe_transport::wait_writable() {
    arm(true);
}

void pipe_transport::cancel_wait_readable() noexcept {
    if (m_armed && !m_writable) {
        m_armed = false;
        if (loop_alive())
            m_backend->cancel(m_wait.op);
    }
}

void pipe_transport::cancel_wait_writable() noexcept {
    if (m_armed && m_writable) {
        m_armed = false;
        if (loop_alive())
            m_backend->cancel(m_wait.op);
    }
}

void pipe_transport::on_ready(io_operation* op) noexcept {
    pipe_transport* self = reinterpret_cast<wait_slot*>(op)->self;
    self->m_armed = false;
    if (self->m_writable)
        self->m_events->on_writable();
    else
        self->m_events->on_readable();
}

void pipe_transport::write_eof() {
    // A pipe has no half-close: closing the write end is the end of the stream for the reader.
    close();
}

void pipe_transport::close() noexcept {
    if (!m_fd)
        return;
    cancel_wait_readable();
    cancel_wait_writable();
    const int fd = m_fd.release();
    if (loop_alive())
        m_backend->forget_fd(fd);
    ::close(fd);
}

} // namespace corio::detail
