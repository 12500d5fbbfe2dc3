#include "backend/poll/poll_backend.hpp"

#include "backend/readiness_calls.hpp"
#include "sys/posix/errors.hpp"
#include "sys/posix/unique_fd.hpp"
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdint>

namespace corio::detail {

namespace {

#ifdef POLLRDHUP
constexpr short rdhup = POLLRDHUP; // Linux: the peer shut its side down
#else
constexpr short rdhup = 0;
#endif

// What each direction asks for. Errors and hang-ups (POLLERR, POLLHUP, POLLNVAL) are reported
// whatever the request.
constexpr short read_interest = POLLIN | rdhup;
constexpr short write_interest = POLLOUT;
// The reports that make a direction worth retrying. HUP, ERR and NVAL count for both: the calls
// then return their real outcome (0 at end of stream, ECONNRESET, EPIPE, EBADF...).
constexpr short read_events = POLLIN | rdhup | POLLPRI | POLLHUP | POLLERR | POLLNVAL;
constexpr short write_events = POLLOUT | POLLHUP | POLLERR | POLLNVAL;
// What polls report (as the epoll backend does).
constexpr short reported_events = POLLIN | POLLOUT | POLLERR | POLLHUP | rdhup | POLLPRI;

} // namespace

/// A self-pipe: wake() writes a byte, and the loop's ppoll watches the read end.
class poll_backend::pipe_waker final : public waker {
  public:
    pipe_waker() {
        int fds[2];
        if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
            sys::throw_last_errno("pipe2");
        m_read.reset(fds[0]);
        m_write.reset(fds[1]);
    }
    void wake() noexcept override {
        const char byte = 0;
        // EAGAIN means the pipe is full, which still wakes the loop.
        [[maybe_unused]] ssize_t n = ::write(m_write.get(), &byte, 1);
    }
    /// Empties the pipe, so that the wake-ups consumed do not end the next wait.
    void drain() noexcept {
        char buf[64];
        while (::read(m_read.get(), buf, sizeof buf) == static_cast<ssize_t>(sizeof buf)) {
        }
    }
    [[nodiscard]] int fd() const noexcept { return m_read.get(); }

  private:
    sys::unique_fd m_read;
    sys::unique_fd m_write;
};

// ------------------------------------------------------------------------- poll_backend ---

poll_backend::poll_backend() : m_waker(std::make_shared<pipe_waker>()) {
    // reserve_slot() keeps m_ready's capacity at least m_pollfds's.
    m_ready.reserve(16);
    m_pollfds.reserve(16);
    m_pollfds.push_back(pollfd{m_waker->fd(), POLLIN, 0});
}

poll_backend::~poll_backend() = default;

std::shared_ptr<waker> poll_backend::get_waker() const {
    return m_waker;
}

poll_backend::fd_entry& poll_backend::entry_for(int fd) {
    const auto i = static_cast<std::size_t>(fd);
    if (i >= m_fds.size()) {
        // Geometric growth: a server's fd numbers climb one at a time.
        const std::size_t n = m_fds.size() * 2;
        m_fds.resize(n > i ? n : i + 1);
    }
    return m_fds[i];
}

void poll_backend::reserve_slot() {
    if (m_pollfds.size() < m_pollfds.capacity())
        return;
    const std::size_t n = m_pollfds.capacity() * 2;
    m_ready.reserve(n); // first: a wait must never outgrow it
    m_pollfds.reserve(n);
}

void poll_backend::set_interest(int fd, fd_entry& e) noexcept {
    short events = 0;
    if (!e.read.empty())
        events |= read_interest;
    if (!e.write.empty())
        events |= write_interest;
    if (events != 0) {
        if (e.slot == 0) {
            // reserve_slot() made room before the operation was queued.
            assert(m_pollfds.size() < m_pollfds.capacity());
            m_pollfds.push_back(pollfd{fd, events, 0});
            e.slot = m_pollfds.size() - 1;
        } else {
            m_pollfds[e.slot].events = events;
        }
        return;
    }
    if (e.slot == 0)
        return;
    // Nobody waits on the fd any more: it leaves the set, and the last slot fills the hole.
    const std::size_t last = m_pollfds.size() - 1;
    if (e.slot != last) {
        m_pollfds[e.slot] = m_pollfds[last];
        m_fds[static_cast<std::size_t>(m_pollfds[e.slot].fd)].slot = e.slot;
    }
    m_pollfds.pop_back();
    e.slot = 0;
}

bool poll_backend::submit(io_operation& op) {
    if (op.m_fd < 0)
        sys::throw_errno(EBADF, "corio: submit on an invalid fd");
    const bool read_side = is_read_kind(op.m_kind);
    const bool poll = is_poll_kind(op.m_kind);

    if (poll) {
        // A poll only ever waits, so nothing else would notice a bad fd before the next wait.
        if (::fcntl(op.m_fd, F_GETFD) < 0)
            sys::throw_errno(EBADF, "corio: submit on an invalid fd");
    } else if (op.m_kind == io_kind::connect) {
        // connect starts the connection whatever is queued; only its outcome is waited for.
        if (start_connect(op))
            return true;
    } else {
        // FIFO: a call is tried only when no other call waits before it in this direction.
        const auto i = static_cast<std::size_t>(op.m_fd);
        const bool others_wait =
            i < m_fds.size() && !(read_side ? m_fds[i].read : m_fds[i].write).calls.empty();
        if (!others_wait) {
            const std::int64_t r = perform_call(op);
            if (r != -EAGAIN) {
                op.m_result = r;
                return true;
            }
        }
    }

    // Everything that can fail comes before the operation is queued.
    fd_entry& e = entry_for(op.m_fd);
    if (e.slot == 0)
        reserve_slot();
    direction& d = read_side ? e.read : e.write;
    (poll ? d.polls : d.calls).push(&op);
    set_interest(op.m_fd, e);
    ++m_pending;
    return false;
}

bool poll_backend::cancel(io_operation& op) noexcept {
    if (op.m_fd < 0 || static_cast<std::size_t>(op.m_fd) >= m_fds.size())
        return false;
    fd_entry& e = m_fds[static_cast<std::size_t>(op.m_fd)];
    direction& d = is_read_kind(op.m_kind) ? e.read : e.write;
    if (is_poll_kind(op.m_kind)) {
        if (!d.polls.remove(&op) && !m_delivering.remove(&op))
            return false;
    } else if (!d.calls.remove(&op)) {
        return false;
    }
    --m_pending;
    set_interest(op.m_fd, e);
    return true;
}

void poll_backend::forget_fd(int fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= m_fds.size())
        return;
    fd_entry& e = m_fds[static_cast<std::size_t>(fd)];
    assert(e.read.empty() && e.write.empty() && "forget_fd with operations pending");
    // With nothing queued the fd has no slot. A new file may get this number: the new
    // generation makes the reports still gathered for the old file miss it.
    const std::uint32_t generation = e.generation + 1;
    e = fd_entry{};
    e.generation = generation;
}

void poll_backend::complete_polls(int fd, std::uint32_t generation, bool read_side,
                                  short revents) noexcept {
    fd_entry& e = m_fds[static_cast<std::size_t>(fd)];
    if (e.generation != generation)
        return;
    op_queue& polls = (read_side ? e.read : e.write).polls;
    if (polls.empty())
        return;
    // Moved aside first: a callback that re-arms its poll queues it for the next report, not
    // this one; and a callback may cancel a poll of the batch, which cancel() finds there.
    m_delivering = polls;
    polls = op_queue{};
    set_interest(fd, e);
    while (!m_delivering.empty()) {
        io_operation* op = m_delivering.pop();
        --m_pending;
        op->m_result = revents;
        op->m_complete(op); // may destroy *op, submit, cancel, or forget fds
    }
}

void poll_backend::retry_calls(int fd, std::uint32_t generation, bool read_side) noexcept {
    for (;;) {
        // Looked up afresh each time: a completion may submit (and grow the table), cancel, or
        // forget the fd.
        fd_entry& e = m_fds[static_cast<std::size_t>(fd)];
        if (e.generation != generation)
            return;
        op_queue& calls = (read_side ? e.read : e.write).calls;
        io_operation* op = calls.head;
        if (!op)
            return;
        // A connect was started by submit(); only its outcome is left.
        const std::int64_t result =
            op->m_kind == io_kind::connect ? connect_outcome(fd) : perform_call(*op);
        if (result == -EAGAIN)
            return; // the rest stay queued until the next report
        calls.pop();
        --m_pending;
        set_interest(fd, e);
        op->m_result = result;
        op->m_complete(op); // may destroy *op
    }
}

bool poll_backend::wait(std::optional<std::chrono::nanoseconds> timeout) {
    const int n = retry_interrupted(timeout, [this](std::optional<std::chrono::nanoseconds> t) {
        timespec ts{};
        if (t) {
            const std::int64_t ns = std::max<std::int64_t>(t->count(), 0);
            ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
            ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
        }
        return ::ppoll(m_pollfds.data(), m_pollfds.size(), t ? &ts : nullptr, nullptr);
    });
    if (n < 0)
        sys::throw_last_errno("ppoll");

    // The reports are taken out before any completion runs: completions edit m_pollfds.
    m_ready.clear();
    int left = n;
    if (left > 0 && m_pollfds[0].revents != 0) {
        m_waker->drain();
        --left;
    }
    for (std::size_t i = 1; left > 0 && i < m_pollfds.size(); ++i) {
        const pollfd& p = m_pollfds[i];
        if (p.revents == 0)
            continue;
        --left;
        // No allocation: reserve_slot() keeps the capacity at one report per slot.
        m_ready.push_back(
            report{p.fd, m_fds[static_cast<std::size_t>(p.fd)].generation, p.revents});
    }

    // By index, and by copy: a completion that submits may reserve (move) m_ready.
    for (std::size_t i = 0; i < m_ready.size(); ++i) {
        const report r = m_ready[i];
        if (m_fds[static_cast<std::size_t>(r.fd)].generation != r.generation)
            continue; // gathered for a file that was forgotten since
        // POLLNVAL: the fd was closed without forget_fd(). Its polls learn it as an error, and
        // its calls fail with EBADF, so that it leaves the set instead of being reported
        // again at every wait.
        const short revents = (r.revents & POLLNVAL)
                                  ? static_cast<short>(POLLNVAL | POLLERR)
                                  : static_cast<short>(r.revents & reported_events);
        if (r.revents & read_events) {
            complete_polls(r.fd, r.generation, true, revents);
            retry_calls(r.fd, r.generation, true);
        }
        if (r.revents & write_events) {
            complete_polls(r.fd, r.generation, false, revents);
            retry_calls(r.fd, r.generation, false);
        }
    }
    return false; // the calls ran in submit(): what they caused is visible to the next wait
}

} // namespace corio::detail
