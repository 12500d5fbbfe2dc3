#pragma once

#include "corio/sync/detail/grant_waiter.hpp"
#include "corio/sync/detail/waiter_queue.hpp"

namespace corio {

class event;

namespace detail {
/// The awaiter of event::wait().
using event_waiter = grant_waiter<event>;
} // namespace detail

/// A flag that tasks can wait for (asyncio's Event). set() wakes every task that waits; while it
/// is set, wait() returns at once; clear() resets it.
///
/// The event must outlive every task waiting on it. It belongs to the thread of its loop.
///
/// Example:
/// ```
/// corio::event ready;
/// corio::task<> consumer(corio::event& ready) { co_await ready.wait(); ... }
/// // elsewhere: ready.set();
/// ```
class event {
  public:
    event() noexcept = default;
    event(const event&) = delete;
    event& operator=(const event&) = delete;
    /// Precondition: no task waits on the event.
    ~event() = default;

    /// True while the event is set.
    [[nodiscard]] bool is_set() const noexcept { return m_set; }

    /// Sets the event and wakes every task waiting for it (asyncio's set). Each of them returns
    /// from wait() even if the event is cleared again before it resumes. Setting a set event does
    /// nothing.
    void set() noexcept {
        if (m_set)
            return;
        m_set = true;
        while (m_waiters.grant_front()) {
        }
    }

    /// Resets the event (asyncio's clear): later calls to wait() suspend until the next set().
    void clear() noexcept { m_set = false; }

    /// `co_await e.wait()` returns once the event is set (asyncio's wait); at once if it is set
    /// already (without suspending, so a pending cancellation is not delivered there).
    ///
    /// Cancellation: throws cancelled_error. Nothing is lost: the event's state is untouched, and
    /// a set() that woke the task before the cancellation arrived has woken the others too.
    /// Errors: std::logic_error outside a task run by a loop.
    [[nodiscard]] detail::event_waiter wait() noexcept;

  private:
    friend class detail::grant_waiter<event>;

    static constexpr const char* s_wait_what = "event";

    /// A set event lets the caller through at once; nothing is taken from it.
    bool try_take() const noexcept { return m_set; }
    /// Nothing to give back: the set() that woke a cancelled waiter woke every other one too.
    void give_back() const noexcept {}

    /// Tasks waiting for the event, oldest first. Invariant: empty while m_set.
    detail::waiter_queue m_waiters;
    bool m_set = false;
};

inline detail::event_waiter event::wait() noexcept {
    return detail::event_waiter(*this);
}

} // namespace corio
