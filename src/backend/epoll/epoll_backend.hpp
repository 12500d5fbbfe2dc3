#pragma once

#include "backend/backend.hpp"
#include "backend/op_queue.hpp"
#include "sys/posix/unique_fd.hpp"
#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace corio::detail {

/// How the epoll backend asks the kernel for readiness.
enum class epoll_mode : std::uint8_t {
    /// Edge-triggered: each fd is registered once for both directions (EPOLLIN | EPOLLOUT |
    /// EPOLLRDHUP | EPOLLET) and never touched again until forget_fd().
    edge,
    /// Level-triggered: each fd is registered once for the directions that have waiters;
    /// interest in a direction is dropped lazily, only when an event arrives that nobody waits
    /// for (a level-triggered fd nobody reads would otherwise wake every wait).
    level,
};

/// The Linux epoll backend.
///
/// Operations are readiness-based: submit() tries the call at once when the fd is believed
/// ready in that direction, and queues the operation (FIFO per fd and direction) only when the
/// call would block. A readiness event then retries the queue of that direction in order until
/// a call would block again.
///
/// Per-fd readiness is tracked as in Tokio and mio (see fd_entry), so that an operation on an
/// fd known not to be ready costs no syscall: a ping-pong exchange costs one recv, one send and
/// a share of one epoll_wait per message, as a hand-written epoll loop does. Each fd is
/// registered once, at the first operation that has to wait; the steady state calls no
/// epoll_ctl (edge mode: never; level mode: unless events arrive that nobody waits for).
///
/// Polls (poll_readable, poll_writable) never complete at once: a watch re-armed from its own
/// callback then runs once per loop iteration, as asyncio's add_reader does, instead of
/// spinning inside one. Nor can a poll simply wait for the next event: in edge mode the event
/// that made the fd ready may have been reported already, to nobody. So when the fd is
/// believed ready, submit() asks poll(2) (zero timeout); a ready poll is parked in a list that
/// the next wait() delivers without blocking. A poll on an fd known not to be ready waits for
/// the event without a syscall. Their result is poll(2)'s revents either way.
///
/// The fds given to it must be non-blocking (accept completes with non-blocking fds). Socket
/// calls also pass MSG_DONTWAIT, so a blocking socket cannot stall the loop; read, write and
/// connect on a blocking fd would.
///
/// Waits use epoll_pwait2 for nanosecond timeouts (falling back to epoll_wait, rounded up to the
/// next millisecond, on kernels before 5.11). The waker is an eventfd.
class epoll_backend final : public backend {
  public:
    explicit epoll_backend(epoll_mode mode = epoll_mode::edge);
    ~epoll_backend() override;

    [[nodiscard]] const char* name() const noexcept override { return "epoll"; }
    [[nodiscard]] epoll_mode mode() const noexcept { return m_mode; }
    bool submit(io_operation& op) override;
    std::int64_t try_transfer(io_kind kind, int fd, void* buf, std::size_t len) override;
    bool cancel(io_operation& op) noexcept override;
    void forget_fd(int fd) noexcept override;
    [[nodiscard]] bool has_pending() const noexcept override { return m_pending != 0; }
    bool wait(std::optional<std::chrono::nanoseconds> timeout) override;
    [[nodiscard]] std::shared_ptr<waker> get_waker() const override;

  private:
    /// What a short transfer says about an fd (see fd_entry::readable).
    enum class fd_type : std::uint8_t {
        unknown, ///< not probed yet (probed at the first short transfer)
        stream,  ///< a stream socket: a short read drains the buffer, a short write fills it
        pipe,    ///< a pipe or FIFO: a short write fills it; a read may stop at a packet
                 ///< (O_DIRECT writers), so a short read proves nothing
        other,   ///< datagrams, ttys, inotify...: a short transfer proves nothing
    };

    /// What the backend knows about one fd.
    ///
    /// Readiness bits (`readable`, `writable`): "a call in this direction might not block".
    /// They start true (a fresh fd is tried at once), are set by every event that reports the
    /// direction (HUP and ERR report both), and are cleared when a call returns EAGAIN. While a
    /// bit is clear, an operation in that direction is queued without a syscall: the call could
    /// only return EAGAIN.
    ///
    /// Why a clear bit is safe in edge mode: a bit is cleared only when the kernel has just said
    /// the fd is not ready (EAGAIN, or a poll(2) check). The fd is registered at the latest when
    /// an operation queues, and EPOLL_CTL_ADD reports readiness that already holds, so from
    /// then on any change to ready raises a new edge, which sets the bit again.
    ///
    /// Short transfers: on a stream socket a read that returns fewer bytes than asked (but more
    /// than 0) has emptied the receive buffer, and a short write (on a pipe too) has filled the
    /// send buffer; the bit is cleared then too, as Tokio does, so that the next operation
    /// waits for the event instead of paying for a call that would return EAGAIN. This is safe
    /// in edge mode because data arriving (space freeing) after that call raises a new edge.
    /// It is not true of datagram sockets (a datagram smaller than the buffer leaves the next
    /// one queued), packet-mode pipes, ttys in canonical mode, inotify, MSG_PEEK, recvmsg (a
    /// Unix stream read stops at a message carrying fds) or Unix sockets with SO_PASSCRED
    /// (data of different writers is not glued), hence `type`. TCP urgent data (MSG_OOB)
    /// splits a read too: a peer that sends it may see its connection wait for more data.
    ///
    /// End of stream and errors are final, and their event is reported once in edge mode: once
    /// an event has reported one (RDHUP, HUP or ERR), a short transfer in that direction no
    /// longer clears the bit, as in Tokio (a short read followed by a FIN that an earlier event
    /// reported must still let the next recv return 0). EAGAIN still clears it: it is proof.
    ///
    /// In level mode the same bits work and are even forgiving: a queued direction is armed,
    /// and a level-triggered fd is reported at every wait for as long as it is ready, so a bit
    /// cleared too eagerly costs one extra wait, never a lost wake-up.
    ///
    /// Invariant (outside the retry loop in wait()): a non-empty queue has its bit clear, and
    /// its direction is armed with the kernel.
    struct fd_entry {
        op_queue readers; ///< poll_readable, recv, read, accept, recvmsg
        op_queue writers; ///< poll_writable, send, write, connect, sendmsg
        /// The events registered with the kernel; 0 when the fd is not in the epoll set.
        std::uint32_t registered = 0;
        /// Bumped by forget_fd() and kept across it; stamped into the epoll data, so an event
        /// queued for an fd number before it was forgotten is ignored once the number is reused.
        std::uint32_t generation = 0;
        bool readable = true;
        bool writable = true;
        bool read_closed = false;  ///< an event reported RDHUP, HUP or ERR
        bool write_closed = false; ///< an event reported HUP or ERR
        fd_type type = fd_type::unknown;
    };
    class eventfd_waker;

    // Inline: every operation looks its fd up, and the table grows only with new fd numbers.
    fd_entry& entry_for(int fd) {
        const auto i = static_cast<std::size_t>(fd);
        if (i < m_fds.size()) [[likely]]
            return m_fds[i];
        return grow_to(i);
    }
    fd_entry& grow_to(std::size_t i);
    /// Makes sure the kernel reports `direction_events` for `fd` (registers it in edge mode).
    void arm(int fd, fd_entry& e, std::uint32_t direction_events);
    /// Level mode: makes the kernel's interest for `fd` equal to `events` (0 removes the fd).
    void set_interest(int fd, fd_entry& e, std::uint32_t events);
    /// Clears the readiness bit after a short transfer on a byte stream. Inline, because nearly
    /// every call moves all it was asked to or is a read: only a short transfer goes further.
    static void note_transfer(int fd, fd_entry& e, const io_operation& op,
                              std::int64_t result) noexcept {
        if (result <= 0)
            return;
        switch (op.m_kind) {
        case io_kind::recv:
        case io_kind::read:
            if (static_cast<std::size_t>(result) >= op.m_len)
                return;
            // The common case, a short read on a known stream socket: a read that asked for
            // more than the queue held emptied it.
            if (e.type == fd_type::stream && !e.read_closed && !(op.m_flags & (MSG_PEEK | MSG_OOB)))
                e.readable = false;
            else
                note_short(fd, e, op);
            return;
        case io_kind::send:
        case io_kind::write:
            if (static_cast<std::size_t>(result) < op.m_len)
                note_short(fd, e, op);
            return;
        case io_kind::sendmsg:
            note_short(fd, e, op, result);
            return;
        default:
            // recvmsg is how ancillary data is read, and a Unix stream read stops short at a
            // message carrying fds: a short recvmsg proves nothing. accept, connect and polls
            // move no bytes.
            return;
        }
    }
    /// The rest of note_transfer for a transfer known to be short (or a sendmsg of `result`
    /// bytes, checked against its iovecs here).
    static void note_short(int fd, fd_entry& e, const io_operation& op,
                           std::int64_t result = -1) noexcept;
    /// Checks a poll with poll(2); true (m_result set) when it is ready now.
    static bool poll_now(io_operation& op);
    /// Completes the polls that submit() found ready (those parked before this call).
    void deliver_ready_polls() noexcept;
    /// Retries the queue of one direction of `fd` after an event, in FIFO order, until a call
    /// would block again.
    void retry_queue(int fd, std::uint32_t generation, bool read_side, int revents) noexcept;
    int epoll_wait_for(std::optional<std::chrono::nanoseconds> timeout);

    epoll_mode m_mode;
    sys::unique_fd m_epoll;
    std::shared_ptr<eventfd_waker> m_waker;
    std::vector<fd_entry> m_fds; // indexed by fd; grows only when a new fd number is higher
    std::size_t m_pending = 0;   // queued operations (not completed inline, nor cancelled)
    op_queue m_ready_polls;      // polls found ready by submit(), delivered by the next wait()
    op_queue m_delivering;       // the batch of ready polls being delivered (cancel looks here)
    /// The fd direction whose queue retry_queue() is completing (fd -1: none), and the events
    /// that started it. A poll re-armed there from a completion goes to m_ready_polls with
    /// those events: it completes at the next wait, once per wait, instead of joining the queue
    /// being retried, which would deliver it again and again while the fd stays ready.
    int m_retry_fd = -1;
    std::uint32_t m_retry_generation = 0;
    bool m_retry_read = false;
    int m_retry_revents = 0;
    bool m_have_pwait2 = true;
    epoll_event m_events[256];
};

} // namespace corio::detail
