#include "backend/epoll/epoll_backend.hpp"

#include "sys/posix/errors.hpp"
#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace corio::detail {

class epoll_backend::eventfd_waker final : public waker {
  public:
    eventfd_waker() : m_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
        if (!m_fd)
            sys::throw_last_errno("eventfd");
    }
    void wake() noexcept override {
        const std::uint64_t one = 1;
        // EAGAIN means the counter is saturated, which still wakes the loop.
        [[maybe_unused]] ssize_t n = ::write(m_fd.get(), &one, sizeof one);
    }
    void drain() noexcept {
        std::uint64_t value;
        [[maybe_unused]] ssize_t n = ::read(m_fd.get(), &value, sizeof value);
    }
    [[nodiscard]] int fd() const noexcept { return m_fd.get(); }

  private:
    sys::unique_fd m_fd;
};

epoll_backend::epoll_backend()
    : m_epoll(::epoll_create1(EPOLL_CLOEXEC)), m_waker(std::make_shared<eventfd_waker>()) {
    if (!m_epoll)
        sys::throw_last_errno("epoll_create1");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = m_waker->fd();
    if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, m_waker->fd(), &ev) != 0)
        sys::throw_last_errno("epoll_ctl(eventfd)");
}

epoll_backend::~epoll_backend() = default;

std::shared_ptr<waker> epoll_backend::get_waker() const {
    return m_waker;
}

std::uint32_t epoll_backend::wanted(const fd_entry& e) noexcept {
    std::uint32_t ev = 0;
    if (e.readers)
        ev |= EPOLLIN | EPOLLRDHUP;
    if (e.writers)
        ev |= EPOLLOUT;
    return ev;
}

void epoll_backend::set_interest(int fd, fd_entry& e, std::uint32_t events) {
    if (events == e.registered)
        return;
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    int op = events == 0 ? EPOLL_CTL_DEL : (e.registered == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD);
    if (::epoll_ctl(m_epoll.get(), op, fd, &ev) != 0) {
        // The fd may have been closed and reopened behind our back; start afresh for it.
        if (op == EPOLL_CTL_MOD && errno == ENOENT)
            op = EPOLL_CTL_ADD;
        else if (op == EPOLL_CTL_ADD && errno == EEXIST)
            op = EPOLL_CTL_MOD;
        else if (op == EPOLL_CTL_DEL) {
            e.registered = 0; // gone already (closed): nothing left to remove
            return;
        } else
            sys::throw_last_errno("epoll_ctl");
        if (::epoll_ctl(m_epoll.get(), op, fd, &ev) != 0)
            sys::throw_last_errno("epoll_ctl");
    }
    e.registered = events;
}

void epoll_backend::submit(io_operation& op) {
    if (op.m_fd < 0)
        sys::throw_errno(EBADF, "corio: submit on an invalid fd");
    const auto fd = static_cast<std::size_t>(op.m_fd);
    if (fd >= m_fds.size())
        m_fds.resize(fd + 1);
    fd_entry& e = m_fds[fd];
    io_operation*& head = list_for(e, op.m_kind);
    op.m_backend_next = nullptr;
    io_operation** tail = &head;
    while (*tail)
        tail = &(*tail)->m_backend_next;
    *tail = &op;
    try {
        const std::uint32_t want = wanted(e);
        if ((e.registered & want) != want)
            set_interest(op.m_fd, e, e.registered | want);
    } catch (...) {
        *tail = nullptr;
        throw;
    }
    ++m_pending;
}

bool epoll_backend::cancel(io_operation& op) noexcept {
    if (op.m_fd < 0 || static_cast<std::size_t>(op.m_fd) >= m_fds.size())
        return false;
    io_operation** p = &list_for(m_fds[static_cast<std::size_t>(op.m_fd)], op.m_kind);
    while (*p && *p != &op)
        p = &(*p)->m_backend_next;
    if (!*p)
        return false;
    *p = op.m_backend_next;
    op.m_backend_next = nullptr;
    --m_pending;
    // Interest stays registered; it is dropped if an event arrives that nobody waits for.
    return true;
}

void epoll_backend::forget_fd(int fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= m_fds.size())
        return;
    fd_entry& e = m_fds[static_cast<std::size_t>(fd)];
    if (e.registered) {
        epoll_event ev{};
        ::epoll_ctl(m_epoll.get(), EPOLL_CTL_DEL, fd, &ev);
    }
    e = fd_entry{};
}

void epoll_backend::complete_all(io_operation*& list, int revents) noexcept {
    io_operation* op = list;
    list = nullptr;
    while (op) {
        io_operation* next = op->m_backend_next;
        op->m_backend_next = nullptr;
        op->m_result = revents;
        --m_pending;
        op->m_complete(op); // may destroy *op
        op = next;
    }
}

int epoll_backend::epoll_wait_for(std::optional<std::chrono::nanoseconds> timeout) {
    constexpr int max_events = static_cast<int>(sizeof m_events / sizeof m_events[0]);
    if (m_have_pwait2) {
        timespec ts{};
        if (timeout) {
            ts.tv_sec = static_cast<time_t>(timeout->count() / 1'000'000'000);
            ts.tv_nsec = static_cast<long>(timeout->count() % 1'000'000'000);
        }
        const int n =
            ::epoll_pwait2(m_epoll.get(), m_events, max_events, timeout ? &ts : nullptr, nullptr);
        if (n >= 0 || errno != ENOSYS)
            return n;
        m_have_pwait2 = false;
    }
    int ms = -1;
    if (timeout) {
        // Round up: waking before the deadline would only spin until it passes.
        const auto c = (timeout->count() + 999'999) / 1'000'000;
        ms = c > 2'000'000'000 ? 2'000'000'000 : static_cast<int>(c);
    }
    return ::epoll_wait(m_epoll.get(), m_events, max_events, ms);
}

void epoll_backend::wait(std::optional<std::chrono::nanoseconds> timeout) {
    const int n = epoll_wait_for(timeout);
    if (n < 0) {
        if (errno == EINTR)
            return; // a signal; the loop re-evaluates its timers and wakes-ups
        sys::throw_last_errno("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
        const int fd = m_events[i].data.fd;
        const std::uint32_t ev = m_events[i].events;
        if (fd == m_waker->fd()) {
            m_waker->drain();
            continue;
        }
        if (static_cast<std::size_t>(fd) >= m_fds.size())
            continue;
        // Linux's EPOLL* bits equal the POLL* bits, so waiters see poll(2) semantics.
        const int revents = static_cast<int>(
            ev & (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLRDHUP | EPOLLPRI));
        constexpr std::uint32_t read_bits = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI;
        constexpr std::uint32_t write_bits = EPOLLOUT | EPOLLHUP | EPOLLERR;
        bool had_readers = false;
        bool had_writers = false;
        {
            fd_entry& e = m_fds[static_cast<std::size_t>(fd)];
            had_readers = e.readers != nullptr;
            had_writers = e.writers != nullptr;
            if (ev & read_bits)
                complete_all(e.readers, revents);
        }
        // Completions may have submitted operations and grown the table: look the entry up again.
        if (ev & write_bits)
            complete_all(m_fds[static_cast<std::size_t>(fd)].writers, revents);

        // Lazy disarm: drop only a direction that fired while nobody waited for it, so a steady
        // stream of operations on an fd costs no epoll_ctl, and a level-triggered fd that
        // nobody reads cannot wake the loop in a spin.
        std::uint32_t drop = 0;
        if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLPRI)) && !had_readers)
            drop |= EPOLLIN | EPOLLRDHUP;
        if ((ev & EPOLLOUT) && !had_writers)
            drop |= EPOLLOUT;
        if ((ev & (EPOLLHUP | EPOLLERR)) && !had_readers && !had_writers)
            drop = ~0u; // reported whatever the mask: only removal silences them
        if (drop) {
            fd_entry& e = m_fds[static_cast<std::size_t>(fd)];
            try {
                set_interest(fd, e, (e.registered & ~drop) | wanted(e));
            } catch (const std::system_error&) {
                // Only costs a spurious wake-up later.
            }
        }
    }
}

} // namespace corio::detail
