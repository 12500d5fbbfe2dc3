#pragma once

#include "corio/sync/detail/grant_waiter.hpp"
#include "corio/sync/detail/waiter_queue.hpp"

#include <cstddef>
#include <limits>

namespace corio {

class semaphore;

namespace detail {
/// The awaiter of semaphore::acquire().
using semaphore_waiter = grant_waiter<semaphore>;
/// The awaiter of `co_await s` and semaphore::scoped().
using semaphore_scoped_awaiter = grant_scoped_awaiter<semaphore>;
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
    friend class detail::grant_waiter<semaphore>;
    friend class detail::grant_guard<semaphore>;

    static constexpr const char* s_wait_what = "semaphore";

    /// Takes a unit if one is free (there are then no waiters).
    bool try_take() noexcept {
        if (m_value <= 0)
            return false;
        --m_value;
        return true;
    }
    /// Hands a unit to the oldest waiter (woken), or adds it to the counter.
    void give_back() noexcept {
        if (!m_waiters.grant_front())
            ++m_value;
    }
    [[noreturn]] static void throw_negative();
    [[noreturn]] void throw_released_too_often() const;
    [[noreturn]] static void throw_empty_guard();

    /// Tasks waiting for a unit, oldest first. Invariant: not empty only while m_value == 0.
    detail::waiter_queue m_waiters;
    /// Units available. Invariant: 0 <= m_value <= m_bound.
    std::ptrdiff_t m_value;
    /// The largest value release() may reach: the initial value of a bounded_semaphore.
    std::ptrdiff_t m_bound;
};

/// Holds a unit taken by `co_await s` and gives it back when destroyed. Move-only; a moved-from
/// or released guard holds nothing.
///
/// From detail::grant_guard: move construction and assignment, `explicit operator bool()` (same
/// as owns_unit()), and `release()`, which gives the unit back early (the oldest waiter gets it)
/// and throws std::logic_error if the guard holds nothing. The destructor gives the unit back if
/// the guard still holds it.
class [[nodiscard]] semaphore::guard : public detail::grant_guard<semaphore> {
  public:
    /// An empty guard that holds nothing.
    guard() noexcept = default;

    /// True while the guard holds a unit.
    [[nodiscard]] bool owns_unit() const noexcept { return static_cast<bool>(*this); }

  private:
    friend class detail::grant_scoped_awaiter<semaphore>;
    explicit guard(semaphore& s) noexcept : grant_guard(s) {}
};

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
