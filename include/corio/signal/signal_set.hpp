#pragma once

#include "corio/sync/detail/waiter_queue.hpp"

#include <coroutine>
#include <initializer_list>
#include <memory>

namespace corio {

class event_loop;

namespace detail {
class signal_set_state;

/// The awaiter of signal_set::wait(): a waiter in the awaiting frame, granted a signal number.
class signal_wait_awaiter : sync_waiter {
  public:
    explicit signal_wait_awaiter(signal_set_state* s) noexcept : m_state(s) { m_kind = &s_kind; }
    signal_wait_awaiter(const signal_wait_awaiter&) = delete;
    signal_wait_awaiter& operator=(const signal_wait_awaiter&) = delete;
    ~signal_wait_awaiter();

    bool await_ready();
    bool await_suspend(std::coroutine_handle<> h);
    int await_resume();

  private:
    friend class signal_set_state;
    static void on_cancel(wait_node* w, task_header& t) noexcept;
    static constexpr wait_kind s_kind{&on_cancel, "signal"};

    signal_set_state* m_state;
    /// The signal granted, 0 when the set was closed while waiting.
    int m_sig = 0;
};
} // namespace detail

/// A set of signals a task can await (corio's own API; asyncio has only callbacks, Tokio has
/// `signal(kind).recv()`). From its construction, every arrival of one of its signals is
/// recorded, so none is lost between two waits; signals that arrive while nobody waits are
/// delivered by the next wait(), lowest signal number first, each at most once per arrival
/// batch (the kernel coalesces a pending signal too).
///
/// Signals reach the loop as with add_signal_handler (process-wide handler, eventfd, no signal
/// mask needed), and the previous action of each signal is replaced while a set or a handler
/// listens to it. A set and a handler of the same signal both hear it.
///
/// Loop thread only. Move-only; destroying (or close()) stops listening: a task waiting then
/// gets std::logic_error.
///
/// Example:
/// @code
/// corio::signal_set stop{SIGTERM, SIGINT};
/// int sig = co_await stop.wait();      // SIGTERM or SIGINT
/// @endcode
class signal_set {
  public:
    /// Listens to `signals` on the loop running on this thread.
    /// Errors: as add_signal_handler (std::invalid_argument, std::logic_error outside a
    /// running loop, std::system_error); std::invalid_argument for an empty list.
    signal_set(std::initializer_list<int> signals);
    /// Listens to `signals` on `loop`.
    signal_set(event_loop& loop, std::initializer_list<int> signals);
    signal_set(signal_set&& o) noexcept;
    signal_set& operator=(signal_set&& o) noexcept;
    ~signal_set();

    /// Waits for the next signal of the set and returns its number; returns at once if one
    /// arrived since the last wait. Several tasks may wait: each arrival goes to one of them
    /// (the oldest waiter).
    ///
    /// Cancellation: nothing is lost (a signal granted to a cancelled waiter goes back to the
    /// set, for the next wait). Errors: std::logic_error if the set is closed (or was moved
    /// from), also when it is closed while the task waits, or outside a task.
    [[nodiscard]] detail::signal_wait_awaiter wait() noexcept;

    /// Stops listening (idempotent). Waiting tasks get std::logic_error.
    void close() noexcept;

  private:
    std::unique_ptr<detail::signal_set_state> m_state;
};

} // namespace corio
