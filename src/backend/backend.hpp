#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

namespace corio::detail {

/// What an io_operation asks of the backend.
enum class io_kind : std::uint8_t {
    poll_readable, ///< complete when the fd is readable (or has hung up / failed)
    poll_writable, ///< complete when the fd is writable (or has failed)
};

/// One I/O operation. It lives in the awaiting coroutine frame, so submitting it allocates
/// nothing; the backend links it into its own tables through m_backend_next.
///
/// Invariant: between submit() and either its completion or a successful cancel(), the
/// operation must not move or be destroyed.
struct io_operation {
    io_kind m_kind = io_kind::poll_readable;
    int m_fd = -1;
    /// The outcome: for polls, the ready events as poll(2) bits (POLLIN, POLLOUT, POLLERR,
    /// POLLHUP); a negative errno on failure.
    int m_result = 0;
    /// Called on the loop thread when the operation completes. The backend no longer refers to
    /// the operation by then, so the callee may destroy it.
    void (*m_complete)(io_operation*) noexcept = nullptr;
    /// Backend-private link.
    io_operation* m_backend_next = nullptr;
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

    /// Starts `op`. Its completion is delivered by a later wait(), never from inside submit().
    /// Errors: std::system_error when the kernel refuses the fd (EBADF, EPERM for regular files).
    virtual void submit(io_operation& op) = 0;
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
    /// waker fired. Errors: std::system_error if the kernel wait fails for a reason other than
    /// a signal.
    virtual void wait(std::optional<std::chrono::nanoseconds> timeout) = 0;

    /// The waker of this backend.
    [[nodiscard]] virtual std::shared_ptr<waker> get_waker() const = 0;
};

/// Creates the backend called `name` ("" picks CORIO_BACKEND from the environment, else the
/// default, epoll). Errors: std::invalid_argument for an unknown name; std::system_error if the
/// kernel refuses to create it.
std::unique_ptr<backend> make_backend(std::string_view name);

} // namespace corio::detail
