#pragma once

#include "corio/core/detail/task_header.hpp"
#include "corio/sync/detail/waiter_queue.hpp"

#include <cassert>
#include <coroutine>
#include <utility>

namespace corio {

class condition;

namespace detail {
class lock_waiter;
class lock_scoped_awaiter;
class condition_waiter;
} // namespace detail

/// A mutual-exclusion lock for tasks of one loop (asyncio's Lock). It is not tied to an owner:
/// any task may release it, as in asyncio.
///
/// Fairness: the lock is granted in FIFO order. release() hands it directly to the oldest waiter
/// (the lock stays locked in between), so a task that arrives later never barges past a waiter
/// that is already queued.
///
/// Two ways to use it:
/// - scoped, which is the safe default: `auto g = co_await l;` (or `co_await l.scoped()`) gives
///   a lock::guard that releases the lock when it goes out of scope, so an exception can never
///   leave the lock held;
/// - manual, as in asyncio: `co_await l.acquire();` ... `l.release();`.
///
/// The lock must outlive every task waiting on it. It belongs to the thread of its loop.
///
/// Example:
/// ```
/// corio::lock l;
/// corio::task<> update(corio::lock& l, state& s) {
///     auto g = co_await l;
///     co_await s.write(); // other tasks that want the lock wait here
/// }                       // released, even if write() threw
/// ```
class lock {
  public:
    class guard;

    lock() noexcept = default;
    lock(const lock&) = delete;
    lock& operator=(const lock&) = delete;
    /// Precondition: no task waits on the lock.
    ~lock() = default;

    /// True while some task holds the lock (or it is being handed to a waiter).
    [[nodiscard]] bool locked() const noexcept { return m_locked; }

    /// `co_await l.acquire()` waits until the calling task holds the lock (asyncio's acquire).
    /// When the lock is free and nobody waits, it is taken at once without suspending.
    /// The caller must release() it later: prefer the guard of `co_await l`.
    ///
    /// Cancellation: throws cancelled_error, and the task does not hold the lock. A task that
    /// was cancelled after the lock had been handed to it, but before it resumed, passes the
    /// lock on to the next waiter (or unlocks it) first, so no wake-up is lost. A cancellation
    /// that is pending when the lock is free is not delivered here (this is no suspension point,
    /// as in asyncio).
    /// Errors: std::logic_error outside a task run by a loop.
    [[nodiscard]] detail::lock_waiter acquire() noexcept;

    /// `auto g = co_await l.scoped()` acquires the lock like acquire() and returns a guard that
    /// releases it when destroyed. Same as `co_await l`.
    ///
    /// Cancellation and errors: as acquire(); when it throws, nothing is held.
    [[nodiscard]] detail::lock_scoped_awaiter scoped() noexcept;

    /// `auto g = co_await l` is scoped(): the RAII form (asyncio's `async with lock`).
    [[nodiscard]] detail::lock_scoped_awaiter operator co_await() noexcept;

    /// Releases the lock (asyncio's release): hands it to the oldest waiter, or unlocks it if
    /// nobody waits. Never suspends.
    ///
    /// Errors: std::runtime_error if the lock is not locked.
    void release() {
        if (!m_locked) [[unlikely]]
            throw_not_locked();
        unlock_or_hand_off();
    }

  private:
    friend class detail::lock_waiter;
    friend class detail::condition_waiter;
    friend class condition;

    /// Grants the lock to the oldest waiter (which stays locked, and is woken), or unlocks it.
    /// Precondition: locked.
    void unlock_or_hand_off() noexcept {
        assert(m_locked);
        if (detail::sync_waiter* w = m_waiters.pop_front()) {
            w->m_granted = true;
            w->m_task->wake();
        } else {
            m_locked = false;
        }
    }
    [[noreturn]] static void throw_not_locked();

    /// Tasks waiting for the lock, oldest first: lock waiters, and condition waiters that are
    /// reacquiring it. Invariant: not empty only while m_locked (a free lock has no waiters).
    detail::waiter_queue m_waiters;
    bool m_locked = false;
};

/// Holds a lock taken by `co_await l` and releases it when destroyed (a scoped lock). Move-only;
/// a moved-from or released guard holds nothing. While a guard holds the lock, release it
/// through the guard, not with lock::release(): the guard would release it a second time.
class [[nodiscard]] lock::guard {
  public:
    /// An empty guard that holds nothing.
    guard() noexcept = default;
    guard(guard&& o) noexcept : m_lock(std::exchange(o.m_lock, nullptr)) {}
    guard& operator=(guard&& o) noexcept {
        if (this != &o) {
            reset();
            m_lock = std::exchange(o.m_lock, nullptr);
        }
        return *this;
    }
    guard(const guard&) = delete;
    guard& operator=(const guard&) = delete;
    /// Releases the lock if the guard still holds it: the oldest waiter gets it.
    ~guard() { reset(); }

    /// True while the guard holds its lock.
    [[nodiscard]] bool owns_lock() const noexcept { return m_lock != nullptr; }
    [[nodiscard]] explicit operator bool() const noexcept { return owns_lock(); }

    /// Releases the lock early; the guard then holds nothing.
    /// Errors: std::logic_error if the guard holds nothing.
    void release();

  private:
    friend class detail::lock_scoped_awaiter;
    explicit guard(lock& l) noexcept : m_lock(&l) {}

    void reset() noexcept {
        if (lock* l = std::exchange(m_lock, nullptr))
            l->unlock_or_hand_off();
    }

    lock* m_lock = nullptr;
};

namespace detail {

/// The awaiter of lock::acquire(): a sync_waiter in the awaiting frame, so waiting for a lock
/// never allocates.
class lock_waiter : protected sync_waiter {
  public:
    explicit lock_waiter(lock& l) noexcept : m_lock(l) { m_kind = &s_wait_kind; }
    lock_waiter(const lock_waiter&) = delete;
    lock_waiter& operator=(const lock_waiter&) = delete;
    /// A frame destroyed while it waits (a loop torn down with pending tasks) leaves the queue.
    ~lock_waiter() { m_lock.m_waiters.remove(*this); }

    /// The fast path: a free lock (which then has no waiters) is taken without suspending.
    /// m_task stays null on this path: it marks an acquisition that did not suspend.
    bool await_ready() {
        task_header& t = this_task("lock");
        if (!m_lock.m_locked) {
            m_lock.m_locked = true;
            return true;
        }
        m_task = &t;
        return false;
    }
    bool await_suspend(std::coroutine_handle<> h) noexcept {
        if (m_task->m_must_cancel)
            return false; // a pending cancellation throws here, before queueing
        m_lock.m_waiters.push_back(*this);
        m_task->suspend(*this, h);
        return true;
    }
    void await_resume() { finish(); }

  protected:
    /// Throws cancelled_error if the task was cancelled while it waited, after passing on a lock
    /// that had been handed to it.
    void finish() {
        if (m_task && m_task->m_must_cancel) [[unlikely]] {
            if (std::exchange(m_granted, false))
                m_lock.unlock_or_hand_off();
            m_task->deliver_cancel();
        }
    }

    lock& m_lock;

  private:
    /// Called only while the waiter is queued: once it has been granted the lock its task is
    /// scheduled, and a cancel() then only sets m_must_cancel, which finish() handles.
    static void on_cancel(wait_node* w, task_header& t) noexcept {
        auto* self = static_cast<lock_waiter*>(static_cast<sync_waiter*>(w));
        assert(self->m_linked);
        self->m_lock.m_waiters.remove(*self);
        t.m_must_cancel = true;
        t.wake();
    }
    static constexpr wait_kind s_wait_kind{&on_cancel, "lock"};
};

/// The awaiter of `co_await l` and lock::scoped(): acquire(), then a guard.
class lock_scoped_awaiter : public lock_waiter {
  public:
    using lock_waiter::lock_waiter;
    [[nodiscard]] lock::guard await_resume() {
        finish();
        return lock::guard(m_lock);
    }
};

} // namespace detail

inline detail::lock_waiter lock::acquire() noexcept {
    return detail::lock_waiter(*this);
}
inline detail::lock_scoped_awaiter lock::scoped() noexcept {
    return detail::lock_scoped_awaiter(*this);
}
inline detail::lock_scoped_awaiter lock::operator co_await() noexcept {
    return detail::lock_scoped_awaiter(*this);
}

} // namespace corio
