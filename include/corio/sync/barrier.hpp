#pragma once

#include "corio/core/detail/task_header.hpp"
#include "corio/sync/broken_barrier_error.hpp"
#include "corio/sync/detail/waiter_queue.hpp"

#include <coroutine>
#include <cstddef>
#include <cstdint>

namespace corio {

/// A barrier for a fixed number of tasks of one event loop (asyncio 3.11's Barrier): each task
/// that calls wait() waits until `parties` tasks have; the last to arrive releases them all, and
/// the barrier is then ready for the next cycle.
///
/// States, as asyncio's: *filling* while tasks arrive; *draining* once a cycle has filled, until
/// every released task has resumed (tasks arriving meanwhile wait for the next cycle);
/// *resetting* after reset() while waiting tasks leave with broken_barrier_error; *broken* after
/// abort(), until reset().
///
/// Not thread-safe: use it from the tasks of one loop. The barrier must outlive every task that
/// waits on it.
///
/// Example:
/// ```
/// corio::barrier b(3);
/// // in each of three tasks:
/// std::size_t index = co_await b.wait(); // 0, 1 or 2: the order of arrival
/// ```
class barrier {
  public:
    class wait_awaiter;

    /// A barrier for `parties` tasks.
    ///
    /// Errors: std::invalid_argument if parties is 0.
    explicit barrier(std::size_t parties);
    barrier(const barrier&) = delete;
    barrier& operator=(const barrier&) = delete;
    /// Precondition: no task waits on the barrier.
    ~barrier() = default;

    /// Waits until `parties()` tasks have called wait() in this cycle, and returns this task's
    /// arrival index: 0 for the first, parties() - 1 for the last, which returns without
    /// suspending and releases the others. While the barrier is draining or resetting, the
    /// call first waits for the next cycle; tasks let in at that point count as arriving then,
    /// in the order they called wait().
    ///
    /// Cancellation: throws cancelled_error. A task cancelled while the barrier fills leaves it,
    /// and the count goes down (as in asyncio, a later arrival may then get the same index as
    /// a task still waiting). A task released and cancelled before it resumed throws
    /// cancelled_error; the others are released all the same.
    /// Errors: broken_barrier_error if the barrier is broken (abort()) or gets broken or reset
    /// while the task waits (also, as in asyncio, when that happens after the task was released
    /// but before it resumed); std::logic_error outside a task.
    [[nodiscard]] wait_awaiter wait() noexcept;

    /// Returns the barrier to the empty, filling state (asyncio's `reset`, which never blocks).
    /// Tasks waiting in the barrier wake with broken_barrier_error; until they have all left,
    /// the barrier is resetting and new arrivals wait for the next cycle.
    void reset() noexcept;

    /// Breaks the barrier (asyncio's `abort`): the tasks waiting in it, and every later call to
    /// wait() until reset(), throw broken_barrier_error. Useful when one party fails.
    void abort() noexcept;

    /// The number of tasks needed to pass the barrier.
    [[nodiscard]] std::size_t parties() const noexcept { return m_parties; }
    /// The number of tasks waiting while the barrier fills (0 while it drains or is broken).
    [[nodiscard]] std::size_t n_waiting() const noexcept {
        return m_state == state::filling ? m_count : 0;
    }
    /// True if the barrier is broken (abort() and no reset() since).
    [[nodiscard]] bool broken() const noexcept { return m_state == state::broken; }

    /// The awaiter of wait(). Its state lives in the awaiting frame: a wait allocates nothing.
    class wait_awaiter : detail::sync_waiter {
      public:
        explicit wait_awaiter(barrier& b) noexcept : m_barrier(b) { m_kind = &s_wait_kind; }
        wait_awaiter(const wait_awaiter&) = delete;
        wait_awaiter& operator=(const wait_awaiter&) = delete;
        ~wait_awaiter();

        bool await_ready() const noexcept { return false; }
        bool await_suspend(std::coroutine_handle<> h);
        std::size_t await_resume();

      private:
        friend class barrier;

        enum class phase : std::uint8_t {
            idle,    ///< Not started.
            passed,  ///< Filled the cycle: returns its index without suspending.
            failed,  ///< Did not suspend, or withdrawn by a cancellation: throws on resume.
            blocked, ///< Parked in m_blocked until the barrier fills again.
            inside,  ///< Arrived (counted, or parked in m_waiters); m_index is set.
        };

        static void on_cancel(detail::wait_node* w, detail::task_header& t) noexcept;
        /// Takes this task's arrival out of the count, if it is still in it.
        void leave() noexcept;

        static constexpr detail::wait_kind s_wait_kind{&on_cancel, "barrier"};

        barrier& m_barrier;
        std::size_t m_index = 0;
        phase m_phase = phase::idle;
        /// True while this task's arrival is counted in m_count.
        bool m_counted = false;
        /// For phase::failed: throw broken_barrier_error (else cancelled_error).
        bool m_broken = false;
    };

  private:
    enum class state : std::uint8_t { filling, draining, resetting, broken };

    /// The cycle is full: wake every waiting task and start draining.
    void release() noexcept;
    /// asyncio's _exit: once the last task of a draining or resetting cycle has left, the barrier
    /// fills again and lets in the tasks that arrived meanwhile.
    void exit() noexcept;
    /// Lets tasks parked in m_blocked arrive, in order, until a cycle fills.
    void admit_blocked() noexcept;

    std::size_t m_parties;
    /// Tasks inside the barrier (asyncio's _count): arrived and waiting while filling; released
    /// or woken by reset/abort and not yet resumed otherwise.
    std::size_t m_count = 0;
    state m_state = state::filling;
    /// Tasks parked while the barrier fills, in arrival order. Non-empty only when filling.
    detail::waiter_queue m_waiters;
    /// Tasks that arrived while the barrier drained or reset. Non-empty only in those states.
    detail::waiter_queue m_blocked;
};

inline barrier::wait_awaiter barrier::wait() noexcept {
    return wait_awaiter(*this);
}

} // namespace corio
