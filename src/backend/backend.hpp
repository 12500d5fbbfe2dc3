#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corio::detail {

/// What an io_operation asks of the backend. Socket calls map one to one onto the POSIX calls
/// (and onto io_uring opcodes); the backend fills m_result as the call would return.
enum class io_kind : std::uint8_t {
    poll_readable, ///< complete when the fd is readable (or has hung up / failed)
    poll_writable, ///< complete when the fd is writable (or has failed)
    recv,          ///< recv(fd, m_buf, m_len, m_flags): bytes read, 0 at end of stream
    send,          ///< send(fd, m_buf, m_len, m_flags | MSG_NOSIGNAL): bytes written (maybe short)
    read,          ///< read(fd, m_buf, m_len), for pipes and other non-socket fds
    write,         ///< write(fd, m_buf, m_len), for pipes and other non-socket fds (a pipe
                   ///< whose reader is gone raises SIGPIPE unless the process ignores it)
    accept,        ///< accept4(fd, m_addr, m_addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC): the new fd
                   ///< (multishot where backend_caps::multishot_accept holds: see m_multishot)
    connect,       ///< connect(fd, m_addr, *m_addrlen): 0 once connected (SO_ERROR checked);
                   ///< -EAGAIN when a Unix listener's backlog is full (nothing to wait for)
    recvmsg,       ///< recvmsg(fd, m_msg, m_flags): bytes read (datagrams: from any peer)
    sendmsg,       ///< sendmsg(fd, m_msg, m_flags | MSG_NOSIGNAL): bytes written
};

/// True for the kinds that wait on the read side of an fd (poll_readable, recv, read, accept,
/// recvmsg); the others (poll_writable, send, write, connect, sendmsg) wait on the write side.
/// A bit mask, not a switch: the epoll backend asks this for every operation.
constexpr bool is_read_kind(io_kind k) noexcept {
    constexpr unsigned read_kinds = 1u << static_cast<unsigned>(io_kind::poll_readable) |
                                    1u << static_cast<unsigned>(io_kind::recv) |
                                    1u << static_cast<unsigned>(io_kind::read) |
                                    1u << static_cast<unsigned>(io_kind::accept) |
                                    1u << static_cast<unsigned>(io_kind::recvmsg);
    return (read_kinds >> static_cast<unsigned>(k)) & 1u;
}

/// True for the polls (poll_readable, poll_writable): they wait for readiness and make no call.
constexpr bool is_poll_kind(io_kind k) noexcept {
    return k == io_kind::poll_readable || k == io_kind::poll_writable;
}

/// One I/O operation. It lives in the awaiting coroutine frame, so submitting it allocates
/// nothing; the backend links it into its own tables through m_backend_next.
///
/// Invariant: between a submit() that returned false and either the operation's completion or
/// a successful cancel(), the operation, its buffer, address and msghdr must not move or be
/// destroyed.
struct io_operation {
    io_kind m_kind = io_kind::poll_readable;
    /// A recv that receives again and again into the backend's provided buffers (only where
    /// backend_caps::provided_buffers holds; m_buf/m_len are ignored on submit). m_complete is
    /// called once per chunk: m_result is the byte count (> 0, the data at m_buf, the buffer
    /// m_buffer_id, to give back with recycle_buffer), 0 at the end of the stream or -errno;
    /// m_more says whether the operation goes on. Once m_more is false the backend no longer
    /// refers to the operation. cancel() withdraws it at once (chunks not delivered yet are
    /// dropped); stop() ends it without losing data (see there).
    ///
    /// An accept with m_multishot (only where backend_caps::multishot_accept holds) accepts
    /// again and again: m_complete is called once per connection, m_result the new fd
    /// (SOCK_NONBLOCK | SOCK_CLOEXEC; m_addr and m_addrlen are ignored: ask getpeername) or
    /// -errno, and m_more says whether the operation goes on (an error ends it). The callee
    /// owns each fd delivered. cancel() withdraws it at once, and the backend closes the fds it
    /// accepted but had not delivered yet; stop() ends it after delivering them, the last
    /// completion having m_more false (-ECANCELED when it carries no fd).
    bool m_multishot = false;
    /// Multishot recv or accept: set by the backend before each m_complete, true while more
    /// follow.
    bool m_more = false;
    int m_fd = -1;
    /// Flags for recv/send/recvmsg/sendmsg (MSG_*).
    int m_flags = 0;
    /// Multishot recv: the provided buffer of the chunk being delivered.
    std::uint32_t m_buffer_id = 0;
    /// The buffer of recv/send/read/write.
    void* m_buf = nullptr;
    std::size_t m_len = 0;
    /// accept: where the peer's address goes (may be null); connect: the address to reach.
    sockaddr* m_addr = nullptr;
    /// accept: in/out length of m_addr; connect: its length.
    socklen_t* m_addrlen = nullptr;
    /// recvmsg/sendmsg.
    msghdr* m_msg = nullptr;
    /// The outcome: for polls, the ready events as poll(2) bits (POLLIN, POLLOUT, POLLERR,
    /// POLLHUP); for calls, what the call returns (bytes, a new fd, 0), or a negative errno.
    /// EAGAIN is never a result (but for connect, above): the backend waits instead.
    std::int64_t m_result = 0;
    /// Called on the loop thread when an operation that submit() left pending completes. The
    /// backend no longer refers to the operation by then, so the callee may destroy it.
    void (*m_complete)(io_operation*) noexcept = nullptr;
    /// Backend-private link.
    io_operation* m_backend_next = nullptr;
    /// Backend-private index (io_uring: the operation's slot).
    std::uint32_t m_backend_slot = 0;
};

/// What a backend can do beyond the common interface.
struct backend_caps {
    /// submit() of a call completes at once when the call would not block (readiness
    /// backends: epoll, poll). False: calls go to the kernel and complete in a later wait()
    /// (io_uring), so a caller that must not wait has to use polls and its own syscalls.
    bool completes_inline = true;
    /// Multishot recv into a pool of buffers owned by the backend (io_operation::m_multishot,
    /// stop, buffer_pool, recycle_buffer).
    bool provided_buffers = false;
    /// Multishot accept (io_operation::m_multishot on an accept, stop).
    bool multishot_accept = false;
    /// Stream transports should queue their sends (io_kind::send) rather than make send calls:
    /// the backend hands every send queued during a loop turn to the kernel in the one system
    /// call that also waits (io_uring), so a queued send costs no system call of its own.
    bool queued_sends = false;
};

/// Per provided buffer, for whoever holds it: a holder may chain the buffers it holds (and
/// note their lengths) here without allocating.
struct provided_buffer_link {
    std::uint32_t next = 0;
    std::uint32_t len = 0;
};

/// The pool of provided buffers of a backend: `count` buffers of `buffer_size` bytes each, the
/// buffer with id i at base + i * buffer_size, and links[i] for its holder.
struct provided_buffer_pool {
    std::byte* base = nullptr;
    std::uint32_t buffer_size = 0;
    std::uint32_t count = 0;
    provided_buffer_link* links = nullptr;
};

/// Wakes a loop that sleeps in its backend. Shared with loop handles on other threads, so it
/// stays valid (and harmless) after the loop is gone.
class waker {
  public:
    virtual ~waker() = default;
    /// Thread-safe and async-signal-safe.
    virtual void wake() noexcept = 0;
};

/// The one interface between the loop and the operating system's notification system. Every
/// backend passes the same conformance suite (tests/backend). All members but the waker's are
/// called on the loop thread only.
class backend {
  public:
    backend() = default;
    backend(const backend&) = delete;
    backend& operator=(const backend&) = delete;
    virtual ~backend() = default;

    /// "epoll", "io_uring", "poll", ...
    [[nodiscard]] virtual const char* name() const noexcept = 0;

    /// Starts `op`. Returns true when it completed at once (m_result is set and m_complete is
    /// not called): readiness backends try the call first and wait only on EAGAIN. Returns
    /// false when it is pending: its completion is delivered by a later wait(), never from
    /// inside submit(). Polls always return false (a ready fd's poll completes at the next
    /// wait, which then does not block), so that a watch re-armed from its completion runs once
    /// per loop iteration, as asyncio's add_reader does.
    /// Errors: std::system_error when the kernel refuses the fd (EBADF, EPERM for regular files);
    /// the failure of the call itself is a result (negative errno), not an exception.
    virtual bool submit(io_operation& op) = 0;
    /// Tries a recv (`kind` recv) or send (`kind` send, MSG_NOSIGNAL) of `len` bytes on the
    /// socket `fd` now, without ever queueing it: for callers that never wait with a buffer
    /// (the stream transport waits with a poll, then tries again). Returns the bytes moved, 0 at
    /// the end of the stream, or a negative errno; -EAGAIN when the call would block. A readiness
    /// backend answers -EAGAIN without a syscall when it knows the socket is not ready, or when
    /// operations wait before this one in that direction (FIFO). The default makes the call.
    /// Errors: std::bad_alloc when the backend cannot grow its table of fds.
    virtual std::int64_t try_transfer(io_kind kind, int fd, void* buf, std::size_t len);
    /// Withdraws `op`. Returns true when it is gone and will never complete; false when it has
    /// already completed or is not known to the backend.
    virtual bool cancel(io_operation& op) noexcept = 0;
    /// Drops what the backend keeps about `fd`; called before the fd is closed. Operations on it
    /// must have been completed or cancelled.
    virtual void forget_fd(int fd) noexcept = 0;
    /// True while some submitted operation has not completed.
    [[nodiscard]] virtual bool has_pending() const noexcept = 0;

    /// Waits for completions for at most `timeout` (nullopt: until there is one or the waker
    /// fires) and delivers them. Returns when the timeout expires, something completed, or the
    /// waker fired; a signal does not end it (see retry_interrupted). Returns true when it
    /// handed operations to the kernel or delivered completions of operations the kernel ran
    /// (io_uring), so that a wait right after may find more (bytes it sent to a peer in this
    /// process, received by a recv of this loop): the virtual clock does not jump then.
    /// Readiness backends make their calls in submit() and return false. Errors:
    /// std::system_error if the kernel wait fails for a reason other than a signal.
    virtual bool wait(std::optional<std::chrono::nanoseconds> timeout) = 0;

    /// The waker of this backend.
    [[nodiscard]] virtual std::shared_ptr<waker> get_waker() const = 0;

    /// What this backend can do beyond the common interface.
    [[nodiscard]] virtual backend_caps caps() const noexcept { return {}; }
    /// Asks a multishot recv or accept to end without losing data: the chunks (or connections)
    /// already received are still delivered, and the last completion has m_more false (its
    /// m_result is -ECANCELED when it carries nothing). No effect on an operation that is not
    /// pending.
    virtual void stop(io_operation& op) noexcept { (void)op; }
    /// The provided buffers (null without backend_caps::provided_buffers).
    [[nodiscard]] virtual const provided_buffer_pool* buffer_pool() const noexcept {
        return nullptr;
    }
    /// Gives a buffer that a multishot recv delivered back to the pool.
    virtual void recycle_buffer(std::uint32_t id) noexcept { (void)id; }
};

/// Runs `wait_once(timeout)` (a kernel wait returning a count, or -1 with errno) again when a
/// signal interrupts it (EINTR), with the time left, as Python does since PEP 475: a signal
/// does not end a backend's wait early (corio's own signal handling wakes the loop through its
/// waker), and neither does the task work that closing an io_uring ring sends, later, to the
/// thread that used it. Returns the last call's result.
template <class WaitOnce>
int retry_interrupted(std::optional<std::chrono::nanoseconds> timeout, WaitOnce wait_once) {
    const auto deadline = timeout ? std::chrono::steady_clock::now() + *timeout
                                  : std::chrono::steady_clock::time_point{};
    for (;;) {
        const int n = wait_once(timeout);
        if (n >= 0 || errno != EINTR)
            return n;
        if (timeout) {
            const auto left = deadline - std::chrono::steady_clock::now();
            if (left <= std::chrono::nanoseconds::zero())
                return 0;
            timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(left);
        }
    }
}

/// Creates the backend called `name` ("" picks CORIO_BACKEND from the environment, else the
/// default, epoll). The names: "epoll" (edge-triggered unless CORIO_EPOLL_MODE=lt), "epoll-et"
/// and "epoll-lt" (the mode fixed), "poll", "io_uring" (streams make send calls unless
/// CORIO_IO_URING_SENDS=queued), and "io_uring-direct" and "io_uring-queued" (the sends fixed).
/// When io_uring cannot be created (a kernel or a build without it, seccomp,
/// /proc/sys/kernel/io_uring_disabled: ENOSYS, EPERM or EACCES), epoll is created instead, with
/// a one-line notice on stderr in debug builds (NDEBUG not defined). Errors:
/// std::invalid_argument for an unknown name (or CORIO_EPOLL_MODE value: "et", the default, or
/// "lt"; or CORIO_IO_URING_SENDS value: "direct", the default, or "queued"), naming the
/// available ones; std::system_error if the kernel refuses to create the backend.
std::unique_ptr<backend> make_backend(std::string_view name);

/// The backends that can be created on this machine (and in this build), by family name, in
/// the order "epoll", "io_uring", "poll": each is created once to find out. make_backend()
/// also accepts "epoll-et", "epoll-lt", "io_uring-direct" and "io_uring-queued". Errors:
/// std::bad_alloc.
std::vector<std::string> available_backends();

/// How streams send on io_uring: `send` calls, or sends queued in the ring (see
/// socket_transport); `from_environment` reads CORIO_IO_URING_SENDS.
enum class io_uring_sends { from_environment, direct, queued };

/// Creates the io_uring backend, without the fallback of make_backend(). Errors:
/// std::system_error: ENOSYS when the build or the kernel lacks io_uring (CORIO_HAVE_IO_URING
/// unset), EPERM or EACCES when it is forbidden, or whatever the kernel's refusal was;
/// std::invalid_argument for an unknown CORIO_IO_URING_SENDS value.
std::unique_ptr<backend>
make_io_uring_backend(io_uring_sends sends = io_uring_sends::from_environment);

} // namespace corio::detail
