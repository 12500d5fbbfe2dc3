#pragma once

#include "corio/core/detail/task_header.hpp"
#include "corio/core/task.hpp"
#include "corio/sync/detail/waiter_queue.hpp"
#include "corio/sync/lock.hpp"

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace corio {

namespace detail {
class condition_waiter;
} // namespace detail

/// A condition variable for tasks of one loop (asyncio's Condition): tasks wait() under a lock
/// until another task that holds the lock notifies them.
///
/// It works over a corio::lock: one passed to the constructor (which may be shared with other
/// conditions and must outlive this one), or one of its own. acquire(), release(), locked(),
/// scoped() and `co_await c` act on that lock.
///
/// wait() releases the lock, waits for a notification, and takes the lock back before it
/// returns or throws, whatever happens. It costs no allocation: notify() moves the waiter from
/// the condition's queue straight into the lock's queue ("wait morphing"), so a notified task
/// wakes only once it holds the lock again.
///
/// The condition must outlive every task waiting on it. It belongs to the thread of its loop.
///
/// Example:
/// ```
/// corio::condition c;
/// std::deque<int> items;
/// corio::task<int> pop(corio::condition& c, std::deque<int>& items) {
///     auto g = co_await c;                                  // holds the lock
///     auto p = [&] { return !items.empty(); };
///     co_await c.wait_for(p);                               // still holds it here
///     int v = items.front();
///     items.pop_front();
///     co_return v;
/// }
/// corio::task<> push(corio::condition& c, std::deque<int>& items, int v) {
///     auto g = co_await c;
///     items.push_back(v);
///     c.notify();
/// }
/// ```
class condition {
  public:
    /// A condition with a lock of its own.
    condition() noexcept : m_lock(&m_own_lock) {}
    /// A condition over `l`, which must outlive it.
    explicit condition(corio::lock& l) noexcept : m_lock(&l) {}
    condition(const condition&) = delete;
    condition& operator=(const condition&) = delete;
    /// Precondition: no task waits on the condition.
    ~condition() = default;

    /// The underlying lock's lock::locked().
    [[nodiscard]] bool locked() const noexcept { return m_lock->locked(); }
    /// The underlying lock's lock::acquire(): `co_await c.acquire()`.
    [[nodiscard]] detail::lock_waiter acquire() noexcept { return m_lock->acquire(); }
    /// The underlying lock's lock::release(). Errors: std::runtime_error if it is not locked.
    void release() { m_lock->release(); }
    /// The underlying lock's lock::scoped(): `auto g = co_await c.scoped()` gives a lock::guard.
    [[nodiscard]] detail::lock_scoped_awaiter scoped() noexcept { return m_lock->scoped(); }
    /// `auto g = co_await c` is scoped() (asyncio's `async with cond`).
    [[nodiscard]] detail::lock_scoped_awaiter operator co_await() noexcept {
        return m_lock->scoped();
    }

    /// `co_await c.wait()`: releases the lock, waits until notified, and takes the lock back
    /// (asyncio's wait). The caller must hold the lock; it holds it again when wait() returns
    /// or throws. A notification is delivered to waiters in FIFO order.
    ///
    /// Cancellation: throws cancelled_error, but only once the task holds the lock again (as in
    /// asyncio, where wait() reacquires the lock and then raises), so the cancellation may have
    /// to wait for the lock. A task that had been notified before the cancellation arrived
    /// passes its notification on to the next waiter first (asyncio 3.13), so no notify() is
    /// lost. A cancellation pending when wait() is called throws at once, without releasing the
    /// lock.
    /// Errors: std::runtime_error if the lock is not locked; std::logic_error outside a task run
    /// by a loop.
    [[nodiscard]] detail::condition_waiter wait() noexcept;

    /// `co_await c.wait_for(pred)` waits until `pred()` is true (asyncio's wait_for): evaluates
    /// it, and while it is false, wait()s and evaluates it again. Returns its last value. The
    /// caller must hold the lock, under which `pred` always runs.
    ///
    /// It is a task, so it allocates one frame (from the frame pool). With g++ 12, name a
    /// predicate with a non-trivial destructor before the co_await (see DESIGN.md).
    ///
    /// Cancellation and errors: as wait(); also whatever `pred` throws.
    template <typename Pred>
    task<std::decay_t<std::invoke_result_t<Pred&>>> wait_for(Pred pred);

    /// Wakes up to `n` tasks waiting on the condition, oldest first (asyncio's notify). Each of
    /// them returns from wait() once it holds the lock again, after the caller releases it.
    /// Errors: std::runtime_error if the lock is not locked.
    void notify(std::size_t n = 1) {
        if (!m_lock->locked()) [[unlikely]]
            throw_not_locked("notify");
        notify_locked(n);
    }

    /// Wakes every task waiting on the condition (asyncio's notify_all).
    /// Errors: std::runtime_error if the lock is not locked.
    void notify_all() { notify(m_waiters.size()); }

  private:
    friend class detail::condition_waiter;

    /// Moves up to `n` waiters, oldest first, to the back of the lock's queue: they wake once
    /// the lock is handed to them. Precondition: the lock is locked, so none can take it now.
    void notify_locked(std::size_t n) noexcept;
    [[noreturn]] static void throw_not_locked(const char* what);

    corio::lock m_own_lock;
    /// The lock: &m_own_lock or the one given to the constructor.
    corio::lock* m_lock;
    /// Tasks waiting for a notification, oldest first (condition_waiters only).
    detail::waiter_queue m_waiters;
};

namespace detail {

/// The awaiter of condition::wait(): a sync_waiter in the awaiting frame that travels from the
/// condition's queue to the lock's, so a wait never allocates.
///
/// Phases: waiting (in the condition's queue, the lock released), reacquiring (in the lock's
/// queue, after a notification or a cancellation), then granted (holds the lock, woken).
class condition_waiter : sync_waiter {
  public:
    explicit condition_waiter(condition& c) noexcept : m_cond(c) { m_kind = &s_wait_kind; }
    condition_waiter(const condition_waiter&) = delete;
    condition_waiter& operator=(const condition_waiter&) = delete;
    /// A frame destroyed while it waits (a loop torn down with pending tasks) leaves its queue.
    ~condition_waiter() {
        if (m_phase == phase::waiting)
            m_cond.m_waiters.remove(*this);
        else if (m_phase == phase::reacquiring)
            m_cond.m_lock->m_waiters.remove(*this);
    }

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
        m_task = &this_task("condition");
        lock& l = *m_cond.m_lock;
        if (!l.m_locked) [[unlikely]]
            condition::throw_not_locked("wait");
        if (m_task->m_must_cancel)
            return false; // throws in await_resume, the lock still held
        m_cond.m_waiters.push_back(*this);
        m_phase = phase::waiting;
        m_task->suspend(*this, h);
        l.give_back();
        return true;
    }
    /// The task holds the lock here, on every path.
    void await_resume() {
        m_phase = phase::idle;
        if (m_task->m_must_cancel) [[unlikely]] {
            if (m_notified)
                m_cond.notify_locked(1);
            m_task->deliver_cancel();
        }
    }

  private:
    friend class corio::condition;

    enum class phase : std::uint8_t { idle, waiting, reacquiring };

    /// While waiting: leave the condition's queue and reacquire the lock, taking it at once if
    /// it is free (its queue is then empty) or queueing for it. While reacquiring: stay queued.
    /// Either way the task throws cancelled_error once it holds the lock.
    static void on_cancel(wait_node* w, task_header& t) noexcept {
        auto* self = static_cast<condition_waiter*>(static_cast<sync_waiter*>(w));
        t.m_must_cancel = true;
        if (self->m_phase != phase::waiting)
            return;
        self->m_cond.m_waiters.remove(*self);
        lock& l = *self->m_cond.m_lock;
        if (l.m_locked) {
            l.m_waiters.push_back(*self);
            self->m_phase = phase::reacquiring;
        } else {
            l.m_locked = true;
            self->m_granted = true;
            self->m_phase = phase::idle;
            t.wake();
        }
    }
    static constexpr wait_kind s_wait_kind{&on_cancel, "condition"};

    condition& m_cond;
    phase m_phase = phase::idle;
    /// Set by notify: a cancelled waiter passes the notification on.
    bool m_notified = false;
};

} // namespace detail

inline detail::condition_waiter condition::wait() noexcept {
    return detail::condition_waiter(*this);
}

template <typename Pred>
task<std::decay_t<std::invoke_result_t<Pred&>>> condition::wait_for(Pred pred) {
    std::decay_t<std::invoke_result_t<Pred&>> result = pred();
    while (!result) {
        co_await wait();
        result = pred();
    }
    co_return result;
}

inline void condition::notify_locked(std::size_t n) noexcept {
    assert(m_lock->m_locked);
    for (; n > 0; --n) {
        detail::sync_waiter* w = m_waiters.pop_front();
        if (!w)
            break;
        auto* cw = static_cast<detail::condition_waiter*>(w);
        cw->m_notified = true;
        cw->m_phase = detail::condition_waiter::phase::reacquiring;
        m_lock->m_waiters.push_back(*w);
    }
}

} // namespace corio
