#include "backend/epoll/epoll_backend.hpp"

#include "backend/readiness_calls.hpp"
#include "sys/posix/errors.hpp"
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstdint>

namespace corio::detail {

namespace {

/// The epoll data of the waker; no fd entry can produce it (its fd half would be -1).
constexpr std::uint64_t waker_tag = ~std::uint64_t{0};

/// The epoll data of an fd: the fd in the low half, its entry's generation in the high half.
std::uint64_t tag_of(int fd, std::uint32_t generation) noexcept {
    return static_cast<std::uint64_t>(static_cast<std::uint32_t>(fd)) |
           (static_cast<std::uint64_t>(generation) << 32);
}

constexpr std::uint32_t edge_events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
constexpr std::uint32_t read_interest = EPOLLIN | EPOLLRDHUP;
constexpr std::uint32_t write_interest = EPOLLOUT;
// The events that make a direction worth retrying. HUP and ERR count for both: the calls then
// return their real outcome (0 at end of stream, ECONNRESET, EPIPE...).
constexpr std::uint32_t read_events = EPOLLIN | EPOLLRDHUP | EPOLLPRI | EPOLLHUP | EPOLLERR;
constexpr std::uint32_t write_events = EPOLLOUT | EPOLLHUP | EPOLLERR;
// What polls report. Linux's EPOLL* bits equal the POLL* bits, so waiters see poll(2) bits.
constexpr std::uint32_t reported_events =
    EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLRDHUP | EPOLLPRI;

std::size_t iov_total(const msghdr* msg) noexcept {
    std::size_t n = 0;
    for (std::size_t i = 0; i < msg->msg_iovlen; ++i)
        n += msg->msg_iov[i].iov_len;
    return n;
}

int int_option(int fd, int name) noexcept {
    int value = -1;
    socklen_t len = sizeof value;
    if (::getsockopt(fd, SOL_SOCKET, name, &value, &len) != 0)
        return -1;
    return value;
}

} // namespace

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

// ------------------------------------------------------------------------- epoll_backend ---

epoll_backend::epoll_backend(epoll_mode mode)
    : m_mode(mode), m_epoll(::epoll_create1(EPOLL_CLOEXEC)),
      m_waker(std::make_shared<eventfd_waker>()) {
    if (!m_epoll)
        sys::throw_last_errno("epoll_create1");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = waker_tag;
    if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, m_waker->fd(), &ev) != 0)
        sys::throw_last_errno("epoll_ctl(eventfd)");
    m_fds.reserve(64);
}

epoll_backend::~epoll_backend() = default;

std::shared_ptr<waker> epoll_backend::get_waker() const {
    return m_waker;
}

epoll_backend::fd_entry& epoll_backend::grow_to(std::size_t i) {
    // Geometric growth: a server's fd numbers climb one at a time.
    const std::size_t n = m_fds.size() * 2;
    m_fds.resize(n > i ? n : i + 1);
    return m_fds[i];
}

void epoll_backend::set_interest(int fd, fd_entry& e, std::uint32_t events) {
    if (events == e.registered)
        return;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag_of(fd, e.generation);
    int op = events == 0 ? EPOLL_CTL_DEL : (e.registered == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD);
    if (::epoll_ctl(m_epoll.get(), op, fd, &ev) != 0) {
        // The kernel's view differs from ours (the file was closed, or dup'ed and registered
        // under this number before): start afresh.
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

void epoll_backend::arm(int fd, fd_entry& e, std::uint32_t direction_events) {
    if (m_mode == epoll_mode::edge) {
        // Registered once for both directions; edges then keep the readiness bits current.
        if (e.registered == 0)
            set_interest(fd, e, edge_events);
        return;
    }
    if ((e.registered & direction_events) != direction_events)
        set_interest(fd, e, e.registered | direction_events);
}

void epoll_backend::note_short(int fd, fd_entry& e, const io_operation& op,
                               std::int64_t result) noexcept {
    // MSG_PEEK leaves the data queued; MSG_OOB reads the urgent byte only.
    if ((op.m_kind == io_kind::recv) && (op.m_flags & (MSG_PEEK | MSG_OOB)))
        return;
    if (op.m_kind == io_kind::sendmsg && static_cast<std::size_t>(result) >= iov_total(op.m_msg))
        return;
    if (is_read_kind(op.m_kind) ? e.read_closed : e.write_closed)
        return; // the end of stream (or the error) may still be there, with no event to come
    if (e.type == fd_type::unknown) {
        // Probed once per fd, at its first short transfer.
        e.type = fd_type::other;
        const int type = int_option(fd, SO_TYPE);
        if (type == SOCK_STREAM) {
            // A Unix stream socket with SO_PASSCRED does not glue data of different writers
            // into one read, so a short read may leave data behind.
            if (int_option(fd, SO_DOMAIN) != AF_UNIX || int_option(fd, SO_PASSCRED) == 0)
                e.type = fd_type::stream;
        } else if (type < 0 && errno == ENOTSOCK) {
            struct stat st {};
            if (::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
                e.type = fd_type::pipe;
        }
    }
    if (is_read_kind(op.m_kind)) {
        if (e.type == fd_type::stream)
            e.readable = false;
    } else if (e.type == fd_type::stream || e.type == fd_type::pipe) {
        e.writable = false;
    }
}

bool epoll_backend::poll_now(io_operation& op) {
    pollfd p{};
    p.fd = op.m_fd;
    p.events = POLLIN | POLLPRI | POLLRDHUP | POLLOUT;
    int n;
    do
        n = ::poll(&p, 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        sys::throw_last_errno("poll");
    if (p.revents & POLLNVAL)
        sys::throw_errno(EBADF, "corio: submit on an invalid fd");
    const auto revents = static_cast<std::uint32_t>(p.revents);
    if (!(revents & (op.m_kind == io_kind::poll_readable ? read_events : write_events)))
        return false;
    op.m_result = static_cast<std::int64_t>(revents & reported_events);
    return true;
}

bool epoll_backend::submit(io_operation& op) {
    if (op.m_fd < 0)
        sys::throw_errno(EBADF, "corio: submit on an invalid fd");
    fd_entry& e = entry_for(op.m_fd);
    const bool read_side = is_read_kind(op.m_kind);
    op_queue& queue = read_side ? e.readers : e.writers;
    bool& ready = read_side ? e.readable : e.writable;

    if (op.m_kind == io_kind::connect) {
        // connect starts the connection whatever the readiness; only its outcome is waited for.
        if (start_connect(op))
            return true;
        ready = false; // a connecting socket is not writable; connection raises EPOLLOUT
    } else if (op.m_fd == m_retry_fd && read_side == m_retry_read &&
               e.generation == m_retry_generation && is_poll_kind(op.m_kind) && ready) {
        // Re-armed from a completion of the retry in progress (see m_retry_fd).
        op.m_result = m_retry_revents;
        m_ready_polls.push(&op);
        ++m_pending;
        return false;
    } else if (queue.empty() && ready) {
        // FIFO: a call is tried only when nobody waits before it in this direction.
        if (is_poll_kind(op.m_kind)) {
            if (poll_now(op)) {
                m_ready_polls.push(&op);
                ++m_pending;
                return false;
            }
        } else {
            const std::int64_t r = perform_call(op);
            if (r != -EAGAIN) {
                note_transfer(op.m_fd, e, op, r);
                op.m_result = r;
                return true;
            }
        }
        ready = false;
    }

    queue.push(&op);
    try {
        arm(op.m_fd, e, read_side ? read_interest : write_interest);
    } catch (...) {
        queue.remove(&op);
        throw;
    }
    ++m_pending;
    return false;
}

std::int64_t epoll_backend::try_transfer(io_kind kind, int fd, void* buf, std::size_t len) {
    if (fd < 0)
        return -EBADF;
    // submit() without the queue: the streams' hot path, one lookup and one call.
    fd_entry& e = entry_for(fd);
    const bool read_side = kind == io_kind::recv;
    bool& ready = read_side ? e.readable : e.writable;
    if (!ready || !(read_side ? e.readers : e.writers).empty())
        return -EAGAIN;
    // The two calls made here directly, without an io_operation: every message of a stream
    // passes here.
    ssize_t r;
    do {
        r = read_side ? ::recv(fd, buf, len, MSG_DONTWAIT)
                      : ::send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        const int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK) {
            ready = false;
            return -EAGAIN;
        }
        return -err;
    }
    if (r > 0 && static_cast<std::size_t>(r) < len) {
        // note_transfer's common case first: a short read of a known stream socket emptied it.
        if (read_side && e.type == fd_type::stream && !e.read_closed) {
            e.readable = false;
        } else {
            io_operation op;
            op.m_kind = kind;
            op.m_len = len;
            note_short(fd, e, op, r);
        }
    }
    return r;
}

bool epoll_backend::cancel(io_operation& op) noexcept {
    if (op.m_fd < 0 || static_cast<std::size_t>(op.m_fd) >= m_fds.size())
        return false;
    fd_entry& e = m_fds[static_cast<std::size_t>(op.m_fd)];
    if (!(is_read_kind(op.m_kind) ? e.readers : e.writers).remove(&op) &&
        !(is_poll_kind(op.m_kind) && (m_ready_polls.remove(&op) || m_delivering.remove(&op))))
        return false;
    --m_pending;
    // Interest stays registered: edge mode never changes it, and level mode drops it if an
    // event arrives that nobody waits for.
    return true;
}

void epoll_backend::forget_fd(int fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= m_fds.size())
        return;
    fd_entry& e = m_fds[static_cast<std::size_t>(fd)];
    assert(e.readers.empty() && e.writers.empty() && "forget_fd with operations pending");
    if (e.registered) {
        epoll_event ev{};
        ::epoll_ctl(m_epoll.get(), EPOLL_CTL_DEL, fd, &ev); // fails only if already closed
    }
    // A new file may get this number: it starts unregistered and believed ready both ways, and
    // the new generation makes events still queued for the old file miss it.
    const std::uint32_t generation = e.generation + 1;
    e = fd_entry{};
    e.generation = generation;
}

void epoll_backend::retry_queue(int fd, std::uint32_t generation, bool read_side,
                                int revents) noexcept {
    for (;;) {
        // Looked up afresh each time: a completion may submit (and grow the table), cancel, or
        // forget the fd.
        fd_entry& e = m_fds[static_cast<std::size_t>(fd)];
        if (e.generation != generation)
            return;
        op_queue& queue = read_side ? e.readers : e.writers;
        bool& ready = read_side ? e.readable : e.writable;
        io_operation* op = queue.head;
        if (!op || !ready)
            return;
        std::int64_t result;
        if (is_poll_kind(op->m_kind)) {
            result = revents;
        } else if (op->m_kind == io_kind::connect) {
            result = connect_outcome(fd);
        } else {
            result = perform_call(*op);
            if (result == -EAGAIN) {
                ready = false; // the rest stay queued until the next event
                return;
            }
            note_transfer(fd, e, *op, result);
        }
        queue.pop();
        --m_pending;
        op->m_result = result;
        op->m_complete(op); // may destroy *op
    }
}

void epoll_backend::deliver_ready_polls() noexcept {
    // Moved aside first: a callback that re-arms its poll parks it for the next wait, not this
    // one; and a callback may cancel a poll of the batch, which cancel() finds there.
    m_delivering = m_ready_polls;
    m_ready_polls = op_queue{};
    while (!m_delivering.empty()) {
        io_operation* op = m_delivering.pop();
        --m_pending;
        op->m_complete(op); // may destroy *op
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

bool epoll_backend::wait(std::optional<std::chrono::nanoseconds> timeout) {
    const bool have_ready_polls = !m_ready_polls.empty();
    if (have_ready_polls)
        timeout = std::chrono::nanoseconds::zero(); // something completes now: do not block
    const int n = retry_interrupted(
        timeout, [this](std::optional<std::chrono::nanoseconds> t) { return epoll_wait_for(t); });
    if (n < 0)
        sys::throw_last_errno("epoll_wait");
    if (have_ready_polls)
        deliver_ready_polls();
    for (int i = 0; i < n; ++i) {
        const std::uint64_t data = m_events[i].data.u64;
        if (data == waker_tag) {
            m_waker->drain();
            continue;
        }
        const int fd = static_cast<int>(static_cast<std::uint32_t>(data));
        const auto generation = static_cast<std::uint32_t>(data >> 32);
        if (static_cast<std::size_t>(fd) >= m_fds.size())
            continue;
        const std::uint32_t ev = m_events[i].events;
        const int revents = static_cast<int>(ev & reported_events);
        bool had_readers = false;
        bool had_writers = false;
        {
            fd_entry& e = m_fds[static_cast<std::size_t>(fd)];
            if (e.generation != generation)
                continue; // queued for a file that was forgotten since
            had_readers = !e.readers.empty();
            had_writers = !e.writers.empty();
            // Both bits first, so that a completion below that submits in the other direction
            // tries its call at once.
            if (ev & read_events)
                e.readable = true;
            if (ev & write_events)
                e.writable = true;
            if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                e.read_closed = true;
            if (ev & (EPOLLHUP | EPOLLERR))
                e.write_closed = true;
        }
        // A queue empty before the retries stays without work: an operation that a completion
        // submits meanwhile finds its bit set and is tried at once (queued only on EAGAIN).
        m_retry_fd = fd;
        m_retry_generation = generation;
        m_retry_revents = revents;
        if ((ev & read_events) && had_readers) {
            m_retry_read = true;
            retry_queue(fd, generation, true, revents);
        }
        if ((ev & write_events) && had_writers) {
            m_retry_read = false;
            retry_queue(fd, generation, false, revents);
        }
        m_retry_fd = -1;

        if (m_mode != epoll_mode::level)
            continue;
        // Lazy disarm: drop only a direction that fired while nobody waited for it, so a
        // steady stream of operations on an fd costs no epoll_ctl, and a level-triggered fd
        // that nobody reads cannot wake the loop in a spin.
        std::uint32_t drop = 0;
        if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLPRI)) && !had_readers)
            drop |= read_interest;
        if ((ev & EPOLLOUT) && !had_writers)
            drop |= write_interest;
        if ((ev & (EPOLLHUP | EPOLLERR)) && !had_readers && !had_writers)
            drop = ~0u; // reported whatever the mask: only removal silences them
        if (!drop)
            continue;
        fd_entry& e = m_fds[static_cast<std::size_t>(fd)];
        if (e.generation != generation)
            continue;
        std::uint32_t keep = e.registered & ~drop;
        if (!e.readers.empty())
            keep |= read_interest;
        if (!e.writers.empty())
            keep |= write_interest;
        try {
            set_interest(fd, e, keep);
        } catch (const std::system_error&) {
            // Only costs a spurious wake-up later.
        }
    }
    return false; // the calls ran in submit(): what they caused is visible to the next wait
}

} // namespace corio::detail
