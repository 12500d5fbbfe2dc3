#pragma once

#include "corio/core/detail/child_watch.hpp"
#include "corio/core/detail/timer_queue.hpp"
#include "corio/core/scheduler.hpp"
#include "corio/core/task.hpp"
#include "corio/core/task_handle.hpp"

#include <cstddef>
#include <optional>
#include <vector>

namespace corio {

/// When wait() returns (asyncio's FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED).
enum class return_when {
    first_completed, ///< as soon as any task finishes or is cancelled
    first_exception, ///< as soon as any task ends with an exception (not a cancellation), or
                     ///< all have finished
    all_completed,   ///< when all have finished
};

/// The two sets wait() returns, in the order the tasks were given.
template <typename H>
struct wait_result {
    std::vector<H> done;
    std::vector<H> pending;
};

namespace detail {

/// Parks the awaiting task until the return_when condition holds or the timeout passes.
class wait_waiter final : child_watch, wait_node, timer_node {
  public:
    wait_waiter(std::vector<task_header*> tasks, return_when when,
                std::optional<scheduler::time_point> deadline)
        : child_watch(tasks.size()), m_tasks(std::move(tasks)), m_when(when), m_deadline(deadline) {
        m_kind = &s_wait_kind;
        m_fire = &on_timeout;
    }
    ~wait_waiter() override {
        if (armed())
            m_waiter->m_sched->cancel_timer(*this);
    }

    bool await_ready() {
        for (std::size_t i = 0; i < m_tasks.size(); ++i)
            watch(i, *m_tasks[i]);
        return m_satisfied || m_tasks.empty();
    }
    bool await_suspend(std::coroutine_handle<> h) {
        m_waiter = &this_task("wait");
        if (m_waiter->m_must_cancel)
            return false;
        if (m_deadline)
            m_waiter->m_sched->arm_timer(*this, *m_deadline);
        m_waiter->suspend(*this, h);
        return true;
    }
    void await_resume() {
        unwatch_all();
        if (m_waiter)
            m_waiter->throw_if_cancelled();
    }

  private:
    void on_child_done(std::size_t, task_header& t) override {
        ++m_done;
        const bool all = m_done == m_tasks.size();
        const bool hit =
            all || m_when == return_when::first_completed ||
            (m_when == return_when::first_exception && t.m_exception && !t.m_cancelled);
        if (!hit || m_satisfied)
            return;
        m_satisfied = true;
        if (m_waiter && m_waiter->m_state == task_state::suspended) {
            if (armed())
                m_waiter->m_sched->cancel_timer(*this);
            m_waiter->wake();
        }
    }
    static void on_timeout(timer_node* n) noexcept {
        auto* self = static_cast<wait_waiter*>(n);
        self->m_satisfied = true;
        self->m_waiter->wake();
    }
    static void on_cancel(wait_node* w, task_header& waiter) {
        auto* self = static_cast<wait_waiter*>(w);
        if (self->armed())
            waiter.m_sched->cancel_timer(*self);
        self->unwatch_all();
        waiter.m_must_cancel = true;
        waiter.wake();
    }

    std::vector<task_header*> m_tasks;
    return_when m_when;
    std::optional<scheduler::time_point> m_deadline;
    task_header* m_waiter = nullptr;
    std::size_t m_done = 0;
    bool m_satisfied = false;
    static constexpr wait_kind s_wait_kind{&on_cancel, "wait"};
};

} // namespace detail

/// Waits for the tasks behind `handles` until `when` holds or `timeout` passes, and returns
/// which are done and which are pending (asyncio's wait). It never cancels the tasks, does not
/// retrieve their results, and a timeout is not an error: the late tasks are simply pending.
///
/// Cancellation: throws cancelled_error; the tasks go on running.
/// Errors: std::bad_alloc.
///
/// Example:
/// @code
/// auto [done, pending] = co_await corio::wait(handles, corio::return_when::first_completed);
/// @endcode
template <typename H>
task<wait_result<H>> wait(std::vector<H> handles, return_when when = return_when::all_completed,
                          std::optional<scheduler::duration> timeout = std::nullopt) {
    std::optional<scheduler::time_point> deadline;
    if (timeout)
        deadline = detail::this_task("wait").m_sched->time() + *timeout;
    {
        detail::wait_waiter w(detail::headers_of(handles), when, deadline);
        co_await w;
    }
    wait_result<H> out;
    for (H& h : handles)
        (h.done() ? out.done : out.pending).push_back(std::move(h));
    co_return out;
}

} // namespace corio
