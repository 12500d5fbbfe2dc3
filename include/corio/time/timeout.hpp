#pragma once

#include "corio/core/cancelled_error.hpp"
#include "corio/core/detail/child_watch.hpp"
#include "corio/core/detail/task_header.hpp"
#include "corio/core/detail/timer_queue.hpp"
#include "corio/core/scheduler.hpp"
#include "corio/core/task.hpp"
#include "corio/core/task_handle.hpp"
#include "corio/core/timeout_error.hpp"

#include <chrono>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace corio {

namespace detail {

/// The timer of a timeout scope. When it fires, it cancels the task the scope runs in; the scope
/// then turns the resulting cancelled_error into timeout_error if, after withdrawing its own
/// request, no other cancellation is pending (asyncio 3.12's rule, via cancelling()/uncancel()).
class timeout_guard : timer_node {
  public:
    timeout_guard(task_header& t, scheduler::time_point deadline)
        : m_task(t), m_cancelling_before(t.m_cancel_requests) {
        m_fire = &on_fire;
        t.m_sched->arm_timer(*this, deadline);
    }
    timeout_guard(const timeout_guard&) = delete;
    timeout_guard& operator=(const timeout_guard&) = delete;
    ~timeout_guard() { disarm(); }

    void disarm() noexcept {
        if (armed())
            m_task.m_sched->cancel_timer(*this);
    }
    /// The body finished normally: withdraw a request the expiry made but that was never
    /// delivered.
    void finish_normally() noexcept {
        disarm();
        if (m_expired)
            m_task.uncancel();
    }
    /// The body ended with cancelled_error: true if the expiry caused it.
    bool caused_cancellation() noexcept {
        disarm();
        return m_expired && m_task.uncancel() <= m_cancelling_before;
    }

  private:
    static void on_fire(timer_node* n) noexcept {
        auto* self = static_cast<timeout_guard*>(n);
        self->m_expired = true;
        self->m_task.cancel();
    }

    task_header& m_task;
    std::uint32_t m_cancelling_before;
    bool m_expired = false;
};

} // namespace detail

/// Runs `body` (a task<T> or a task_handle<T>) in the current task, and cancels it if it has not
/// finished by `deadline` on the loop's clock (asyncio 3.12's timeout_at).
///
/// Cancellation: the expiry cancels the current task; the cancelled_error that results is
/// turned into timeout_error. A cancellation from elsewhere (or one that arrives while the task
/// is already handling one, counted by cancelling()) propagates as cancelled_error. A
/// task_handle body is cancelled and awaited, as awaiting a handle does.
///
/// Errors: timeout_error on expiry; whatever `body` throws; std::logic_error outside a task.
template <typename A>
task<detail::awaited_t<A>> timeout_at(scheduler::time_point deadline, A body) {
    using T = detail::awaited_t<A>;
    detail::timeout_guard guard(detail::this_task("timeout"), deadline);
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(body);
            guard.finish_normally();
        } else if constexpr (detail::is_task_handle_v<A>) {
            // Awaited as an lvalue, which waits without taking the result: the caller may still
            // hold the handle and read the result from it too.
            co_await body;
            guard.finish_normally();
            co_return detail::take_handle_result(body);
        } else {
            T result = co_await std::move(body);
            guard.finish_normally();
            co_return std::forward<T>(result);
        }
    } catch (const cancelled_error&) {
        if (guard.caused_cancellation())
            throw timeout_error();
        throw;
    }
}

/// timeout_at(now + delay, body): see timeout_at.
///
/// Example: `int v = co_await corio::timeout(std::chrono::seconds(5), fetch());`
template <typename A, typename Rep, typename Period>
task<detail::awaited_t<A>> timeout(std::chrono::duration<Rep, Period> delay, A body) {
    scheduler& s = *detail::this_task("timeout").m_sched;
    return timeout_at(s.time() + std::chrono::ceil<scheduler::duration>(delay), std::move(body));
}

/// Awaits `body` for at most `delay` (asyncio 3.12's wait_for, which is timeout()).
///
/// Errors: timeout_error, after `body` has been cancelled and has finished.
/// Cancellation: as timeout().
template <typename A, typename Rep, typename Period>
task<detail::awaited_t<A>> wait_for(A body, std::chrono::duration<Rep, Period> delay) {
    return timeout(delay, std::move(body));
}

} // namespace corio
