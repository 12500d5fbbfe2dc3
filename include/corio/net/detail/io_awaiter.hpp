#pragma once

#include "corio/core/detail/task_header.hpp"

#include <sys/socket.h>

#include <coroutine>
#include <cstddef>
#include <cstdint>

namespace corio {
class event_loop;
namespace detail {
class backend;
} // namespace detail
namespace net {
class socket;
} // namespace net
} // namespace corio

namespace corio::net::detail {

/// The calls an io_awaiter can make; the same values as the backend's io_kind (checked in the
/// library).
enum class io_op : std::uint8_t {
    poll_readable,
    poll_writable,
    recv,
    send,
    read,
    write,
    accept,
    connect,
    recvmsg,
    sendmsg,
};

/// What an io_awaiter asks for: the arguments of the call. Trivially copyable.
struct io_request {
    io_op kind = io_op::poll_readable;
    int fd = -1;
    int flags = 0;
    void* buf = nullptr;
    std::size_t len = 0;
    sockaddr* addr = nullptr;
    socklen_t* addrlen = nullptr;
    msghdr* msg = nullptr;
};

/// Room for the backend's io_operation (a private type) in the awaiting frame. The library
/// checks at compile time that the operation fits.
inline constexpr std::size_t io_operation_size = 96;

/// The awaiter of one socket call: the backend operation lives in the awaiting coroutine frame,
/// so a call allocates nothing.
///
/// await_suspend submits the operation. When the backend completes it at once (readiness
/// backends try the call first), the task does not suspend. Otherwise the task parks at this
/// wait node; a cancellation withdraws the operation from the backend and wakes the task with
/// cancelled_error, so the kernel never touches the buffer after the frame has resumed.
///
/// An awaiter that belongs to a socket object (`owner`) is linked into that socket's list of
/// pending operations while it waits, so that closing the socket aborts it; a raw-fd awaiter
/// (sock_* calls) counts the fd's users instead, so that the loop forgets the fd as soon as
/// nobody waits on it (the caller may then close it).
class io_awaiter : corio::detail::wait_node {
  public:
    io_awaiter(const io_awaiter&) = delete;
    io_awaiter& operator=(const io_awaiter&) = delete;

    bool await_ready() const noexcept { return false; }
    /// Errors: std::logic_error outside a task run by an event_loop, or when the socket belongs
    /// to another loop; std::system_error when the backend refuses the fd (EBADF).
    bool await_suspend(std::coroutine_handle<> h);

  protected:
    io_awaiter(const io_request& r, net::socket* owner) noexcept;
    ~io_awaiter();

    /// After resumption: the call's result (>= 0), or a negative errno. Throws cancelled_error
    /// when a cancellation withdrew the operation (or came before it started), and
    /// std::system_error(ECANCELED) when close() on the socket aborted it.
    std::int64_t result();
    /// Throws std::system_error for `err`, with a message naming the call and the endpoint
    /// ("connect to 127.0.0.1:9: Connection refused").
    [[noreturn]] void throw_error(int err) const;
    /// Point the operation at an address or a msghdr held by the derived awaiter (set in its
    /// constructor body, once the member exists).
    void set_address(sockaddr* addr, socklen_t* len) noexcept;
    void set_msg(msghdr* msg) noexcept;
    /// The socket the call belongs to (null for a raw fd, or once the socket has closed).
    [[nodiscard]] net::socket* owner() const noexcept { return m_owner; }
    /// The result's fd of a completed accept that nobody took is closed by the destructor.
    void take_accepted() noexcept { m_accepted_taken = true; }

  private:
    friend class net::socket;
    enum class state : std::uint8_t {
        idle,      ///< not submitted yet
        pending,   ///< submitted, waiting in the backend
        done,      ///< completed; the result is in the operation
        withdrawn, ///< withdrawn by a cancellation; it never ran
        refused,   ///< a cancellation was pending before the submit: never submitted
        aborted,   ///< withdrawn by close() on the owner socket
    };

    // The operation, placed first in a standard-layout struct so that the completion callback
    // gets from the operation back to its awaiter.
    struct slot {
        alignas(8) std::byte op[io_operation_size];
        io_awaiter* self;
    };

    static void on_complete(void* op) noexcept;
    // One wait_kind per io_op, for the cancel callback and the name tracing shows.
    static const corio::detail::wait_kind s_wait_kinds[];
    static void on_cancel(corio::detail::wait_node* w, corio::detail::task_header& t);
    void link() noexcept;
    void unlink() noexcept;
    void release_raw_fd() noexcept;
    /// Called by socket::close(): withdraws the operation and wakes its task.
    void abort() noexcept;

    slot m_slot;
    corio::detail::task_header* m_task = nullptr;
    corio::detail::backend* m_backend = nullptr;
    net::socket* m_owner;
    // Links in the owner's list of pending operations.
    io_awaiter* m_prev = nullptr;
    io_awaiter* m_next = nullptr;
    state m_state = state::idle;
    // A raw-fd operation that went pending holds a use of its fd until it is resumed.
    bool m_holds_raw_fd = false;
    bool m_accepted_taken = false;
};

} // namespace corio::net::detail
