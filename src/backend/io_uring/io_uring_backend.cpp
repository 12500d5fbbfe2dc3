#include "backend/io_uring/io_uring_backend.hpp"

#include "sys/posix/errors.hpp"
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <exception>
#include <thread>

namespace corio::detail {

namespace {

/// The user_data of the waker's read; no slot index reaches it.
constexpr std::uint64_t waker_tag = ~std::uint64_t{0};
/// The user_data of SQEs whose completion means nothing (the async cancel of stop()).
constexpr std::uint64_t ignore_tag = ~std::uint64_t{0} - 1;

constexpr unsigned read_mask = POLLIN | POLLPRI | POLLRDHUP;
constexpr unsigned write_mask = POLLOUT;
constexpr std::int32_t reported_events = POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDHUP | POLLPRI;

/// Linux never transfers more than this in one call; io_uring lengths are 32-bit.
constexpr std::size_t max_transfer = 0x7ffff000;

unsigned length_of(std::size_t len) noexcept {
    return static_cast<unsigned>(len < max_transfer ? len : max_transfer);
}

/// Terminates: the ring refused a submission, which leaves operations that can never complete.
[[noreturn]] void ring_failed() noexcept {
    std::terminate();
}

} // namespace

class io_uring_backend::eventfd_waker final : public waker {
  public:
    // Blocking on purpose: io_uring reads a blocking eventfd by arming a poll, whereas a
    // non-blocking one would make the read fail with EAGAIN.
    eventfd_waker() : m_fd(::eventfd(0, EFD_CLOEXEC)) {
        if (m_fd < 0)
            sys::throw_last_errno("eventfd");
    }
    eventfd_waker(const eventfd_waker&) = delete;
    eventfd_waker& operator=(const eventfd_waker&) = delete;
    ~eventfd_waker() override { ::close(m_fd); }
    void wake() noexcept override {
        // write(2) is async-signal-safe; the counter cannot saturate in practice (2^64 - 2).
        const std::uint64_t one = 1;
        [[maybe_unused]] ssize_t n = ::write(m_fd, &one, sizeof one);
    }
    [[nodiscard]] int fd() const noexcept { return m_fd; }

  private:
    int m_fd;
};

// ------------------------------------------------------------------------------ op_queue ---

void io_uring_backend::op_queue::push(io_operation* op) noexcept {
    op->m_backend_next = nullptr;
    io_operation** p = &head;
    while (*p)
        p = &(*p)->m_backend_next;
    *p = op;
}

bool io_uring_backend::op_queue::remove(io_operation* op) noexcept {
    for (io_operation** p = &head; *p; p = &(*p)->m_backend_next) {
        if (*p != op)
            continue;
        *p = op->m_backend_next;
        op->m_backend_next = nullptr;
        return true;
    }
    return false;
}

// ---------------------------------------------------------------------- io_uring_backend ---

io_uring_backend::io_uring_backend(const io_uring_options& options)
    : m_options(options), m_waker(std::make_shared<eventfd_waker>()) {
    open_ring();
    setup_buffers();
    m_reaped.reserve(options.cq_entries);
}

void io_uring_backend::open_ring() {
    // Newest first: each step back is for an older kernel that rejects a flag with EINVAL.
    // SINGLE_ISSUER + DEFER_TASKRUN (6.1) run completions only when this thread asks for them
    // (no interrupts of the loop thread); R_DISABLED lets the loop thread, not the one that
    // built the loop, become the single issuer (see activate()).
    const unsigned base = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
    const unsigned attempts[] = {
        base | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
        base | IORING_SETUP_COOP_TASKRUN,
        IORING_SETUP_CQSIZE,
        0,
    };
    int r = -EINVAL;
    io_uring_params params{};
    for (unsigned flags : attempts) {
        params = io_uring_params{};
        params.flags = flags;
        params.cq_entries = m_options.cq_entries;
        r = io_uring_queue_init_params(m_options.sq_entries, &m_ring, &params);
        if (r != -EINVAL)
            break;
    }
    if (r < 0)
        sys::throw_errno(-r, "io_uring_queue_init_params");
    m_enabled = false;
    try {
        // Needed: waits with a timeout in the same enter (EXT_ARG, 5.11), internal poll-arming
        // of socket calls (FAST_POLL) and no lost completions (NODROP).
        constexpr unsigned needed =
            IORING_FEAT_EXT_ARG | IORING_FEAT_FAST_POLL | IORING_FEAT_NODROP;
        m_features = params.features;
        if ((params.features & needed) != needed)
            sys::throw_errno(ENOSYS, "io_uring: the kernel lacks EXT_ARG, FAST_POLL or NODROP");
        io_uring_probe* probe = io_uring_get_probe_ring(&m_ring);
        if (!probe)
            sys::throw_errno(ENOSYS, "io_uring: cannot probe the opcodes");
        bool all = true;
        for (int opcode : {IORING_OP_POLL_ADD, IORING_OP_RECV, IORING_OP_SEND, IORING_OP_READ,
                           IORING_OP_WRITE, IORING_OP_ACCEPT, IORING_OP_CONNECT, IORING_OP_RECVMSG,
                           IORING_OP_SENDMSG, IORING_OP_ASYNC_CANCEL, IORING_OP_NOP})
            all = all && io_uring_opcode_supported(probe, opcode);
        io_uring_free_probe(probe);
        if (!all)
            sys::throw_errno(ENOSYS, "io_uring: the kernel lacks an opcode corio needs");
        // Synchronous cancellation (6.0) is what makes cancel() safe for the caller's frame:
        // asked for a key nobody has, a kernel that knows it answers ENOENT.
        io_uring_sync_cancel_reg reg{};
        reg.addr = ignore_tag - 1;
        reg.timeout.tv_sec = -1;
        reg.timeout.tv_nsec = -1;
        r = io_uring_register_sync_cancel(&m_ring, &reg);
        if (r != -ENOENT && r != 0)
            sys::throw_errno(ENOSYS, "io_uring: the kernel lacks synchronous cancellation");
        // Multishot accept came with 5.19, before synchronous cancellation (6.0): a kernel that
        // got this far has it. (An opcode probe cannot tell: it is a flag of IORING_OP_ACCEPT.)
        m_multishot_accept = m_options.multishot_accept;
    } catch (...) {
        io_uring_queue_exit(&m_ring);
        throw;
    }
}

io_uring_backend::~io_uring_backend() {
    if (m_active) {
        // SQEs still queued (NOPs of withdrawn operations) go first, so the ring ends empty.
        (void)io_uring_submit(&m_ring);
        // Everything still in the kernel (the waker's read; operations the owners should have
        // cancelled) is withdrawn before the memory it uses goes.
        io_uring_sync_cancel_reg reg{};
        reg.flags = IORING_ASYNC_CANCEL_ANY;
        reg.timeout.tv_sec = -1;
        reg.timeout.tv_nsec = -1;
        io_uring_register_sync_cancel(&m_ring, &reg);
        // Their completions are run and reaped here, on the loop thread, so that tearing the
        // ring down leaves no work for this thread (which would interrupt its next wait).
        (void)io_uring_get_events(&m_ring);
        reap();
        // Connections accepted for an operation that will never see them are closed here.
        for (const completion& c : m_reaped) {
            if (c.user_data >= m_slot_count || c.res < 0)
                continue;
            const slot& s = slot_at(static_cast<std::uint32_t>(c.user_data));
            if (s.kind == io_kind::accept && !s.polling && !s.nop)
                ::close(c.res);
        }
        m_reaped.clear();
    }
    if (m_buf_ring)
        io_uring_unregister_buf_ring(&m_ring, 0);
    // Closing a ring makes the kernel's teardown work (run later, in a kworker) interrupt the
    // thread that used it once: its next blocking wait may return EINTR early, which loops treat
    // as a spurious wake-up. Keeping the ring per thread instead would hold an fd past the loop.
    io_uring_queue_exit(&m_ring);
    release_buffers();
}

void io_uring_backend::release_buffers() noexcept {
    if (m_buf_ring)
        ::munmap(m_buf_ring, m_buf_ring_bytes);
    if (m_buffers)
        ::munmap(m_buffers, m_buffers_bytes);
    m_buf_ring = nullptr;
    m_buffers = nullptr;
    m_links.reset();
    m_spare.reset();
    m_spare_count = 0;
    m_pool = provided_buffer_pool{};
}

void io_uring_backend::setup_buffers() {
    const io_uring_options& options = m_options;
    const std::uint32_t count = options.buffer_count;
    // Multishot recv came with 6.0, as SINGLE_ISSUER did: the first setup attempt tells.
    if (count == 0 || (count & (count - 1)) != 0 || count > 32768 || options.buffer_size == 0 ||
        !(m_ring.flags & IORING_SETUP_SINGLE_ISSUER))
        return;
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t ring_bytes = (count * sizeof(io_uring_buf) + page - 1) / page * page;
    const std::size_t buffer_bytes = std::size_t{count} * options.buffer_size;
    void* ring =
        ::mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ring == MAP_FAILED)
        return;
    void* buffers = ::mmap(nullptr, buffer_bytes, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (buffers == MAP_FAILED) {
        ::munmap(ring, ring_bytes);
        return;
    }
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(ring);
    reg.ring_entries = count;
    reg.bgid = 0;
    if (io_uring_register_buf_ring(&m_ring, &reg, 0) != 0) {
        ::munmap(ring, ring_bytes);
        ::munmap(buffers, buffer_bytes);
        return;
    }
    m_buf_ring = static_cast<io_uring_buf_ring*>(ring);
    m_buf_ring_bytes = ring_bytes;
    m_buffers = static_cast<std::byte*>(buffers);
    m_buffers_bytes = buffer_bytes;
    m_links = std::make_unique<provided_buffer_link[]>(count);
    m_spare = std::make_unique<std::uint16_t[]>(count);
    m_pool = provided_buffer_pool{m_buffers, options.buffer_size, count, m_links.get()};
    io_uring_buf_ring_init(m_buf_ring);
    // Buffer 0 on top: the low ids (the first pages of the pool) are the ones used.
    for (std::uint32_t i = count; i-- > 0;)
        m_spare[m_spare_count++] = static_cast<std::uint16_t>(i);
    top_up_ring();
}

void io_uring_backend::top_up_ring() noexcept {
    const std::uint32_t in_ring = buffers_in_ring();
    if (in_ring >= ring_resident || m_spare_count == 0)
        return;
    const std::uint32_t n = std::min(ring_resident - in_ring, m_spare_count);
    for (std::uint32_t k = 0; k < n; ++k)
        ring_add(m_spare[--m_spare_count], k);
    io_uring_buf_ring_advance(m_buf_ring, static_cast<int>(n));
}

void io_uring_backend::ring_add(std::uint16_t id, std::uint32_t offset) noexcept {
    io_uring_buf_ring_add(m_buf_ring, m_buffers + std::size_t{id} * m_pool.buffer_size,
                          m_pool.buffer_size, id, io_uring_buf_ring_mask(m_pool.count),
                          static_cast<int>(offset));
}

void io_uring_backend::activate() {
    if (m_active)
        return;
    if (m_enabled && m_enabled_by != std::this_thread::get_id()) {
        // A ring taken from the cache of the thread that built this backend, which runs on
        // another thread: only its enabler may submit to it, so it is swapped for a new one.
        if (m_buf_ring)
            io_uring_unregister_buf_ring(&m_ring, 0);
        release_buffers();
        // Its registered fd belongs to the other thread's table: only the fd is closed here.
        m_ring.int_flags = 0;
        m_ring.enter_ring_fd = m_ring.ring_fd;
        io_uring_queue_exit(&m_ring);
        open_ring();
        setup_buffers();
    }
    if ((m_ring.flags & IORING_SETUP_R_DISABLED) && !m_enabled) {
        // The calling thread (the loop's) becomes the ring's single issuer.
        // The raw call: liburing 2.3 declares io_uring_enable_rings but does not export it.
        if (::syscall(__NR_io_uring_register, m_ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr,
                      0) < 0)
            sys::throw_last_errno("io_uring_register(ENABLE_RINGS)");
    }
    if (!m_enabled) {
        m_enabled = true;
        m_enabled_by = std::this_thread::get_id();
        // A registered ring fd saves the fd lookup of every io_uring_enter; it is per thread,
        // so it is registered here, on the loop thread. Failing only costs that lookup.
        (void)io_uring_register_ring_fd(&m_ring);
    }
    m_active = true;
    arm_waker();
}

std::shared_ptr<waker> io_uring_backend::get_waker() const {
    return m_waker;
}

backend_caps io_uring_backend::caps() const noexcept {
    backend_caps c;
    c.completes_inline = false;
    c.provided_buffers = m_buf_ring != nullptr;
    c.multishot_accept = m_multishot_accept;
    c.queued_sends = m_options.queued_sends;
    return c;
}

const provided_buffer_pool* io_uring_backend::buffer_pool() const noexcept {
    return m_buf_ring ? &m_pool : nullptr;
}

bool io_uring_backend::is_serialised(const io_operation& op) noexcept {
    return !is_poll_kind(op.m_kind) && op.m_kind != io_kind::connect && !op.m_multishot;
}

io_uring_backend::fd_entry& io_uring_backend::entry_for(int fd) {
    const auto i = static_cast<std::size_t>(fd);
    if (i >= m_fds.size()) {
        // Geometric growth: a server's fd numbers climb one at a time.
        const std::size_t n = m_fds.size() * 2;
        m_fds.resize(n > i ? n : i + 64);
    }
    return m_fds[i];
}

io_uring_backend::fd_entry* io_uring_backend::entry_of(int fd) noexcept {
    const auto i = static_cast<std::size_t>(fd);
    return fd >= 0 && i < m_fds.size() ? &m_fds[i] : nullptr;
}

// ------------------------------------------------------------------------------- slots ---

std::uint32_t io_uring_backend::alloc_slot() {
    if (m_free == no_slot) {
        // Slots come in chunks that never move, so a slot reference survives growth.
        auto chunk = std::make_unique<slot[]>(slot_chunk);
        const std::uint32_t first = m_slot_count;
        for (std::uint32_t k = 0; k < slot_chunk; ++k)
            chunk[k].next = k + 1 < slot_chunk ? first + k + 1 : no_slot;
        m_chunks.push_back(std::move(chunk));
        m_slot_count += slot_chunk;
        m_free = first;
    }
    const std::uint32_t i = m_free;
    m_free = slot_at(i).next;
    return i;
}

void io_uring_backend::free_slot(std::uint32_t i) noexcept {
    slot& s = slot_at(i);
    s = slot{};
    s.next = m_free;
    m_free = i;
}

// ---------------------------------------------------------------------------- submission ---

void io_uring_backend::flush() {
    // SUBMIT_ALL makes the kernel consume every SQE; EBUSY (an older kernel whose overflowed
    // completions it cannot flush) asks us to reap first. The reaped completions wait in
    // m_reaped for the next wait(): nothing is delivered from inside submit().
    for (int tries = 0; io_uring_sq_ready(&m_ring) > 0; ++tries) {
        const int r = io_uring_submit(&m_ring);
        if (r >= 0 || r == -EINTR)
            continue;
        if ((r == -EBUSY || r == -EAGAIN) && tries < 1000) {
            if (reap() == 0)
                (void)io_uring_get_events(&m_ring);
            continue;
        }
        sys::throw_errno(-r, "io_uring_submit");
    }
}

io_uring_sqe* io_uring_backend::get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&m_ring);
    while (!sqe) {
        // The SQ is full (boostorg/asio#464): hand it to the kernel now and go on, rather than
        // drop the operation or wait for a completion that the full queue would hold back.
        flush();
        sqe = io_uring_get_sqe(&m_ring);
    }
    return sqe;
}

void io_uring_backend::prep(io_uring_sqe* sqe, std::uint32_t i) {
    slot& s = slot_at(i);
    const io_operation& op = *s.op;
    if (s.polling) {
        io_uring_prep_poll_add(sqe, op.m_fd, is_read_kind(op.m_kind) ? read_mask : write_mask);
    } else {
        switch (op.m_kind) {
        case io_kind::poll_readable:
            io_uring_prep_poll_add(sqe, op.m_fd, read_mask);
            break;
        case io_kind::poll_writable:
            io_uring_prep_poll_add(sqe, op.m_fd, write_mask);
            break;
        case io_kind::recv:
            if (s.multishot) {
                io_uring_prep_recv_multishot(sqe, op.m_fd, nullptr, 0, op.m_flags);
                sqe->flags |= IOSQE_BUFFER_SELECT;
                sqe->buf_group = 0;
            } else {
                io_uring_prep_recv(sqe, op.m_fd, op.m_buf, length_of(op.m_len), op.m_flags);
            }
            break;
        case io_kind::send:
            io_uring_prep_send(sqe, op.m_fd, op.m_buf, length_of(op.m_len),
                               op.m_flags | MSG_NOSIGNAL);
            break;
        case io_kind::read:
            // Offset -1: the file position (pipes have none).
            io_uring_prep_read(sqe, op.m_fd, op.m_buf, length_of(op.m_len), ~std::uint64_t{0});
            break;
        case io_kind::write:
            io_uring_prep_write(sqe, op.m_fd, op.m_buf, length_of(op.m_len), ~std::uint64_t{0});
            break;
        case io_kind::accept:
            if (s.multishot) {
                // No address: every completion would write it to the same place, before the
                // earlier ones are delivered.
                io_uring_prep_multishot_accept(sqe, op.m_fd, nullptr, nullptr,
                                               SOCK_NONBLOCK | SOCK_CLOEXEC);
            } else {
                io_uring_prep_accept(sqe, op.m_fd, op.m_addr, op.m_addrlen,
                                     SOCK_NONBLOCK | SOCK_CLOEXEC);
            }
            break;
        case io_kind::connect:
            io_uring_prep_connect(sqe, op.m_fd, op.m_addr, *op.m_addrlen);
            break;
        case io_kind::recvmsg:
            io_uring_prep_recvmsg(sqe, op.m_fd, op.m_msg, static_cast<unsigned>(op.m_flags));
            break;
        case io_kind::sendmsg:
            io_uring_prep_sendmsg(sqe, op.m_fd, op.m_msg,
                                  static_cast<unsigned>(op.m_flags | MSG_NOSIGNAL));
            break;
        }
    }
    io_uring_sqe_set_data64(sqe, i);
}

void io_uring_backend::issue(std::uint32_t i) {
    io_uring_sqe* sqe = get_sqe();
    slot& s = slot_at(i);
    s.sq_index = m_ring.sq.sqe_tail - 1;
    s.in_kernel = true;
    prep(sqe, i);
}

void io_uring_backend::start(io_operation& op) {
    const std::uint32_t i = alloc_slot();
    slot& s = slot_at(i);
    s.op = &op;
    s.kind = op.m_kind;
    s.multishot = op.m_multishot && (op.m_kind == io_kind::recv ||
                                     (op.m_kind == io_kind::accept && m_multishot_accept));
    s.queued_call = is_serialised(op);
    op.m_backend_slot = i;
    try {
        issue(i);
    } catch (...) {
        free_slot(i);
        throw;
    }
}

bool io_uring_backend::sqe_unconsumed(const slot& s) const noexcept {
    // The kernel consumes SQEs only inside io_uring_enter on this thread (no SQPOLL), so one
    // at or past its head has not been read yet and may still be rewritten.
    const std::uint32_t head = io_uring_smp_load_acquire(m_ring.sq.khead);
    return s.in_kernel && static_cast<std::int32_t>(s.sq_index - head) >= 0;
}

void io_uring_backend::make_nop(slot& s) noexcept {
    io_uring_sqe* sqe = &m_ring.sq.sqes[s.sq_index & m_ring.sq.ring_mask];
    const std::uint64_t data = sqe->user_data;
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, data);
    s.nop = true;
}

bool io_uring_backend::submit(io_operation& op) {
    if (op.m_fd < 0)
        sys::throw_errno(EBADF, "corio: submit on an invalid fd");
    activate();
    if (is_poll_kind(op.m_kind) && ::fcntl(op.m_fd, F_GETFD) < 0)
        sys::throw_errno(EBADF, "corio: submit on an invalid fd");
    // Every fd gets its entry, polls included, so the table grows while a program warms up.
    fd_entry& e = entry_for(op.m_fd);
    if (is_serialised(op)) {
        // One call per fd and direction in the kernel at a time: FIFO order, and sends whose
        // bytes never interleave. The others wait here, without an SQE.
        op_queue& q = is_read_kind(op.m_kind) ? e.readers : e.writers;
        if (!q.empty()) {
            op.m_backend_slot = no_slot;
            q.push(&op);
            ++m_pending;
            return false;
        }
        start(op);
        q.push(&op);
    } else {
        start(op);
    }
    ++m_pending;
    return false;
}

void io_uring_backend::advance_queue(const io_operation& op) noexcept {
    fd_entry* e = entry_of(op.m_fd);
    if (!e)
        return;
    op_queue& q = is_read_kind(op.m_kind) ? e->readers : e->writers;
    const bool was_head = q.head == &op;
    q.remove(const_cast<io_operation*>(&op));
    if (!was_head || q.empty())
        return;
    try {
        start(*q.head);
    } catch (...) {
        ring_failed();
    }
}

bool io_uring_backend::cancel(io_operation& op) noexcept {
    if (!m_active)
        return false;
    const std::uint32_t i = op.m_backend_slot;
    if (i < m_slot_count && slot_at(i).op == &op) {
        slot& s = slot_at(i);
        const bool serial = s.queued_call;
        s.op = nullptr;
        --m_pending;
        if (s.parked) {
            // Waiting for a buffer: nothing in the kernel.
            for (std::uint32_t* p = &m_parked; *p != no_slot; p = &slot_at(*p).next) {
                if (*p == i) {
                    *p = s.next;
                    break;
                }
            }
            free_slot(i);
        } else if (sqe_unconsumed(s)) {
            make_nop(s); // never reaches the kernel as the call; its NOP completion frees it
        } else if (s.in_kernel) {
            // Synchronous: when this returns, the kernel no longer touches the operation (a
            // request under way in a worker is waited for). ENOENT: it has completed, and its
            // completion, still in the CQ, will find the slot empty.
            io_uring_sync_cancel_reg reg{};
            reg.addr = i;
            reg.timeout.tv_sec = -1;
            reg.timeout.tv_nsec = -1;
            int r;
            do
                r = io_uring_register_sync_cancel(&m_ring, &reg);
            while (r == -EINTR);
            // With DEFER_TASKRUN the withdrawn request leaves the fd's wait queue only when
            // this thread runs its task work. Until then it can swallow an exclusive wake-up
            // (accept polls are EPOLLEXCLUSIVE) meant for the next request on the fd, so the
            // work is run now (its completion waits in the CQ).
            if (r == 0)
                (void)io_uring_get_events(&m_ring);
        }
        if (serial)
            advance_queue(op);
        return true;
    }
    if (is_serialised(op)) {
        // Waiting behind another call of its fd: never reached the kernel.
        if (fd_entry* e = entry_of(op.m_fd)) {
            if ((is_read_kind(op.m_kind) ? e->readers : e->writers).remove(&op)) {
                --m_pending;
                return true;
            }
        }
    }
    return false;
}

void io_uring_backend::stop(io_operation& op) noexcept {
    const std::uint32_t i = op.m_backend_slot;
    if (!m_active || i >= m_slot_count || slot_at(i).op != &op)
        return;
    slot& s = slot_at(i);
    if (!s.multishot || s.stopping)
        return;
    s.stopping = true;
    try {
        if (s.parked) {
            for (std::uint32_t* p = &m_parked; *p != no_slot; p = &slot_at(*p).next) {
                if (*p == i) {
                    *p = s.next;
                    break;
                }
            }
            s.parked = false;
            issue(i);
            make_nop(s);
        } else if (sqe_unconsumed(s)) {
            make_nop(s);
        } else {
            // Asynchronous: what the recv already received is still delivered, then its final
            // completion (-ECANCELED) ends it.
            io_uring_sqe* sqe = get_sqe();
            io_uring_prep_cancel64(sqe, i, 0);
            io_uring_sqe_set_data64(sqe, ignore_tag);
            // Submitted now rather than at the next wait: a stop is backpressure, and until
            // the kernel sees it the recv keeps taking buffers of the shared pool.
            flush();
        }
    } catch (...) {
        ring_failed();
    }
}

void io_uring_backend::recycle_buffer(std::uint32_t id) noexcept {
    assert(m_buf_ring && id < m_pool.count && m_buffers_out > 0);
    --m_buffers_out;
    if (buffers_in_ring() - 1 >= ring_resident) { // the count above still includes `id`
        m_spare[m_spare_count++] = static_cast<std::uint16_t>(id);
    } else {
        ring_add(static_cast<std::uint16_t>(id), 0);
        io_uring_buf_ring_advance(m_buf_ring, 1);
    }
    if (m_parked != no_slot)
        unpark_all();
}

void io_uring_backend::unpark_all() noexcept {
    try {
        while (m_parked != no_slot) {
            const std::uint32_t i = m_parked;
            slot& s = slot_at(i);
            m_parked = s.next;
            s.parked = false;
            issue(i);
        }
    } catch (...) {
        ring_failed();
    }
}

void io_uring_backend::forget_fd(int fd) noexcept {
    if (fd_entry* e = entry_of(fd)) {
        assert(e->readers.empty() && e->writers.empty() && "forget_fd with operations pending");
        *e = fd_entry{};
    }
}

void io_uring_backend::arm_waker() {
    if (m_waker_armed)
        return;
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_read(sqe, m_waker->fd(), &m_wake_value, sizeof m_wake_value, 0);
    io_uring_sqe_set_data64(sqe, waker_tag);
    m_waker_armed = true;
}

// ------------------------------------------------------------------------------ completion ---

std::size_t io_uring_backend::reap() noexcept {
    unsigned head;
    io_uring_cqe* cqe;
    unsigned n = 0;
    io_uring_for_each_cqe(&m_ring, head, cqe) {
        m_reaped.push_back(completion{cqe->user_data, cqe->res, cqe->flags});
        ++n;
    }
    io_uring_cq_advance(&m_ring, n);
    return n;
}

void io_uring_backend::deliver(const completion& c) noexcept {
    if (c.user_data == ignore_tag)
        return;
    if (c.user_data == waker_tag) {
        m_waker_armed = false;
        if (c.res != -ECANCELED) {
            try {
                arm_waker();
            } catch (...) {
                ring_failed();
            }
        }
        return;
    }
    const auto i = static_cast<std::uint32_t>(c.user_data);
    slot& s = slot_at(i);
    const bool more = (c.flags & IORING_CQE_F_MORE) != 0;
    io_operation* op = s.op;
    if (!op) {
        // Withdrawn: the slot waited for this completion only. What the call obtained is
        // released (an fd nobody takes, a buffer nobody reads).
        if (c.flags & IORING_CQE_F_BUFFER) {
            ++m_buffers_out;
            recycle_buffer(c.flags >> IORING_CQE_BUFFER_SHIFT);
        }
        if (s.kind == io_kind::accept && !s.polling && !s.nop && c.res >= 0)
            ::close(c.res);
        if (!more)
            free_slot(i);
        return;
    }
    if (s.nop) {
        // stop() caught it before the kernel saw it.
        free_slot(i);
        --m_pending;
        op->m_more = false;
        op->m_result = -ECANCELED;
        op->m_complete(op);
        return;
    }
    try {
        if (s.multishot) {
            op->m_more = more;
            if (c.flags & IORING_CQE_F_BUFFER) {
                const std::uint32_t id = c.flags >> IORING_CQE_BUFFER_SHIFT;
                op->m_buffer_id = id;
                op->m_buf = m_buffers + std::size_t{id} * m_pool.buffer_size;
                ++m_buffers_out;
            }
            if (!more) {
                if (c.res == -ENOBUFS && !s.stopping && s.kind == io_kind::recv) {
                    // The pool ran dry. Retried at once while some buffer is back in the ring
                    // (or on its way there); else when one is recycled.
                    s.in_kernel = false;
                    top_up_ring();
                    if (buffers_in_ring() > 0) {
                        issue(i);
                    } else {
                        s.parked = true;
                        s.next = m_parked;
                        m_parked = i;
                    }
                    return;
                }
                free_slot(i);
                --m_pending;
            }
            op->m_result = c.res;
            op->m_complete(op); // may destroy *op once m_more is false
            return;
        }
        if (s.polling) {
            // The fd became ready for a call that had found it not ready: retry the call.
            s.polling = false;
            if (c.res >= 0) {
                issue(i);
                return;
            }
        } else if (c.res == -EAGAIN && !is_poll_kind(s.kind) && s.kind != io_kind::connect) {
            // A non-blocking pipe or tty: wait for readiness inside the backend, then retry.
            s.polling = true;
            issue(i);
            return;
        }
    } catch (...) {
        ring_failed();
    }
    const bool serial = s.queued_call;
    const bool poll = is_poll_kind(s.kind);
    free_slot(i);
    --m_pending;
    op->m_more = false; // a multishot accept run as a single one (no multishot_accept) ends
    op->m_result = poll && c.res >= 0 ? (c.res & reported_events) : c.res;
    if (serial)
        advance_queue(*op);
    op->m_complete(op); // may destroy *op
}

bool io_uring_backend::wait(std::optional<std::chrono::nanoseconds> timeout) {
    activate();
    if (m_spare_count != 0)
        top_up_ring(); // the recvs of the last turn took buffers that their streams still hold
    bool busy = false;
    if (m_reaped.empty()) {
        io_uring_cqe* cqe = nullptr;
        int r;
        if (timeout) {
            const auto ns = timeout->count() > 0 ? timeout->count() : 0;
            __kernel_timespec ts{};
            ts.tv_sec = ns / 1'000'000'000;
            ts.tv_nsec = ns % 1'000'000'000;
            r = io_uring_submit_and_wait_timeout(&m_ring, &cqe, 1, &ts, nullptr);
        } else {
            r = io_uring_submit_and_wait(&m_ring, 1);
        }
        // ETIME: the timeout expired; EINTR: a signal (the loop re-evaluates); EBUSY/EAGAIN:
        // reap first (below), the SQEs stay for the next wait.
        if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY && r != -EAGAIN)
            sys::throw_errno(-r, "io_uring_enter");
        busy = r > 0; // SQEs submitted
    }
    // Deliver until the CQ is empty, including what the kernel kept aside on overflow.
    for (int rounds = 0; rounds < 64; ++rounds) {
        reap();
        if (m_reaped.empty()) {
            if (!io_uring_cq_has_overflow(&m_ring))
                break;
            (void)io_uring_get_events(&m_ring);
            continue;
        }
        // By index: a completion may flush a full SQ, which appends to m_reaped.
        busy = true;
        for (std::size_t k = 0; k < m_reaped.size(); ++k) {
            const completion c = m_reaped[k];
            deliver(c);
        }
        m_reaped.clear();
    }
    return busy;
}

} // namespace corio::detail
