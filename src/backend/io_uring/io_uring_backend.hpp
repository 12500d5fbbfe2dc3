#pragma once

#include "backend/backend.hpp"
#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace corio::detail {

/// Sizes and switches of an io_uring backend (the defaults suit a server; tests shrink them).
struct io_uring_options {
    /// Submission queue entries. When the queue is full, submit() flushes it to the kernel and
    /// goes on (never drops an operation, never blocks).
    unsigned sq_entries = 256;
    /// Completion queue entries (IORING_SETUP_CQSIZE). More completions than this in one turn
    /// are kept by the kernel (IORING_FEAT_NODROP) and reaped by the same wait().
    unsigned cq_entries = 4096;
    /// Provided buffers shared by every multishot recv of the loop (0: none; a power of two).
    /// 1024 buffers of 4 KiB: 4 MiB of address space, resident only as buffers get used; an
    /// idle connection holds none, and a connection that is not read holds about the
    /// transport's bound (64 KiB, 16 buffers) plus one burst, so the pool serves dozens of
    /// stalled readers before it runs dry (a recv that finds it empty waits for a recycle).
    unsigned buffer_count = 1024;
    unsigned buffer_size = 4096;
    /// Multishot accept where the kernel has it (tests turn it off to check the other path).
    bool multishot_accept = true;
    /// Tells stream transports to queue their small sends in the ring
    /// (backend_caps::queued_sends, CORIO_IO_URING_SENDS=queued); false, the default: they make
    /// send calls, which measured cheaper (docs/performance.md).
    bool queued_sends = false;
};

/// The Linux io_uring backend, on liburing.
///
/// Operations are submitted natively as SQEs (recv, send, read, write, accept, connect,
/// recvmsg, sendmsg; polls as IORING_OP_POLL_ADD). submit() only prepares an SQE: the queue is
/// flushed once per loop turn, by wait(), in the same io_uring_enter that waits (nanosecond
/// timeouts through IORING_ENTER_EXT_ARG).
///
/// Identity: the kernel knows an operation by its slot (user_data = slot index), never by its
/// address. Slots live in chunks owned by the backend and are recycled through a free list, so
/// the steady state allocates nothing. cancel() empties the slot and cancels synchronously
/// (IORING_REGISTER_SYNC_CANCEL), so once it returns the kernel no longer touches the
/// operation, its buffer or its address; a completion that still arrives for the slot finds it
/// empty and only frees it (closing an accepted fd, recycling a provided buffer). An SQE not yet
/// flushed is turned into a NOP instead, which costs no syscall. So cancel() of a pending
/// operation always returns true, even when the kernel had already completed it and its
/// completion was not delivered yet: that result is dropped (a completion backend cannot give
/// back bytes a recv has taken; a readiness backend would have left them in the socket).
/// After a synchronous cancel the ring's deferred task work is run at once (one more enter):
/// a withdrawn request still on an fd's wait queue could swallow an exclusive wake-up (accept)
/// meant for the next request on the fd.
///
/// Order: calls that consume (recv, send, read, write, accept, recvmsg, sendmsg) are issued one
/// at a time per fd and direction, in submission order, as the readiness backends complete
/// them; the others wait in a per-fd FIFO without an SQE. Polls and connect are not queued.
///
/// EAGAIN: socket calls wait inside the kernel (io_uring arms a poll itself). A read or write
/// on an O_NONBLOCK pipe or tty returns -EAGAIN from io_uring; the backend then arms a
/// POLL_ADD for the slot and retries the call when it fires, so callers never see EAGAIN.
///
/// Setup: IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN (COOP_TASKRUN, then plain flags, on older
/// kernels), SUBMIT_ALL, a large CQ; the ring starts disabled and is enabled (and its fd
/// registered) by the first use on the loop thread, which becomes its only submitter. The
/// constructor throws std::system_error when the kernel refuses io_uring (ENOSYS, EPERM under
/// seccomp or io_uring_disabled) or lacks an opcode or synchronous cancellation (< 6.0), so
/// make_backend can fall back.
///
/// The waker is an eventfd read by an IORING_OP_READ kept in the ring.
///
/// Multishot recv (io_operation::m_multishot, kernels >= 6.0) fills buffers of one provided
/// buffer ring (group 0) shared by the loop; ENOBUFS is handled here (the recv is re-armed as
/// soon as a buffer is recycled), never reported.
///
/// Multishot accept (io_operation::m_multishot on an accept, kernels >= 5.19, so every kernel
/// that passes the synchronous-cancellation probe of the constructor): one SQE delivers one
/// completion per connection. An fd whose completion arrives after a cancel() finds the slot
/// empty and is closed here, so a withdrawn accept leaks none. Without it (the option off), a
/// multishot accept runs as a single accept whose completion has m_more false.
///
/// Closing a ring makes the kernel interrupt the thread that used it once, later (its next
/// blocking call returns EINTR); so the ring of a destroyed backend is kept, drained, for the
/// next backend of the same thread (one per thread, closed when the thread exits).
class io_uring_backend final : public backend {
  public:
    explicit io_uring_backend(const io_uring_options& options = {});
    ~io_uring_backend() override;

    [[nodiscard]] const char* name() const noexcept override { return "io_uring"; }
    bool submit(io_operation& op) override;
    bool cancel(io_operation& op) noexcept override;
    void forget_fd(int fd) noexcept override;
    [[nodiscard]] bool has_pending() const noexcept override { return m_pending != 0; }
    bool wait(std::optional<std::chrono::nanoseconds> timeout) override;
    [[nodiscard]] std::shared_ptr<waker> get_waker() const override;
    [[nodiscard]] backend_caps caps() const noexcept override;
    void stop(io_operation& op) noexcept override;
    [[nodiscard]] const provided_buffer_pool* buffer_pool() const noexcept override;
    void recycle_buffer(std::uint32_t id) noexcept override;

    /// The setup flags the ring was created with (tests and diagnostics).
    [[nodiscard]] unsigned setup_flags() const noexcept { return m_ring.flags; }
    /// Provided buffers handed out by multishot recvs and not recycled yet.
    [[nodiscard]] std::uint32_t buffers_out() const noexcept { return m_buffers_out; }
    /// Provided buffers the kernel can take now (in the ring). For tests.
    [[nodiscard]] std::uint32_t buffers_in_ring() const noexcept {
        return m_pool.count - m_buffers_out - m_spare_count;
    }
    /// The most buffers the ring holds: more than the recvs of one loop turn take (one per
    /// busy connection, usually), few enough to stay in the caches.
    static constexpr std::uint32_t ring_resident = 128;

  private:
    /// One operation known to the kernel. `op` is null when the slot is free or its operation
    /// was withdrawn (a completion may still come: `in_kernel`).
    struct slot {
        io_operation* op = nullptr;
        /// The index of its last SQE in the submission ring (see sqe_unconsumed).
        std::uint32_t sq_index = 0;
        /// Free list or list of recvs waiting for buffers.
        std::uint32_t next = 0;
        io_kind kind = io_kind::poll_readable;
        bool multishot : 1 = false;
        bool in_kernel : 1 = false;   ///< a completion is still to come for this slot
        bool polling : 1 = false;     ///< the SQE in flight is the POLL_ADD of an EAGAIN retry
        bool stopping : 1 = false;    ///< multishot recv or accept: stop() was asked
        bool nop : 1 = false;         ///< its SQE was turned into a NOP: it ends with -ECANCELED
        bool parked : 1 = false;      ///< multishot recv waiting for a buffer (no SQE)
        bool queued_call : 1 = false; ///< a serialised call (head of its fd queue)
    };

    /// A FIFO of operations linked through io_operation::m_backend_next. Only the head is
    /// kept (an fd rarely has more than one call waiting per direction), so an fd costs 16
    /// bytes.
    struct op_queue {
        io_operation* head = nullptr;
        [[nodiscard]] bool empty() const noexcept { return head == nullptr; }
        void push(io_operation* op) noexcept;
        bool remove(io_operation* op) noexcept;
    };

    /// The serialised calls of one fd: the head of each queue is in the kernel.
    struct fd_entry {
        op_queue readers;
        op_queue writers;
    };

    /// A completion copied out of the CQ.
    struct completion {
        std::uint64_t user_data;
        std::int32_t res;
        std::uint32_t flags;
    };

    class eventfd_waker;

    static constexpr std::uint32_t no_slot = ~std::uint32_t{0};
    static constexpr std::uint32_t slot_chunk = 64;

    void activate();
    void open_ring();
    void setup_buffers();
    void release_buffers() noexcept;
    slot& slot_at(std::uint32_t i) noexcept { return m_chunks[i / slot_chunk][i % slot_chunk]; }
    std::uint32_t alloc_slot();
    void free_slot(std::uint32_t i) noexcept;
    /// An SQE, flushing the queue to the kernel when it is full.
    io_uring_sqe* get_sqe();
    /// Prepares the SQE of slot `i` for its operation (the call, or the poll of a retry).
    void issue(std::uint32_t i);
    void prep(io_uring_sqe* sqe, std::uint32_t i);
    /// Gives `op` a slot and issues it.
    void start(io_operation& op);
    /// Whether the SQE of slot `s` is still in the submission ring (not consumed by the kernel).
    [[nodiscard]] bool sqe_unconsumed(const slot& s) const noexcept;
    /// Turns the unconsumed SQE of `s` into a NOP.
    void make_nop(slot& s) noexcept;
    /// After the head of a serialised queue is done: pops it and issues the next.
    void advance_queue(const io_operation& op) noexcept;
    /// Flushes the SQ: io_uring_submit, reaping completions (undelivered) while it says EBUSY.
    void flush();
    /// Moves the CQ's completions into m_reaped; returns how many.
    std::size_t reap() noexcept;
    void deliver(const completion& c) noexcept;
    void arm_waker();
    void unpark_all() noexcept;
    /// Moves buffers from the spare stack to the ring until it holds ring_resident.
    void top_up_ring() noexcept;
    /// Writes buffer `id` into the ring's slot `offset` past its tail; the caller advances the
    /// tail once for all the buffers it added.
    void ring_add(std::uint16_t id, std::uint32_t offset) noexcept;
    [[nodiscard]] fd_entry* entry_of(int fd) noexcept;
    fd_entry& entry_for(int fd);
    static bool is_serialised(const io_operation& op) noexcept;

    io_uring_options m_options;
    io_uring m_ring{};
    unsigned m_features = 0;
    bool m_enabled = false; ///< the ring is enabled, and its fd registered, by m_enabled_by
    std::thread::id m_enabled_by;
    bool m_active = false; ///< used since this backend was created (the waker is armed)
    std::shared_ptr<eventfd_waker> m_waker;
    std::uint64_t m_wake_value = 0; // where the waker's read lands
    bool m_waker_armed = false;

    std::vector<std::unique_ptr<slot[]>> m_chunks;
    std::uint32_t m_slot_count = 0;
    std::uint32_t m_free = no_slot;
    std::size_t m_pending = 0;

    std::vector<fd_entry> m_fds;
    std::vector<completion> m_reaped; // copied out of the CQ, not delivered yet

    // Provided buffers (buffer ring, group 0).
    io_uring_buf_ring* m_buf_ring = nullptr;
    std::size_t m_buf_ring_bytes = 0;
    std::byte* m_buffers = nullptr;
    std::size_t m_buffers_bytes = 0;
    std::unique_ptr<provided_buffer_link[]> m_links;
    provided_buffer_pool m_pool;
    std::uint32_t m_buffers_out = 0;
    /// Buffers neither in the ring nor out: a stack, the most recently recycled on top. The
    /// kernel takes the ring's buffers in FIFO order, so a ring holding the whole pool would
    /// cycle every recv through all of it (4 MiB by default, past the L2 cache and the TLB)
    /// and each copy would land in cold memory. The ring holds at most ring_resident buffers
    /// instead, topped up from this stack, so a busy loop reuses a small, warm set and pages
    /// of the pool that no burst needed are never touched.
    ///
    /// Invariant: m_buffers_out + m_spare_count + (buffers in the ring) == m_pool.count, and
    /// the ring holds at most max(ring_resident, what it held at a top-up) buffers.
    std::unique_ptr<std::uint16_t[]> m_spare;
    std::uint32_t m_spare_count = 0;
    std::uint32_t m_parked = no_slot; // multishot recvs waiting for a buffer
    /// The kernel has multishot accept (see open_ring) and the options allow it.
    bool m_multishot_accept = false;
};

} // namespace corio::detail
