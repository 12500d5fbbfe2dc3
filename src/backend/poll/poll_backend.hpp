#pragma once

#include "backend/backend.hpp"
#include "backend/op_queue.hpp"
#include <poll.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace corio::detail {

/// The poll(2) backend: the portable fallback, and the simple reference that the other
/// backends are checked against.
///
/// Operations are readiness-based, as with epoll: submit() tries the call at once when nobody
/// waits before it in that direction of the fd, and queues the operation (FIFO per fd and
/// direction) only when the call would block. A readiness report then retries the queue of
/// that direction in order until a call would block again. No readiness is remembered between
/// waits: a call is tried whenever its queue is empty, which costs an EAGAIN now and then but
/// needs no reasoning about edges.
///
/// poll(2) is level-triggered, and its interest set is ours to edit for free (no system call),
/// so the backend asks exactly for the directions that have queued operations, and an fd whose
/// operations have all finished or been withdrawn leaves the set at once. A ready fd nobody
/// waits for therefore never ends a wait.
///
/// The interest set is a dense pollfd array, handed to ppoll as it is: it is edited in place
/// (O(1): an fd entry records its slot, and a slot that empties is filled with the last one)
/// when the interest of an fd changes, never rebuilt per wait. Slot 0 is the waker's.
///
/// Polls (poll_readable, poll_writable) never complete inside submit(): they wait in the fd's
/// poll list, and an fd that is ready already makes the next ppoll return at once, so a ready
/// poll completes at the next wait without blocking. All the polls of one direction complete
/// together when it is reported ready; one re-armed from its own callback waits for the next
/// report, so a watch on an fd that stays ready runs once per wait, as asyncio's add_reader
/// does. Their result is poll(2)'s revents; an fd closed behind the backend's back (POLLNVAL)
/// completes its polls with POLLNVAL | POLLERR and its calls with the calls' own EBADF, rather
/// than being reported again at every wait.
///
/// The fds given to it must be non-blocking (accept completes with non-blocking fds). Socket
/// calls also pass MSG_DONTWAIT, so a blocking socket cannot stall the loop; read, write and
/// connect on a blocking fd would.
///
/// Waits use ppoll, whose timeout is in nanoseconds. The waker is a self-pipe (the portable
/// choice; epoll's eventfd is Linux's).
///
/// Nothing is allocated per operation: operations are linked through
/// io_operation::m_backend_next, and the tables grow only when a higher fd number (or more fds
/// at once) than ever before is used.
class poll_backend final : public backend {
  public:
    poll_backend();
    ~poll_backend() override;

    [[nodiscard]] const char* name() const noexcept override { return "poll"; }
    bool submit(io_operation& op) override;
    bool cancel(io_operation& op) noexcept override;
    void forget_fd(int fd) noexcept override;
    [[nodiscard]] bool has_pending() const noexcept override { return m_pending != 0; }
    bool wait(std::optional<std::chrono::nanoseconds> timeout) override;
    [[nodiscard]] std::shared_ptr<waker> get_waker() const override;

    /// The number of fds in the interest set (the waker's pipe not counted): those that have
    /// queued operations. For tests.
    [[nodiscard]] std::size_t watched_fd_count() const noexcept { return m_pollfds.size() - 1; }

  private:
    /// One direction of an fd: the calls waiting in FIFO order, and the polls. Polls consume
    /// nothing, so they need no order with respect to the calls: they are kept apart, which
    /// lets them complete together and lets a call be tried while a poll waits.
    struct direction {
        op_queue calls;
        op_queue polls;
        [[nodiscard]] bool empty() const noexcept { return calls.empty() && polls.empty(); }
    };

    /// What the backend keeps about one fd.
    ///
    /// Invariant (outside the few lines that edit it): the fd has a slot in m_pollfds exactly
    /// when one of its directions has queued operations, and that slot asks for those
    /// directions.
    struct fd_entry {
        direction read;  ///< poll_readable, recv, read, accept, recvmsg
        direction write; ///< poll_writable, send, write, connect, sendmsg
        /// The index of this fd's pollfd in m_pollfds; 0 when it has none (slot 0 is the
        /// waker's).
        std::size_t slot = 0;
        /// Bumped by forget_fd() and kept across it: a report gathered for an fd number before
        /// it was forgotten is ignored once the number is reused.
        std::uint32_t generation = 0;
    };

    /// A readiness report taken out of m_pollfds before any completion runs (completions edit
    /// the interest set).
    struct report {
        int fd;
        std::uint32_t generation;
        short revents;
    };

    class pipe_waker;

    fd_entry& entry_for(int fd);
    /// Makes room for one more slot (and one more report), so that set_interest cannot fail.
    void reserve_slot();
    /// Brings the fd's slot in m_pollfds in line with its queues (see fd_entry's invariant).
    void set_interest(int fd, fd_entry& e) noexcept;
    /// Completes the polls of one direction of `fd` (those queued before this call).
    void complete_polls(int fd, std::uint32_t generation, bool read_side, short revents) noexcept;
    /// Retries the calls of one direction of `fd` in FIFO order until one would block.
    void retry_calls(int fd, std::uint32_t generation, bool read_side) noexcept;

    std::shared_ptr<pipe_waker> m_waker;
    /// The interest set: slot 0 is the waker's read end, then one slot per fd with queued
    /// operations, in no particular order.
    std::vector<pollfd> m_pollfds;
    std::vector<fd_entry> m_fds; // indexed by fd; grows only when a new fd number is higher
    std::vector<report> m_ready; // the reports of the current wait (capacity: one per slot)
    op_queue m_delivering;       // the batch of polls being completed (cancel looks here)
    std::size_t m_pending = 0;   // queued operations (not completed inline, nor cancelled)
};

} // namespace corio::detail
