#pragma once

#include "corio/core/detail/task_header.hpp"
#include "corio/core/detail/timer_queue.hpp"
#include "corio/core/scheduler.hpp"

#include <chrono>
#include <coroutine>

namespace corio {

namespace detail {

/// The awaiter behind sleep and sleep_until: a timer node and a wait node in the awaiting frame,
/// so a sleep allocates nothing. A deadline that has already passed (sleep(0)) does not arm a
/// timer: the task goes straight to the back of the ready queue, letting the others run.
class sleep_awaiter : timer_node, wait_node {
  public:
    explicit sleep_awaiter(scheduler::time_point deadline) noexcept : m_deadline(deadline) {
        m_fire = &on_fire;
        m_kind = &s_wait_kind;
    }
    sleep_awaiter(const sleep_awaiter&) = delete;
    sleep_awaiter& operator=(const sleep_awaiter&) = delete;
    ~sleep_awaiter() {
        if (armed())
            m_task->m_sched->cancel_timer(*this);
    }

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
        m_task = &this_task("sleep");
        if (m_task->m_must_cancel)
            return false;
        // A past deadline other than the yield marker still goes through the timer heap: it
        // fires at the end of this iteration, which is as soon as a yield would run anyway.
        if (m_deadline != scheduler::time_point::min())
            m_task->m_sched->arm_timer(*this, m_deadline);
        m_task->suspend(*this, h);
        if (!armed())
            m_task->wake();
        return true;
    }
    void await_resume() { m_task->throw_if_cancelled(); }

  private:
    static void on_fire(timer_node* n) noexcept { static_cast<sleep_awaiter*>(n)->m_task->wake(); }
    static void on_cancel(wait_node* w, task_header& t) noexcept {
        auto* self = static_cast<sleep_awaiter*>(w);
        if (self->armed())
            t.m_sched->cancel_timer(*self);
        t.m_must_cancel = true;
        t.wake();
    }

    scheduler::time_point m_deadline;
    task_header* m_task = nullptr;
    static constexpr wait_kind s_wait_kind{&on_cancel, "sleep"};
};

} // namespace detail

/// Suspends the calling task until `deadline` on the loop's clock (asyncio's sleep, by deadline).
/// A deadline in the past still yields to the other ready tasks once.
///
/// Cancellation: throws cancelled_error; the timer is disarmed at once. Nothing is lost.
/// Errors: std::logic_error outside a task; std::bad_alloc when the timer heap must grow.
inline detail::sleep_awaiter sleep_until(scheduler::time_point deadline) noexcept {
    return detail::sleep_awaiter(deadline);
}

/// Suspends the calling task for `delay` (asyncio's sleep). `sleep(0s)` yields: the task goes to
/// the back of the ready queue so that every other ready task runs first.
///
/// Cancellation: throws cancelled_error; the timer is disarmed at once. Nothing is lost.
/// Errors: std::logic_error outside a task run by a loop; std::bad_alloc when the timer heap
/// must grow.
///
/// Example: `co_await corio::sleep(std::chrono::milliseconds(10));`
template <typename Rep, typename Period>
detail::sleep_awaiter sleep(std::chrono::duration<Rep, Period> delay) {
    scheduler* s = scheduler::current();
    if (!s)
        return detail::sleep_awaiter(scheduler::time_point::min()); // fails in await_suspend
    if (delay <= delay.zero())
        return detail::sleep_awaiter(scheduler::time_point::min());
    return detail::sleep_awaiter(s->time() + std::chrono::ceil<scheduler::duration>(delay));
}

} // namespace corio
