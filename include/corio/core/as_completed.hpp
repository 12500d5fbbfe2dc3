#pragma once

#include "corio/core/detail/child_watch.hpp"
#include "corio/core/detail/timer_queue.hpp"
#include "corio/core/scheduler.hpp"
#include "corio/core/task_handle.hpp"
#include "corio/core/timeout_error.hpp"

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace corio {

/// Yields tasks in the order they finish (asyncio's as_completed). Built by as_completed().
///
/// Example:
/// @code
/// auto ac = corio::as_completed(std::move(handles));
/// while (ac.remaining() > 0) {
///     corio::task_handle<int> first = co_await ac.next();
///     int v = co_await first; // done: does not suspend
/// }
/// @endcode
template <typename H>
class as_completed_set final : detail::child_watch, detail::wait_node, detail::timer_node {
  public:
    as_completed_set(std::vector<H> handles, std::optional<scheduler::time_point> deadline)
        : child_watch(handles.size()), m_handles(std::move(handles)), m_deadline(deadline) {
        m_kind = &s_wait_kind;
        m_fire = &on_timeout;
        m_order.reserve(m_handles.size());
        for (std::size_t i = 0; i < m_handles.size(); ++i)
            watch(i, *m_handles[i].get());
    }
    as_completed_set(as_completed_set&&) = delete;
    ~as_completed_set() override { disarm(); }

    /// How many tasks next() has not returned yet.
    [[nodiscard]] std::size_t remaining() const noexcept { return m_handles.size() - m_next; }

    /// Awaits the next task to finish and returns its handle (done: awaiting it does not
    /// suspend). Tasks that finished before are returned first, in finishing order.
    ///
    /// Cancellation: throws cancelled_error; the tasks go on running and the set stays usable.
    /// Errors: timeout_error once the deadline given to as_completed has passed;
    /// std::out_of_range when every task has been returned.
    auto next() {
        struct awaiter {
            as_completed_set& s;
            bool await_ready() {
                if (s.remaining() == 0)
                    throw std::out_of_range("corio::as_completed: no task left");
                return s.m_next < s.m_order.size();
            }
            bool await_suspend(std::coroutine_handle<> h) {
                s.m_waiter = &detail::this_task("as_completed");
                if (s.m_waiter->m_must_cancel)
                    return false;
                if (s.m_deadline && !s.armed()) {
                    s.m_sched = s.m_waiter->m_sched;
                    s.m_sched->arm_timer(s, *s.m_deadline);
                }
                s.m_waiter->suspend(s, h);
                return true;
            }
            H await_resume() {
                detail::task_header* w = std::exchange(s.m_waiter, nullptr);
                s.disarm();
                if (w)
                    w->throw_if_cancelled();
                if (s.m_next < s.m_order.size())
                    return s.m_handles[s.m_order[s.m_next++]];
                throw timeout_error("corio::as_completed: timed out");
            }
        };
        return awaiter{*this};
    }

  private:
    void disarm() noexcept {
        if (armed())
            m_sched->cancel_timer(*this);
    }
    void on_child_done(std::size_t i, detail::task_header&) override {
        m_order.push_back(i);
        if (m_waiter && m_waiter->m_state == detail::task_state::suspended) {
            disarm();
            m_waiter->wake();
        }
    }
    static void on_timeout(detail::timer_node* n) noexcept {
        auto* self = static_cast<as_completed_set*>(n);
        self->m_waiter->wake();
    }
    static void on_cancel(detail::wait_node* w, detail::task_header& waiter) {
        auto* self = static_cast<as_completed_set*>(w);
        self->disarm();
        waiter.m_must_cancel = true;
        waiter.wake();
    }

    std::vector<H> m_handles;
    std::vector<std::size_t> m_order; // indices of finished tasks, in finishing order
    std::size_t m_next = 0;           // m_order[m_next] is the next to hand out
    std::optional<scheduler::time_point> m_deadline;
    detail::task_header* m_waiter = nullptr;
    scheduler* m_sched = nullptr; // set when the deadline timer is armed
    static constexpr detail::wait_kind s_wait_kind{&on_cancel, "as_completed"};
};

/// Returns a set whose next() yields the given tasks as they finish (asyncio's as_completed).
/// `handles` are task_handle<T> or task_ref. With a timeout, next() throws timeout_error once
/// it has passed (measured from this call); the tasks are not cancelled.
///
/// Errors: std::logic_error outside a running loop when a timeout is given.
template <typename H>
as_completed_set<H> as_completed(std::vector<H> handles,
                                 std::optional<scheduler::duration> timeout = std::nullopt) {
    std::optional<scheduler::time_point> deadline;
    if (timeout) {
        scheduler* s = scheduler::current();
        if (!s)
            throw std::logic_error("corio::as_completed: no running event loop");
        deadline = s->time() + *timeout;
    }
    return as_completed_set<H>(std::move(handles), deadline);
}

} // namespace corio
