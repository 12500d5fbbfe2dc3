#pragma once

#include "corio/sync/detail/grant_waiter.hpp"
#include "corio/sync/detail/waiter_queue.hpp"

#include <cassert>

namespace corio {

class condition;
class lock;

namespace detail {
/// The awaiter of lock::acquire().
using lock_waiter = grant_waiter<lock>;
/// The awaiter of `co_await l` and lock::scoped().
using lock_scoped_awaiter = grant_scoped_awaiter<lock>;
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
        give_back();
    }

  private:
    friend class detail::grant_waiter<lock>;
    friend class detail::grant_guard<lock>;
    friend class detail::condition_waiter;
    friend class condition;

    static constexpr const char* s_wait_what = "lock";

    /// Takes the lock if it is free (it then has no waiters).
    bool try_take() noexcept {
        if (m_locked)
            return false;
        m_locked = true;
        return true;
    }
    /// Grants the lock to the oldest waiter (it stays locked, and the waiter is woken), or
    /// unlocks it. Precondition: locked.
    void give_back() noexcept {
        assert(m_locked);
        if (!m_waiters.grant_front())
            m_locked = false;
    }
    [[noreturn]] static void throw_not_locked();
    [[noreturn]] static void throw_empty_guard();

    /// Tasks waiting for the lock, oldest first: lock waiters, and condition waiters that are
    /// reacquiring it. Invariant: not empty only while m_locked (a free lock has no waiters).
    detail::waiter_queue m_waiters;
    bool m_locked = false;
};

/// Holds a lock taken by `co_await l` and releases it when destroyed (a scoped lock). Move-only;
/// a moved-from or released guard holds nothing. While a guard holds the lock, release it
/// through the guard, not with lock::release(): the guard would release it a second time.
///
/// From detail::grant_guard: move construction and assignment, `explicit operator bool()` (same
/// as owns_lock()), and `release()`, which releases the lock early (the oldest waiter gets it)
/// and throws std::logic_error if the guard holds nothing. The destructor releases the lock if
/// the guard still holds it.
class [[nodiscard]] lock::guard : public detail::grant_guard<lock> {
  public:
    /// An empty guard that holds nothing.
    guard() noexcept = default;

    /// True while the guard holds its lock.
    [[nodiscard]] bool owns_lock() const noexcept { return static_cast<bool>(*this); }

  private:
    friend class detail::grant_scoped_awaiter<lock>;
    explicit guard(lock& l) noexcept : grant_guard(l) {}
};

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
