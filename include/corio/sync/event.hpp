#pragma once

#include "corio/core/detail/task_header.hpp"
#include "corio/sync/detail/waiter_queue.hpp"

#include <cassert>
#include <coroutine>

namespace corio {

namespace detail {
class event_waiter;
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
        while (detail::sync_waiter* w = m_waiters.pop_front()) {
            w->m_granted = true;
            w->m_task->wake();
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
    friend class detail::event_waiter;

    /// Tasks waiting for the event, oldest first. Invariant: empty while m_set.
    detail::waiter_queue m_waiters;
    bool m_set = false;
};

namespace detail {

/// The awaiter of event::wait(): a sync_waiter in the awaiting frame, so waiting never
/// allocates.
class event_waiter : sync_waiter {
  public:
    explicit event_waiter(event& e) noexcept : m_event(e) { m_kind = &s_wait_kind; }
    event_waiter(const event_waiter&) = delete;
    event_waiter& operator=(const event_waiter&) = delete;
    /// A frame destroyed while it waits (a loop torn down with pending tasks) leaves the queue.
    ~event_waiter() { m_event.m_waiters.remove(*this); }

    /// m_task stays null when the event is already set: nothing to deliver on that path.
    bool await_ready() {
        task_header& t = this_task("event");
        if (m_event.m_set)
            return true;
        m_task = &t;
        return false;
    }
    bool await_suspend(std::coroutine_handle<> h) noexcept {
        if (m_task->m_must_cancel)
            return false;
        m_event.m_waiters.push_back(*this);
        m_task->suspend(*this, h);
        return true;
    }
    void await_resume() {
        if (m_task)
            m_task->throw_if_cancelled();
    }

  private:
    /// Called only while the waiter is queued (a woken task is scheduled, not suspended).
    static void on_cancel(wait_node* w, task_header& t) noexcept {
        auto* self = static_cast<event_waiter*>(static_cast<sync_waiter*>(w));
        assert(self->m_linked);
        self->m_event.m_waiters.remove(*self);
        t.m_must_cancel = true;
        t.wake();
    }
    static constexpr wait_kind s_wait_kind{&on_cancel, "event"};

    event& m_event;
};

} // namespace detail

inline detail::event_waiter event::wait() noexcept {
    return detail::event_waiter(*this);
}

} // namespace corio
