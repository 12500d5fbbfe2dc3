#pragma once

#include "corio/core/detail/task_header.hpp"
#include "corio/sync/detail/waiter_queue.hpp"

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <limits>
#include <utility>

namespace corio {

namespace detail {
class semaphore_waiter;
class semaphore_scoped_awaiter;
} // namespace detail

/// A counting semaphore for tasks of one loop (asyncio's Semaphore): a counter of units that
/// acquire() takes, waiting while there is none, and release() gives back.
///
/// Fairness: units are granted in FIFO order. release() hands its unit directly to the oldest
/// waiter, and acquire() never takes a unit while other tasks are queued (asyncio 3.12's fix), so
/// a task that arrives later never gets ahead of one that waits.
///
/// Like the lock, it is used scoped (`auto g = co_await s;`, a semaphore::guard that gives the
/// unit back when destroyed) or manually (`co_await s.acquire();` ... `s.release();`).
///
/// The semaphore must outlive every task waiting on it. It belongs to the thread of its loop.
///
/// Example: at most 10 downloads at a time.
/// ```
/// corio::task<> download(corio::semaphore& limit, url u) {
///     auto unit = co_await limit;
///     co_await fetch(u);
/// }
/// ```
class semaphore {
  public:
    class guard;

    /// A semaphore with `initial` units.
    /// Errors: std::invalid_argument if `initial` is negative.
    explicit semaphore(std::ptrdiff_t initial = 1)
        : semaphore(initial, std::numeric_limits<std::ptrdiff_t>::max()) {}
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;
    /// Precondition: no task waits on the semaphore.
    ~semaphore() = default;

    /// The number of units available now.
    [[nodiscard]] std::ptrdiff_t value() const noexcept { return m_value; }
    /// True if acquire() would wait: no unit is available (asyncio's locked()). Tasks only wait
    /// while the value is 0.
    [[nodiscard]] bool locked() const noexcept { return m_value == 0; }

    /// `co_await s.acquire()` takes one unit, waiting for one if none is available or other
    /// tasks already wait (asyncio's acquire). Does not suspend when a unit is free.
    /// The caller must release() it later: prefer the guard of `co_await s`.
    ///
    /// Cancellation: throws cancelled_error, and the task holds no unit. A task cancelled after
    /// a unit had been handed to it, but before it resumed, passes the unit on to the next
    /// waiter (or back to the counter) first, so no wake-up is lost. A cancellation that is
    /// pending when a unit is free is not delivered here (no suspension point, as in asyncio).
    /// Errors: std::logic_error outside a task run by a loop.
    [[nodiscard]] detail::semaphore_waiter acquire() noexcept;

    /// `auto g = co_await s.scoped()` acquires a unit like acquire() and returns a guard that
    /// releases it when destroyed. Same as `co_await s`.
    /// Cancellation and errors: as acquire(); when it throws, nothing is held.
    [[nodiscard]] detail::semaphore_scoped_awaiter scoped() noexcept;

    /// `auto g = co_await s` is scoped(): the RAII form (asyncio's `async with sem`).
    [[nodiscard]] detail::semaphore_scoped_awaiter operator co_await() noexcept;

    /// Gives a unit back (asyncio's release): to the oldest waiter if a task waits, else to the
    /// counter. Never suspends.
    ///
    /// Errors: for a bounded_semaphore, std::logic_error when the value would exceed the initial
    /// value ("released too many times"); a plain semaphore only throws it if the counter would
    /// overflow std::ptrdiff_t.
    void release() {
        if (m_waiters.empty() && m_value >= m_bound) [[unlikely]]
            throw_released_too_often();
        give_back();
    }

  protected:
    /// A semaphore whose value may never exceed `bound` (bounded_semaphore).
    /// Errors: std::invalid_argument if `initial` is negative.
    semaphore(std::ptrdiff_t initial, std::ptrdiff_t bound) : m_value(initial), m_bound(bound) {
        if (initial < 0) [[unlikely]]
            throw_negative();
    }

  private:
    friend class detail::semaphore_waiter;

    /// Hands a unit to the oldest waiter (woken), or adds it to the counter.
    void give_back() noexcept {
        if (detail::sync_waiter* w = m_waiters.pop_front()) {
            w->m_granted = true;
            w->m_task->wake();
        } else {
            ++m_value;
        }
    }
    [[noreturn]] static void throw_negative();
    [[noreturn]] void throw_released_too_often() const;

    /// Tasks waiting for a unit, oldest first. Invariant: not empty only while m_value == 0.
    detail::waiter_queue m_waiters;
    /// Units available. Invariant: 0 <= m_value <= m_bound.
    std::ptrdiff_t m_value;
    /// The largest value release() may reach: the initial value of a bounded_semaphore.
    std::ptrdiff_t m_bound;
};

/// Holds a unit taken by `co_await s` and gives it back when destroyed. Move-only; a moved-from
/// or released guard holds nothing.
class [[nodiscard]] semaphore::guard {
  public:
    /// An empty guard that holds nothing.
    guard() noexcept = default;
    guard(guard&& o) noexcept : m_sem(std::exchange(o.m_sem, nullptr)) {}
    guard& operator=(guard&& o) noexcept {
        if (this != &o) {
            reset();
            m_sem = std::exchange(o.m_sem, nullptr);
        }
        return *this;
    }
    guard(const guard&) = delete;
    guard& operator=(const guard&) = delete;
    /// Gives the unit back if the guard still holds it: the oldest waiter gets it.
    ~guard() { reset(); }

    /// True while the guard holds a unit.
    [[nodiscard]] bool owns_unit() const noexcept { return m_sem != nullptr; }
    [[nodiscard]] explicit operator bool() const noexcept { return owns_unit(); }

    /// Gives the unit back early; the guard then holds nothing.
    /// Errors: std::logic_error if the guard holds nothing.
    void release();

  private:
    friend class detail::semaphore_scoped_awaiter;
    explicit guard(semaphore& s) noexcept : m_sem(&s) {}

    /// The unit was taken by this guard, so giving it back cannot exceed a bound.
    void reset() noexcept {
        if (semaphore* s = std::exchange(m_sem, nullptr))
            s->give_back();
    }

    semaphore* m_sem = nullptr;
};

namespace detail {

/// The awaiter of semaphore::acquire(): a sync_waiter in the awaiting frame, so waiting never
/// allocates.
class semaphore_waiter : protected sync_waiter {
  public:
    explicit semaphore_waiter(semaphore& s) noexcept : m_sem(s) { m_kind = &s_wait_kind; }
    semaphore_waiter(const semaphore_waiter&) = delete;
    semaphore_waiter& operator=(const semaphore_waiter&) = delete;
    /// A frame destroyed while it waits (a loop torn down with pending tasks) leaves the queue.
    ~semaphore_waiter() { m_sem.m_waiters.remove(*this); }

    /// The fast path: a free unit (there are then no waiters) is taken without suspending.
    /// m_task stays null on this path: it marks an acquisition that did not suspend.
    bool await_ready() {
        task_header& t = this_task("semaphore");
        if (m_sem.m_value > 0) {
            --m_sem.m_value;
            return true;
        }
        m_task = &t;
        return false;
    }
    bool await_suspend(std::coroutine_handle<> h) noexcept {
        if (m_task->m_must_cancel)
            return false;
        m_sem.m_waiters.push_back(*this);
        m_task->suspend(*this, h);
        return true;
    }
    void await_resume() { finish(); }

  protected:
    /// Throws cancelled_error if the task was cancelled while it waited, after passing on a unit
    /// that had been handed to it.
    void finish() {
        if (m_task && m_task->m_must_cancel) [[unlikely]] {
            if (std::exchange(m_granted, false))
                m_sem.give_back();
            m_task->deliver_cancel();
        }
    }

    semaphore& m_sem;

  private:
    /// Called only while the waiter is queued (a granted task is scheduled, not suspended).
    static void on_cancel(wait_node* w, task_header& t) noexcept {
        auto* self = static_cast<semaphore_waiter*>(static_cast<sync_waiter*>(w));
        assert(self->m_linked);
        self->m_sem.m_waiters.remove(*self);
        t.m_must_cancel = true;
        t.wake();
    }
    static constexpr wait_kind s_wait_kind{&on_cancel, "semaphore"};
};

/// The awaiter of `co_await s` and semaphore::scoped(): acquire(), then a guard.
class semaphore_scoped_awaiter : public semaphore_waiter {
  public:
    using semaphore_waiter::semaphore_waiter;
    [[nodiscard]] semaphore::guard await_resume() {
        finish();
        return semaphore::guard(m_sem);
    }
};

} // namespace detail

inline detail::semaphore_waiter semaphore::acquire() noexcept {
    return detail::semaphore_waiter(*this);
}
inline detail::semaphore_scoped_awaiter semaphore::scoped() noexcept {
    return detail::semaphore_scoped_awaiter(*this);
}
inline detail::semaphore_scoped_awaiter semaphore::operator co_await() noexcept {
    return detail::semaphore_scoped_awaiter(*this);
}

} // namespace corio
